"""Log an opro run as an MLflow run: the spec as parameters and an artifact, each step's scores,
calls, tokens and cost as metrics, the final scores and usage, and the run directory as artifacts.

Everything sent passes through ``secrets.redact`` (it leaves the machine). A failure to reach
MLflow when the run starts stops it before any model call; a failure while it runs is kept as a
warning, so a tracking outage never costs an optimization.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from opro_cli.core.events import Event, StepDone
from opro_cli.errors import RunDirError
from opro_cli.rundir import SPLITS, Summary
from opro_cli.secrets import redact, redact_tree
from opro_cli.spec import MlflowSpec, RunSpec
from opro_cli.tracking import import_mlflow

MAX_PARAM_CHARS = 500
TAG_RUN_DIR = "opro.run_dir"
TAG_STATUS = "opro.status"


class MlflowRun:
    """One MLflow run for one opro run. Call it with events (a listener), then ``finish`` with
    the summary, or ``fail`` when the run stopped."""

    def __init__(self, settings: MlflowSpec, spec: RunSpec) -> None:
        mlflow = import_mlflow()
        self._errors: tuple[type[BaseException], ...] = (mlflow.exceptions.MlflowException, OSError)
        self.warnings: list[str] = []
        try:
            self._client = mlflow.MlflowClient(tracking_uri=settings.tracking_uri)
            experiment = self._client.get_experiment_by_name(settings.experiment)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else self._client.create_experiment(settings.experiment)
            )
            run = self._client.create_run(
                experiment_id, run_name=spec.name, tags={"opro.spec_name": spec.name}
            )
            self.run_id: str = run.info.run_id
            params = [mlflow.entities.Param(k, v) for k, v in spec_params(spec)]
            for start in range(0, len(params), 100):  # MLflow takes 100 params per batch
                self._client.log_batch(self.run_id, params=params[start : start + 100])
            self._client.log_text(self.run_id, spec_text(spec), "spec.yaml")
        except self._errors as exc:
            raise RunDirError(
                f"tracking.mlflow: cannot start an MLflow run in experiment "
                f"'{settings.experiment}' ({redact(str(exc)).splitlines()[0]})",
                hint="check tracking_uri / MLFLOW_TRACKING_URI (a server, or a local store), "
                "or run without MLflow tracking",
            ) from None

    def __call__(self, event: Event) -> None:
        if isinstance(event, StepDone):
            record = event.record
            metrics = {
                "train_best": record.best_score,
                "train_mean": record.mean_score,
                "new_candidates": record.new_candidates,
                "calls": record.calls,
                "failed_calls": record.failed_calls,
                "tokens": record.tokens,
                "cost_usd": record.cost_usd,
            }
            self._log_metrics(metrics, step=record.step)

    def finish(self, summary: Summary, run_dir: Path) -> None:
        best, seed = summary.best, summary.best_seed
        final: dict[str, float | int | None] = {
            **{f"best_{split}": best.score(split) for split in SPLITS},
            **{f"seed_{split}": seed.score(split) for split in SPLITS},
            "steps_completed": summary.steps_completed,
            "candidates": summary.candidates,
            "total_calls": summary.usage.calls,
            "total_tokens": summary.usage.tokens,
            "total_cost_usd": summary.usage.cost_usd,
            "duration_s": summary.duration_s,
        }
        if summary.improvement is not None:
            imp = summary.improvement
            final |= {"test_delta": imp.test_delta, "ci_low": imp.ci_low, "ci_high": imp.ci_high}
            final |= {"p_value": imp.p_value}
        self._log_metrics(final, step=summary.steps_completed)
        self._end(run_dir, summary.status, "FINISHED", {"opro.best_prompt_id": best.id or ""})

    def fail(self, status: str, run_dir: Path | None) -> None:
        mlflow_status = "KILLED" if status == "interrupted" else "FAILED"
        self._end(run_dir, status, mlflow_status, {})

    def _end(
        self, run_dir: Path | None, status: str, mlflow_status: str, tags: dict[str, str]
    ) -> None:
        def end() -> None:
            for key, value in {TAG_STATUS: status, **tags}.items():
                self._client.set_tag(self.run_id, key, redact(value))
            if run_dir is not None:
                self._client.set_tag(self.run_id, TAG_RUN_DIR, str(run_dir.resolve()))
                self._client.log_artifacts(self.run_id, str(run_dir), "run")
            self._client.set_terminated(self.run_id, status=mlflow_status)

        self._guard(end, "end the MLflow run")

    def _log_metrics(self, values: dict[str, Any], *, step: int) -> None:
        known = {k: float(v) for k, v in values.items() if v is not None}

        def log() -> None:
            import mlflow

            metrics = [mlflow.entities.Metric(k, v, _now_ms(), step) for k, v in known.items()]
            self._client.log_batch(self.run_id, metrics=metrics)

        self._guard(log, f"log step {step}")

    def _guard(self, action: Any, what: str) -> None:
        try:
            action()
        except self._errors as exc:
            self.warnings.append(f"MLflow: could not {what} ({redact(str(exc)).splitlines()[0]})")


def _now_ms() -> int:
    import time

    return int(time.time() * 1000)


def spec_params(spec: RunSpec) -> list[tuple[str, str]]:
    """The spec's values as MLflow parameters (dotted keys; long texts cut, the whole spec is
    the ``spec.yaml`` artifact)."""
    data = redact_tree(spec.model_dump(mode="json"))
    out = []
    for key, value in _flatten(data, ""):
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > MAX_PARAM_CHARS:
            text = text[: MAX_PARAM_CHARS - 3] + "..."
        out.append((key, text))
    return out


def _flatten(value: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _flatten(item, f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def spec_text(spec: RunSpec) -> str:
    return yaml.safe_dump(
        redact_tree(spec.model_dump(mode="json")), sort_keys=False, allow_unicode=True
    )
