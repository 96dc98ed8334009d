"""``opro export RUN --to mlflow``: register a finished run's winning prompt in MLflow's Prompt
Registry, as the scorer saw it (the example as ``{{input}}``), with its scores, the opro run and
the MLflow run that tracked it (if any) as tags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opro_cli.core.placement import scorer_messages
from opro_cli.errors import RunDirError
from opro_cli.rundir import SPLITS
from opro_cli.secrets import redact
from opro_cli.tracking import import_mlflow
from opro_cli.tracking.mlflow_run import TAG_RUN_DIR


@dataclass(frozen=True)
class RegisteredPrompt:
    name: str
    version: int
    mlflow_run_id: str | None

    @property
    def uri(self) -> str:
        return f"prompts:/{self.name}/{self.version}"


def register_winner(
    run_dir: Path, *, name: str | None = None, tracking_uri: str | None = None
) -> RegisteredPrompt:
    """Register the winner of the finished run in ``run_dir`` as a new version of the prompt
    ``name`` (default: the spec's name). ``tracking_uri``: default the run's own
    ``tracking.mlflow.tracking_uri``, else MLflow's (``MLFLOW_TRACKING_URI``)."""
    from opro_cli.export import load_finished_run

    manifest, summary, spec = load_finished_run(run_dir)
    mlflow = import_mlflow()
    settings = spec.tracking.mlflow
    uri = (
        tracking_uri if tracking_uri is not None else (settings.tracking_uri if settings else None)
    )
    best, seed = summary.best, summary.best_seed
    tags = {
        "opro.run_id": run_dir.resolve().name,
        "opro.run_dir": str(run_dir.resolve()),
        "opro.prompt_id": best.id or "",
        "opro.instruction_position": spec.scorer.instruction_position,
        "opro.scorer": spec.scorer.model,
        "opro.metric": spec.metric.name,
        "opro.status": manifest.status,
        **{f"opro.{split}_score": _number(best.score(split)) for split in SPLITS},
        "opro.seed_test_score": _number(seed.score("test")),
    }
    if summary.improvement is not None:
        imp = summary.improvement
        tags |= {
            "opro.test_delta": _number(imp.test_delta),
            "opro.ci_low": _number(imp.ci_low),
            "opro.ci_high": _number(imp.ci_high),
        }
    errors = (mlflow.exceptions.MlflowException, OSError)
    try:
        client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
        tracked = _tracked_run(client, run_dir)
        if tracked is not None:
            tags["opro.mlflow_run_id"] = tracked
        version = client.register_prompt(
            name=name if name is not None else spec.name,
            template=_template(best.text, spec.scorer.instruction_position),
            commit_message=redact(f"opro run {run_dir.resolve().name}: winner of {spec.name}"),
            tags={k: redact(v) for k, v in tags.items()},
        )
        if tracked is not None:
            client.link_prompt_version_to_run(tracked, version)
    except errors as exc:
        raise RunDirError(
            f"{run_dir}: cannot register the prompt in MLflow ({redact(str(exc)).splitlines()[0]})",
            hint="check --mlflow-uri / MLFLOW_TRACKING_URI; a local store needs "
            "MLFLOW_ALLOW_FILE_STORE=true (file:) or the full mlflow package (sqlite:)",
        ) from None
    return RegisteredPrompt(version.name, int(version.version), tracked)


def _template(instruction: str, position: Any) -> str | list[dict[str, str]]:
    """The prompt as the scorer saw it: one text, or chat messages when there are several."""
    messages = [dict(m) for m in scorer_messages(redact(instruction), "{{input}}", position)]
    if len(messages) == 1:
        return messages[0]["content"]
    return messages


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _tracked_run(client: Any, run_dir: Path) -> str | None:
    """The MLflow run that logged this opro run (``MlflowRun`` tags it with the run directory)."""
    experiments = [e.experiment_id for e in client.search_experiments()]
    if not experiments:
        return None
    path = str(run_dir.resolve()).replace("'", "\\'")
    runs = client.search_runs(experiments, filter_string=f"tags.`{TAG_RUN_DIR}` = '{path}'")
    return str(runs[0].info.run_id) if runs else None
