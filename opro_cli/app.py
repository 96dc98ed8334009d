"""Wire a run together: spec -> dataset -> metric -> client -> optimizer -> run directory."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opro_cli.core.events import Listener
from opro_cli.core.optimizer import Metric, Optimizer, outcome_summary
from opro_cli.data import Splits, load_splits
from opro_cli.errors import MetricError, OproError, RunInterrupted
from opro_cli.metrics import build_metric
from opro_cli.models.base import ModelClient
from opro_cli.spec import RunSpec, load_spec
from opro_cli.store import RunStore


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
    return _optimizer(prepared, client=_NoClient()).planned_calls()


def execute(
    prepared: Prepared,
    *,
    runs_dir: Path,
    client: ModelClient,
    listeners: Sequence[Listener] = (),
) -> Finished:
    """Run the optimization, writing the run directory as it goes.

    The run directory is marked ``failed`` or ``interrupted`` on the way out of any failure, so
    no half-written run ever looks finished.
    """
    optimizer = _optimizer(prepared, client=client)
    store = RunStore.create(
        runs_dir, prepared.spec, prepared.splits, planned_calls=optimizer.planned_calls()
    )
    optimizer.listeners = [store, *listeners]
    started = time.monotonic()
    try:
        outcome = asyncio.run(optimizer.run())
    except KeyboardInterrupt:
        store.finish("interrupted", "stopped by Ctrl-C")
        raise RunInterrupted(
            f"interrupted; everything done so far is in {store.path}",
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


def _optimizer(prepared: Prepared, *, client: ModelClient) -> Optimizer:
    return Optimizer(prepared.spec, prepared.splits, client, prepared.metric)


class _NoClient:
    async def complete(self, messages: Any, params: Any) -> Any:
        raise AssertionError("planning makes no model calls")
