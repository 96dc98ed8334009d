"""Wire a run together: spec -> dataset -> metric -> client -> optimizer -> run directory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from opro_cli.core.events import Evaluation, Listener
from opro_cli.core.optimizer import Metric, Optimizer, Prior, outcome_summary
from opro_cli.data import Splits, load_splits
from opro_cli.errors import MetricError, OproError, RunDirError, RunInterrupted
from opro_cli.metrics import build_metric
from opro_cli.models.base import ModelClient
from opro_cli.spec import RunSpec, load_spec, parse_spec
from opro_cli.store import RunStore, read_jsonl, read_manifest

FINISHED_STATUSES = ("completed", "budget_exhausted")


@dataclass(frozen=True)
class Prepared:
    """Everything a run needs that can be checked without calling a model."""

    spec: RunSpec
    splits: Splits
    metric: Metric


@dataclass(frozen=True)
class Finished:
    run_dir: Path
    summary: dict[str, Any]


def prepare(spec_path: Path) -> Prepared:
    spec = load_spec(spec_path)
    splits = load_splits(spec.dataset)
    metric = build_metric(spec.metric)
    check_metric(metric, splits)
    return Prepared(spec, splits, metric)


def check_metric(metric: Metric, splits: Splits) -> None:
    """Call the metric once on a known answer, so a broken one fails before any model call."""
    example = splits.train[0]
    score = metric(example.target, example.target, example.options)
    if score != 1.0:
        raise MetricError(
            f"metric scores the target of example '{example.id}' against itself as {score:g}, "
            "not 1",
            hint="check the metric's options (pattern, choices) against the dataset's targets",
        )


def planned_calls(prepared: Prepared) -> dict[str, int]:
    return Optimizer(prepared.spec, prepared.splits, _NoClient(), prepared.metric).planned_calls()


def prepare_resume(run_dir: Path) -> tuple[Prepared, Prior]:
    """Re-read an unfinished run: its resolved spec, the same data, and what it already did."""
    manifest = read_manifest(run_dir)
    status = manifest.get("status")
    if status in FINISHED_STATUSES:
        raise RunDirError(
            f"{run_dir}: the run is already {status}", hint="start a new one with opro run SPEC"
        )
    config = run_dir / "config.yaml"
    try:
        text = config.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunDirError(f"{config}: cannot read ({exc.strerror})") from None
    spec = parse_spec(text, source=str(config))
    splits = load_splits(spec.dataset)
    if splits.sha256 != manifest.get("dataset", {}).get("sha256"):
        raise RunDirError(
            f"{spec.dataset.path or 'dataset'}: changed since the run started (sha256 differs)",
            hint="restore the original data, or start a new run",
        )
    metric = build_metric(spec.metric)
    check_metric(metric, splits)
    return Prepared(spec, splits, metric), load_prior(run_dir)


def load_prior(run_dir: Path) -> Prior:
    known = {f.name for f in fields(Evaluation)}
    records, _ = read_jsonl(run_dir / "evaluations.jsonl")
    evaluations = {}
    for record in records:
        evaluation = Evaluation(**{k: v for k, v in record.items() if k in known})
        evaluations[(evaluation.candidate_id, evaluation.split, evaluation.example_id)] = evaluation
    samples = {}
    metas, _ = read_jsonl(run_dir / "meta_prompts.jsonl")
    for meta in metas:
        for sample in meta.get("samples", []):
            if sample.get("output") is not None:
                samples[(int(meta["step"]), int(sample["index"]))] = sample
    return Prior(evaluations=evaluations, samples=samples)


def execute(
    prepared: Prepared,
    *,
    runs_dir: Path | None = None,
    resume_dir: Path | None = None,
    prior: Prior | None = None,
    client: ModelClient,
    listeners: Sequence[Listener] = (),
) -> Finished:
    """Run the optimization (or continue the one in ``resume_dir``), writing the run directory
    as it goes.

    The run directory is marked ``failed`` or ``interrupted`` on the way out of any failure, so
    no half-written run ever looks finished.
    """
    optimizer = Optimizer(prepared.spec, prepared.splits, client, prepared.metric, prior=prior)
    if resume_dir is not None:
        store = RunStore.reopen(resume_dir)
    else:
        store = RunStore.create(
            runs_dir if runs_dir is not None else Path("runs"),
            prepared.spec,
            prepared.splits,
            planned_calls=optimizer.planned_calls(),
        )
    optimizer.listeners = [store, *listeners]
    started = time.monotonic()
    try:
        outcome = asyncio.run(optimizer.run())
    except KeyboardInterrupt:
        store.finish("interrupted", "stopped by Ctrl-C")
        raise RunInterrupted(
            f"interrupted; everything done so far is in {store.path}",
            hint=f"continue with: opro resume {store.path}",
        ) from None
    except OproError as exc:
        store.finish("failed", f"{type(exc).__name__}: {exc}")
        exc.run_dir = store.path  # type: ignore[attr-defined]
        raise
    except BaseException as exc:
        store.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    summary = outcome_summary(outcome)
    summary["duration_s"] = round(time.monotonic() - started, 3)
    written = store.complete(summary, outcome.winner.candidate.text)
    return Finished(store.path, written)


class _NoClient:
    async def complete(self, messages: Any, params: Any) -> Any:
        raise AssertionError("planning makes no model calls")
