"""Hardening: one writer per run, permanent errors stop the run, a full disk, hostile specs,
one file mode for every run file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import fakes
import pytest
from openai_server import OpenAIServer, error_body, scripted, status
from typer.testing import CliRunner

from opro_cli import rundir, store
from opro_cli.cli import app
from opro_cli.store import RunLock

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args))


def interrupted_copy(run: Path) -> Path:
    """The run as an interrupted run looks: no summary, status interrupted, last steps gone."""
    (run / rundir.SUMMARY).unlink()
    (run / rundir.BEST_PROMPT).unlink()
    manifest = json.loads((run / rundir.MANIFEST).read_text())
    manifest.update(status="interrupted", reason="stopped by Ctrl-C", ended_at=None)
    (run / rundir.MANIFEST).write_text(json.dumps(manifest))
    lines = (run / rundir.EVALUATIONS).read_text().splitlines(keepends=True)
    (run / rundir.EVALUATIONS).write_text("".join(lines[:50]))
    return run


def test_resuming_a_run_that_another_process_writes_is_refused(finished: Path) -> None:
    run = interrupted_copy(finished)
    before = (run / rundir.EVALUATIONS).read_text()
    lock = RunLock.acquire(run)  # as the process writing the run holds it
    try:
        result = invoke("resume", str(run), "--quiet", "--no-cache")
    finally:
        lock.release()
    assert result.exit_code == 2, result.output
    assert f"{run}: the run is in progress (pid {os.getpid()} is writing it)" in result.output
    assert "wait for it to finish, or stop it (Ctrl-C) before resuming it" in result.output
    # nothing was touched: the live run's files are as it left them
    assert (run / rundir.EVALUATIONS).read_text() == before
    assert json.loads((run / rundir.MANIFEST).read_text())["status"] == "interrupted"
    # once the lock is free, the resume proceeds
    result = invoke("resume", str(run), "--quiet", "--no-cache")
    assert result.exit_code == 0, result.output
    assert json.loads((run / rundir.MANIFEST).read_text())["status"] == "completed"


def test_two_runs_started_in_the_same_second_get_two_folders(
    parity_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed = store.utc_now()
    monkeypatch.setattr(store, "utc_now", lambda: fixed)
    spec = str(parity_project())
    for _ in range(2):
        assert invoke("run", spec, "--quiet", "--no-cache").exit_code == 0
    names = sorted(p.name for p in (tmp_path / "runs").iterdir())
    stamp = fixed.strftime("%Y%m%dT%H%M%SZ")
    assert names == [f"{stamp}-parity", f"{stamp}-parity-2"]


def test_a_permanent_error_on_every_call_stops_the_run_with_exit_3(
    parity_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-hardening-0a1b2c3d4e5f")
    refusal = error_body("Unsupported parameter: 'max_tokens'", "invalid_request_error", None)
    with OpenAIServer(default=status(400, refusal)) as server:
        model = {"api_base": server.base_url, "max_retries": 0}
        spec = parity_project(
            scorer={"model": "openai/scorer", **model},
            optimizer={"model": "openai/optimizer", **model},
        )
        result = invoke("run", str(spec), "--no-cache")
        calls = len(server.requests)
    assert result.exit_code == 3, result.output
    assert "25 calls in a row failed; the last: openai/" in result.output, result.output
    assert "Unsupported parameter: 'max_tokens'" in result.output
    assert "the provider refuses every request" in result.output
    assert 25 <= calls <= 25 + 4  # it stopped once the streak was long enough (4 in flight)
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / rundir.MANIFEST).read_text())["status"] == "failed"


def test_a_few_permanent_errors_among_answers_do_not_stop_the_run(
    parity_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-hardening-0a1b2c3d4e5f")
    scripts = {"scorer": fakes.parity_scorer, "optimizer": fakes.proposer}
    refusal = status(400, error_body("bad request", "invalid_request_error", None))
    answered = 0

    def every_tenth_refused(request):
        nonlocal answered
        answered += 1
        return refusal if answered % 10 == 0 else scripted(scripts, request)

    with OpenAIServer() as server:
        server.responder = every_tenth_refused
        model = {"api_base": server.base_url, "max_retries": 0}
        spec = parity_project(
            scorer={"model": "openai/scorer", **model},
            optimizer={"model": "openai/optimizer", **model},
        )
        result = invoke("run", str(spec), "--no-cache", "--quiet")
    assert result.exit_code == 0, result.output


def test_a_full_disk_is_exit_2_and_the_run_is_marked_failed(
    parity_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = 0
    real_line = store.RunStore._line

    def line_then_full(self, name, record):
        nonlocal written
        written += 1
        if written > 40:
            raise OSError(28, "No space left on device")
        real_line(self, name, record)

    monkeypatch.setattr(store.RunStore, "_line", line_then_full)
    result = invoke("run", str(parity_project()), "--no-cache", "--quiet")
    assert result.exit_code == 2, result.output
    (run,) = (tmp_path / "runs").iterdir()
    where = run.relative_to(tmp_path)
    assert f"{where}: cannot write the run directory (No space left on device)" in result.output
    assert f"opro resume {where}" in result.output
    manifest = json.loads((run / rundir.MANIFEST).read_text())
    assert manifest["status"] == "failed"
    assert "No space left on device" in manifest["reason"]


def test_every_run_file_has_the_same_mode(finished: Path) -> None:
    modes = {
        p.name: stat.S_IMODE(p.stat().st_mode)
        for p in finished.iterdir()
        if p.is_file() and p.name != rundir.LOCK
    }
    assert len(set(modes.values())) == 1, modes
    assert set(modes.values()) == {store.FILE_MODE}


def test_a_yaml_alias_bomb_is_refused_before_anything_is_written(
    parity_project, tmp_path: Path
) -> None:
    spec = parity_project()
    levels = ['    a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for index, name in enumerate("bcdef"):
        previous = "abcdef"[index]
        levels.append(f"    {name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    text = spec.read_text().replace(
        "scorer:\n", "scorer:\n  extra:\n" + "\n".join(levels) + "\n", 1
    )
    spec.write_text(text)
    for command in ("validate", "run"):
        result = invoke(command, str(spec))
        assert result.exit_code == 2, result.output
        assert "expands to more than 20,000 values (YAML aliases" in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_two_resumes_at_once_one_proceeds_and_the_other_is_refused(
    parity_project, test_models, tmp_path: Path
) -> None:
    import subprocess
    import sys

    result = invoke("run", str(parity_project(scorer={"model": "openai/slow-parity"})), "--quiet")
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    interrupted_copy(run)
    command = [sys.executable, "-m", "opro_cli", "resume", str(run), "--quiet", "--no-cache"]
    both = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    # communicate() reads and closes both pipes: no unclosed file is left for the next test
    errors = [p.communicate(timeout=120)[1] for p in both]
    outcomes = sorted((p.returncode, err) for p, err in zip(both, errors, strict=True))
    assert [code for code, _ in outcomes] == [0, 2], outcomes
    # refused while the other writes it, or (if it started late) because it is finished now
    assert "the run is in progress" in outcomes[1][1] or "already completed" in outcomes[1][1]
    assert json.loads((run / rundir.MANIFEST).read_text())["status"] == "completed"
    keys = [
        (e["candidate_id"], e["split"], e["example_id"])
        for e in map(json.loads, (run / rundir.EVALUATIONS).read_text().splitlines())
    ]
    assert len(keys) == len(set(keys))  # no call was made twice
