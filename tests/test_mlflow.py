"""MLflow: a run logged as an MLflow run (spec, per-step scores, usage, the run directory), its
winner registered in the Prompt Registry and loaded back; all against a local file store, no
server. Skipped where mlflow is not installed (the ``[mlflow]`` extra), except the message that
says how to install it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opro_cli import optimize, rundir
from opro_cli.cli import app
from opro_cli.core.events import Event, StepDone
from opro_cli.errors import UsageError
from opro_cli.tracking import import_mlflow

runner = CliRunner()
WINNER = "Label the parity carefully in one word."


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_without_mlflow_the_message_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    with pytest.raises(UsageError) as info:
        import_mlflow()
    assert info.value.message == "MLflow tracking needs the mlflow package"
    assert "opro-cli[mlflow]" in (info.value.hint or "")


def test_run_with_mlflow_and_no_mlflow_exits_2_before_any_call(parity_project, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    result = invoke("run", str(parity_project()), "--mlflow")
    assert result.exit_code == 2
    assert "MLflow tracking needs the mlflow package" in result.output
    assert not Path("runs").exists()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A local MLflow file store (MLflow 3 asks for MLFLOW_ALLOW_FILE_STORE to use one)."""
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


def test_a_run_is_logged_and_its_winner_registered_and_loaded_back(
    parity_project, store: str
) -> None:
    import mlflow

    spec = parity_project()
    result = invoke("run", str(spec), "--mlflow", "--runs-dir", "runs")
    assert result.exit_code == 0, result.output
    (run_dir,) = Path("runs").iterdir()
    summary = rundir.read_summary(run_dir)
    client = mlflow.MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("parity")  # --mlflow: named after the spec
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert f"logged to MLflow: run {run.info.run_id}" in result.output
    assert run.info.status == "FINISHED"
    assert run.data.params["scorer.model"] == "openai/parity"
    assert run.data.params["budget.steps"] == "3"
    assert run.data.tags["opro.run_dir"] == str(run_dir.resolve())
    assert run.data.tags["opro.status"] == "completed"
    history = client.get_metric_history(run.info.run_id, "train_best")
    assert [m.step for m in history] == [0, 1, 2, 3]
    assert history[-1].value == 1.0
    assert run.data.metrics["best_test"] == summary.best.test == 1.0
    assert run.data.metrics["total_calls"] == summary.usage.calls
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert artifacts == {"spec.yaml", "run"}
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "run")}
    assert {"run/summary.json", "run/config.yaml", "run/steps.jsonl"} <= logged

    exported = invoke("export", str(run_dir), "--to", "mlflow")
    assert exported.exit_code == 0, exported.output
    assert exported.output.startswith("registered prompts:/parity/1 (prompt parity, version 1")
    assert f"linked to MLflow run {run.info.run_id}" in exported.output
    prompt = mlflow.genai.load_prompt("prompts:/parity/1")
    assert prompt.template == f"{WINNER}\n{{{{input}}}}"  # q_begin: the instruction, then input
    assert prompt.format(input="item 4") == f"{WINNER}\nitem 4"
    assert prompt.tags["opro.test_score"] == "1"
    assert prompt.tags["opro.seed_test_score"] == "0"
    assert prompt.tags["opro.run_id"] == run_dir.name
    assert prompt.tags["opro.mlflow_run_id"] == run.info.run_id
    again = invoke("export", str(run_dir), "--to", "mlflow", "--name", "parity-labels")
    assert again.output.startswith("registered prompts:/parity-labels/1")


def test_the_spec_names_the_experiment_and_a_system_prompt_is_a_chat_template(
    parity_project, store: str, tmp_path: Path
) -> None:
    import mlflow

    spec = parity_project(
        tracking={"mlflow": {"experiment": "team-a", "tracking_uri": store}},
        scorer={"instruction_position": "system"},
    )
    summary = optimize(spec)
    client = mlflow.MlflowClient(tracking_uri=store)
    assert client.get_experiment_by_name("team-a") is not None
    assert summary.run_dir is not None
    invoke("export", summary.run_dir, "--to", "mlflow", "--mlflow-uri", store)
    prompt = mlflow.genai.load_prompt("prompts:/parity/1")
    assert json.loads(json.dumps(prompt.template)) == [
        {"role": "system", "content": WINNER},
        {"role": "user", "content": "{{input}}"},
    ]


def test_a_failed_run_is_marked_failed_with_what_it_wrote(parity_project, store: str) -> None:
    import mlflow

    class Stop(Exception):
        pass

    def stop(event: Event) -> None:
        if isinstance(event, StepDone) and event.record.step == 1:
            raise Stop

    with pytest.raises(Stop):
        optimize(parity_project(), mlflow=True, listeners=[stop])
    client = mlflow.MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name("parity")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["opro.status"] == "failed"


def test_an_unreachable_tracking_store_stops_before_any_call(
    parity_project, store: str, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    spec = parity_project(
        tracking={"mlflow": {"experiment": "x", "tracking_uri": blocker.as_uri()}}
    )
    result = invoke("run", str(spec))
    assert result.exit_code == 2
    assert "tracking.mlflow: cannot start an MLflow run in experiment 'x'" in result.output
    assert not Path("runs").exists()


def test_export_to_mlflow_refuses_output_and_stray_options(parity_project) -> None:
    result = invoke("export", "somewhere", "--name", "x")
    assert result.exit_code == 2
    assert "--name and --mlflow-uri go with --to mlflow" in result.output
    result = invoke("export", "somewhere", "--to", "mlflow", "-o", "x.txt")
    assert result.exit_code == 2
    assert "--output does not go with --to mlflow" in result.output
