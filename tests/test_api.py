"""The Python API: ``optimize`` and ``resume`` run what ``opro run`` runs and return the typed
summary; ``load_spec`` reads a spec with overrides; the package's names load lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import opro_cli
from opro_cli import OproError, RunSpec, Summary, load_spec, optimize, resume, rundir
from opro_cli.cli import app
from opro_cli.core.events import Event, StepDone
from opro_cli.errors import SpecError, UsageError


def test_optimize_a_spec_file_returns_the_summary_and_writes_the_run(
    parity_project, tmp_path: Path
) -> None:
    events: list[Event] = []
    summary = optimize(parity_project(), runs_dir=tmp_path / "out", listeners=[events.append])
    assert isinstance(summary, Summary)
    assert summary.status == "completed"
    assert summary.best.text == "Label the parity carefully in one word."
    assert summary.best.test == 1.0
    assert summary.run_dir is not None
    run_dir = Path(summary.run_dir)
    assert run_dir.parent == tmp_path / "out"
    assert rundir.read_summary(run_dir) == summary
    assert [e.record.step for e in events if isinstance(e, StepDone)] == [0, 1, 2, 3]


def test_optimize_with_overrides_and_without_cache(parity_project, tmp_path: Path) -> None:
    summary = optimize(parity_project(), overrides=["budget.steps=1"], cache=False)
    assert summary.steps_completed == 1
    assert not (tmp_path / "cache").exists()
    assert summary.run_dir is not None
    assert Path(summary.run_dir).resolve().parent == tmp_path / "runs"


def test_optimize_a_runspec_built_in_code(parity_project, tmp_path: Path) -> None:
    spec = load_spec(parity_project(), overrides=["budget.steps=1"])
    assert isinstance(spec, RunSpec)
    data = spec.model_dump(mode="json")
    data["dataset"]["path"] = "data.jsonl"  # relative: taken from the working folder
    summary = optimize(RunSpec.model_validate(data), runs_dir=tmp_path / "r")
    assert summary.steps_completed == 1
    with pytest.raises(UsageError, match="overrides apply to spec files"):
        optimize(spec, overrides=["seed=1"])


def test_the_runs_dir_defaults_to_opro_runs_dir(parity_project, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPRO_RUNS_DIR", str(tmp_path / "elsewhere"))
    summary = optimize(parity_project(budget={"steps": 0}))
    assert summary.run_dir is not None
    assert Path(summary.run_dir).parent == tmp_path / "elsewhere"
    listing = CliRunner().invoke(app, ["report"], catch_exceptions=False)
    assert listing.exit_code == 0, listing.output
    assert Path(summary.run_dir).name in listing.output.replace("\n", "")


def test_errors_are_opro_errors_with_the_cli_message(parity_project) -> None:
    with pytest.raises(SpecError) as info:
        optimize(parity_project(budget={"stepz": 1}))
    assert isinstance(info.value, OproError)
    assert "budget.stepz: unknown key -> did you mean 'steps'?" in info.value.message


def test_resume_continues_an_interrupted_run(parity_project, tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    def stop_after_step_one(event: Event) -> None:
        if isinstance(event, StepDone) and event.record.step == 1:
            raise Stop

    spec = parity_project()
    with pytest.raises(Stop):
        optimize(spec, listeners=[stop_after_step_one], cache=False)
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert rundir.read_manifest(run_dir).status == "failed"
    summary = resume(run_dir, cache=False)
    assert summary.status == "completed"
    assert summary.best.text == "Label the parity carefully in one word."


def test_the_package_loads_its_api_lazily() -> None:
    code = (
        "import sys, opro_cli; "
        "print('opro_cli.app' in sys.modules, 'pydantic' in sys.modules); "
        "opro_cli.optimize; print('opro_cli.app' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False", "True"]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        opro_cli.nothing  # noqa: B018
