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
from opro_cli.interrupts import ctrl_c_ignored
from opro_cli.jsonl import read_jsonl
from opro_cli.metrics import build_metric
from opro_cli.models.base import ModelClient
from opro_cli.spec import RunSpec, load_spec, parse_spec
from opro_cli.store import RunStore, read_manifest

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
    check_metric(metric, splits, source=str(spec_path))
    return Prepared(spec, splits, metric)


def check_metric(metric: Metric, splits: Splits, *, source: str = "spec") -> None:
    """Score a known right answer and two wrong ones (an empty answer, another example's
    target), so a metric that is wrong, raises or returns nonsense fails before any model call.
    """
    example = splits.train[0]
    other = next((e.target for e in splits.train if e.target != example.target), None)
    for answer in (example.target, "", other):
        if answer is None:
            continue
        try:
            score = metric(answer, example.target, example.options)
        except MetricError as exc:
            wrong = "" if answer == example.target else " (it must score wrong answers too)"
            raise MetricError(
                f"{exc.message}\n{source}: metric: failed on the answer {_short(answer)} for "
                f"example '{example.id}' (target {_short(example.target)}){wrong}",
                hint=exc.hint,
            ) from None
        if answer == example.target and score != 1.0:
            raise MetricError(
                f"{source}: metric: {_metric_name(metric)} scores the target of example "
                f"'{example.id}' ({_short(example.target)}) against itself as {score:g}, not 1",
                hint="check the metric's options (pattern, choices) against the dataset's targets",
            )


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _metric_name(metric: Metric) -> str:
    return getattr(metric, "__name__", "the metric")


def planned_calls(prepared: Prepared) -> dict[str, int]:
    return Optimizer(prepared.spec, prepared.splits, _NoClient(), prepared.metric).planned_calls()


# Assumptions of the cost estimate (rough on purpose: it is shown as "about")
CHARS_PER_TOKEN = 4  # a rough average for English text
MESSAGE_TOKENS = 8  # role markers and formatting around each call's messages
INSTRUCTION_CHARS = 150  # a typical proposed instruction (longer seeds count as they are)
META_PROMPT_CHARS = 700  # the meta-prompt's fixed wording
HISTORY_ENTRY_CHARS = 20  # "text:" and "score:" around each instruction in the history
EXEMPLAR_CHARS = 60  # the wording around each exemplar's input and target
ANSWER_TOKENS_UNCAPPED = 256  # assumed answer length where max_tokens is not set


@dataclass(frozen=True)
class PlannedCost:
    """A rough price of every planned call, with answers as long as ``max_tokens`` allows.

    Prompt sizes are estimated from the characters of the data, the seed prompts and the task.
    A model's cost is None when litellm has no price for it.
    """

    scorer_usd: float | None
    optimizer_usd: float | None
    scorer_tokens: int
    optimizer_tokens: int
    unpriced: tuple[str, ...]

    @property
    def total_usd(self) -> float | None:
        if self.scorer_usd is None or self.optimizer_usd is None:
            return None
        return self.scorer_usd + self.optimizer_usd


def planned_cost(prepared: Prepared) -> PlannedCost:
    from opro_cli.models.litellm_client import estimate_cost

    s, splits = prepared.spec, prepared.splits
    plan = planned_calls(prepared)
    optimizer_calls = s.budget.steps * s.optimizer.candidates_per_step
    scorer_calls = sum(plan.values()) - optimizer_calls
    examples = [*splits.train, *splits.val, *splits.test]
    avg_input = sum(len(e.input) for e in examples) / len(examples)
    avg_target = sum(len(e.target) for e in examples) / len(examples)
    seed_chars = max(len(text) for text in s.seed_prompts)
    instruction = min(s.optimizer.max_instruction_chars, max(seed_chars, INSTRUCTION_CHARS))
    history = min(s.optimizer.history_size, len(s.seed_prompts) + optimizer_calls)
    meta_chars = (
        META_PROMPT_CHARS
        + len(s.task)
        + history * (instruction + HISTORY_ENTRY_CHARS)
        + s.optimizer.exemplars * (avg_input + avg_target + EXEMPLAR_CHARS)
    )

    def answer(max_tokens: int | None) -> int:
        return max_tokens if max_tokens is not None else ANSWER_TOKENS_UNCAPPED

    scorer = (
        scorer_calls * _tokens(instruction + avg_input),
        scorer_calls * answer(s.scorer.max_tokens),
    )
    optimizer = (
        optimizer_calls * _tokens(meta_chars),
        optimizer_calls * answer(s.optimizer.max_tokens),
    )
    scorer_usd = estimate_cost(s.scorer.model, *scorer) if scorer_calls else 0.0
    optimizer_usd = estimate_cost(s.optimizer.model, *optimizer) if optimizer_calls else 0.0
    unpriced = [
        model
        for model, usd in ((s.scorer.model, scorer_usd), (s.optimizer.model, optimizer_usd))
        if usd is None
    ]
    return PlannedCost(
        scorer_usd,
        optimizer_usd,
        sum(scorer),
        sum(optimizer),
        tuple(dict.fromkeys(unpriced)),
    )


def _tokens(chars: float) -> int:
    return MESSAGE_TOKENS + int(-(-chars // CHARS_PER_TOKEN))


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
    check_metric(metric, splits, source=str(config))
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
    planned: PlannedCost | None = None,
) -> Finished:
    """Run the optimization (or continue the one in ``resume_dir``), writing the run directory
    as it goes. ``planned`` is the cost estimate the caller already made, if it made one.

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
            planned_cost_usd=(planned or planned_cost(prepared)).total_usd,
        )
    optimizer.listeners = [store, *listeners]
    started = time.monotonic()
    try:
        outcome = asyncio.run(optimizer.run())
    except KeyboardInterrupt:
        with ctrl_c_ignored():  # a further press must not leave the run marked "running"
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
