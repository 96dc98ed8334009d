"""Wire a run together: spec -> dataset -> metric -> client -> optimizer -> run directory."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from opro_cli import rundir
from opro_cli.core.calls import Prior
from opro_cli.core.config import Budget, LoopConfig, Proposals, Racing, Selection
from opro_cli.core.events import Listener
from opro_cli.core.judge import JudgeConfig
from opro_cli.core.optimizer import Optimizer
from opro_cli.core.outcome import outcome_summary
from opro_cli.core.plan import SplitSizes, planned_calls
from opro_cli.core.significance import detectable_gain
from opro_cli.data import Splits, load_splits
from opro_cli.errors import (
    GateError,
    MetricError,
    OproError,
    RunDirError,
    RunInterrupted,
    SpecError,
)
from opro_cli.gates import Gates, gate_failure
from opro_cli.interrupts import Stopped, ctrl_c_ignored, run_until_stopped
from opro_cli.metrics import Metric, build_metric
from opro_cli.models.base import ModelClient
from opro_cli.models.providers import provider_of
from opro_cli.pricing import PlannedCost, planned_cost
from opro_cli.rundir import PromptScores, Summary
from opro_cli.secrets import redact
from opro_cli.spec import RunSpec, SeedFile, load_spec, parse_spec
from opro_cli.spec.seeds import seed_text
from opro_cli.store import RunStore


@dataclass(frozen=True)
class Prepared:
    """Everything a run needs that can be checked without calling a model."""

    spec: RunSpec
    splits: Splits
    metric: Metric

    @property
    def config(self) -> LoopConfig:
        return loop_config(self.spec)

    @property
    def sizes(self) -> SplitSizes:
        return SplitSizes(len(self.splits.train), len(self.splits.val), len(self.splits.test))

    def planned_calls(self) -> dict[str, int]:
        return planned_calls(self.config, self.sizes)

    def planned_cost(self) -> PlannedCost:
        return planned_cost(self.spec, self.splits, self.planned_calls())

    def detectable_gain(self) -> float | None:
        """The smallest gain over the seed the test split detects at 80% power (0/1 metrics:
        assuming the winner loses 5% of the examples the seed gets right)."""
        n = len(self.splits.test)
        if n == 0:
            return None
        return detectable_gain(n, level=self.spec.selection.ci_level)


@dataclass(frozen=True)
class Finished:
    run_dir: Path
    summary: Summary


def loop_config(spec: RunSpec) -> LoopConfig:
    """The loop's own frozen config, mapped from the validated spec in this one place."""
    opt, budget, sel, ev = spec.optimizer, spec.budget, spec.selection, spec.evaluation
    return LoopConfig(
        task=spec.task,
        seed_prompts=spec.seed_texts,
        scorer=spec.scorer.call_params(),
        optimizer=spec.optimizer.call_params(),
        position=spec.scorer.instruction_position,
        scorer_prefill=prefills(spec.scorer.model, spec.scorer.prefill),
        proposals=Proposals(
            candidates_per_step=opt.candidates_per_step,
            history_size=opt.history_size,
            exemplars=opt.exemplars,
            max_instruction_chars=opt.max_instruction_chars,
            score_buckets=opt.score_buckets,
            parse=opt.parse,
            prefill=prefills(opt.model, opt.prefill),
            show_errors=opt.show_errors,
        ),
        budget=Budget(
            steps=budget.steps,
            max_calls=budget.max_calls,
            max_tokens=budget.max_tokens,
            max_cost_usd=budget.max_cost_usd,
            max_minutes=budget.max_minutes,
            patience=budget.patience,
        ),
        selection=Selection(sel.top_k, sel.bootstrap_samples, sel.ci_level),
        racing=Racing(ev.delta, ev.margin) if ev.strategy == "racing" else None,
        binary_scores=spec.metric.name not in GRADED_METRICS,
        labels=spec.metric.choices or (),
        judge=judge_config(spec),
        seed=spec.seed,
    )


def judge_config(spec: RunSpec) -> JudgeConfig | None:
    judge = spec.metric.judge
    if judge is None:
        return None
    return JudgeConfig(judge.call_params(), judge.rubric, judge.scale, judge.reference)


# Metrics whose scores lie anywhere in [0, 1] (the others give 0 or 1)
GRADED_METRICS = ("f1", "json", "python", "judge")
# Providers whose models continue a final assistant message ("prefill")
PREFILL_PROVIDERS = ("local", "anthropic")


def prefills(model: str, setting: str) -> bool:
    """Whether calls to ``model`` may end with an assistant message for it to continue."""
    if setting != "auto":
        return setting == "on"
    return provider_of(model) in PREFILL_PROVIDERS


def prepare(spec_path: Path, *, overrides: Sequence[str] = ()) -> Prepared:
    """Load a spec file (with ``--set`` style ``overrides``) and check its data and metric."""
    return prepare_spec(load_spec(spec_path, overrides=overrides), source=str(spec_path))


def prepare_spec(spec: RunSpec, *, source: str = "spec") -> Prepared:
    splits = load_splits(spec.dataset)
    metric = build_metric(spec.metric)
    check_metric(metric, splits, source=source)
    prepared = Prepared(spec, splits, metric)
    check_cost_budget(prepared, source=source)
    return prepared


def check_cost_budget(prepared: Prepared, *, source: str) -> None:
    """``budget.max_cost_usd`` can only stop a run whose models have a price: refuse it for a
    model LiteLLM cannot price unless the spec gives that model's ``prices``."""
    if prepared.spec.budget.max_cost_usd is None:
        return
    unpriced = prepared.planned_cost().unpriced
    if unpriced:
        spec = prepared.spec
        models = [("scorer", spec.scorer), ("optimizer", spec.optimizer)]
        if spec.metric.judge is not None:
            models.append(("metric", spec.metric.judge))
        roles = [role for role, model in models if model.model in unpriced]
        raise SpecError(
            f"{source}: budget.max_cost_usd: LiteLLM has no price for {', '.join(unpriced)}, "
            "so the budget could never stop the run",
            hint=f"give {roles[0]}.prices: {{input_per_million: ..., output_per_million: ...}} "
            "(USD), or remove max_cost_usd",
        )


def check_metric(metric: Metric, splits: Splits, *, source: str = "spec") -> None:
    """Score a known right answer and two wrong ones (an empty answer, another example's
    target), so a metric that is wrong, raises or returns nonsense fails before any model call.
    """
    if metric.name == "judge":  # the judge is a model: checked on the run's first calls
        return
    example = splits.train[0]
    other = next((e.target for e in splits.train if e.target != example.target), None)
    for answer in (example.target, "", other):
        if answer is None:
            continue
        try:
            score = metric.score(answer, example)
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


def prepare_resume(run_dir: Path) -> tuple[Prepared, Prior]:
    """Re-read an unfinished run: its resolved spec, the same data, and what it already did."""
    manifest = rundir.read_manifest(run_dir)
    if manifest.finished and not has_failed_calls(run_dir):
        raise RunDirError(
            f"{run_dir}: the run is already {manifest.status}, with every call answered",
            hint="start a new one with opro run SPEC",
        )
    config = run_dir / rundir.CONFIG
    spec = parse_spec(rundir.read_config_text(run_dir), source=str(config))
    splits = load_splits(spec.dataset)
    if splits.sha256 != manifest.dataset.sha256:
        raise RunDirError(
            f"{spec.dataset.path or 'dataset'}: changed since the run started (sha256 differs)",
            hint="restore the original data, or start a new run",
        )
    metric = build_metric(spec.metric)
    check_metric(metric, splits, source=str(config))
    return Prepared(spec, splits, metric), load_prior(run_dir)


def has_failed_calls(run_dir: Path) -> bool:
    """Whether a run has calls that failed and were not answered since: a finished run with
    some can be resumed to make them again."""
    evaluations, _ = rundir.read_evaluations(run_dir)
    answered = {e.key for e in evaluations if not e.failed}
    if any(e.failed and e.key not in answered for e in evaluations):
        return True
    metas, _ = rundir.read_meta_prompts(run_dir)
    return any(s.failed for meta in metas for s in meta.samples)


def load_prior(run_dir: Path) -> Prior:
    """The calls an unfinished run already made, read back from its files (a corrupt line is
    skipped: its call is made again)."""
    evaluations, _ = rundir.read_evaluations(run_dir)
    metas, _ = rundir.read_meta_prompts(run_dir)
    samples = {
        (meta.step, sample.index): sample
        for meta in metas
        for sample in meta.samples
        if sample.output is not None
    }
    answered = {e.key: e for e in evaluations if not e.failed}  # a failed call is made again
    return Prior(evaluations=answered, samples=samples)


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
    optimizer = Optimizer(prepared.config, prepared.splits, client, prepared.metric, prior=prior)
    if resume_dir is not None:
        store = RunStore.reopen(
            resume_dir, may_continue=lambda m: not m.finished or has_failed_calls(resume_dir)
        )
    else:
        cost = planned if planned is not None else prepared.planned_cost()
        store = RunStore.create(
            runs_dir if runs_dir is not None else Path("runs"),
            prepared.spec,
            prepared.splits,
            planned_calls=prepared.planned_calls(),
            planned_cost_usd=cost.total_usd,
        )
    optimizer.listeners = [store, *listeners]
    started = time.monotonic()
    try:
        outcome = run_until_stopped(optimizer.run())
    except (Stopped, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Stopped) else signal.SIGINT
        how = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        with ctrl_c_ignored():  # a further press must not leave the run marked "running"
            store.finish("interrupted", f"stopped by {how}")
        raise RunInterrupted(
            f"interrupted by {how}; everything done so far is in {store.path}",
            hint=f"continue with: opro resume {store.path}",
            signum=signum,
        ) from None
    except OproError as exc:
        store.finish("failed", f"{type(exc).__name__}: {exc}")
        exc.run_dir = store.path
        raise
    except OSError as exc:  # the run directory cannot be written: a full disk, a lost mount
        error = RunDirError(
            f"{store.path}: cannot write the run directory ({exc.strerror or exc})",
            hint=f"free disk space (or fix the folder), then continue: opro resume {store.path}",
        )
        with contextlib.suppress(OSError):  # marking it failed needs a little space too
            store.finish("failed", error.message)
        error.run_dir = store.path
        raise error from None
    except BaseException as exc:
        store.finish("failed", f"{type(exc).__name__}: {exc}")
        raise
    summary = replace(outcome_summary(outcome), duration_s=round(time.monotonic() - started, 3))
    summary = label_seeds(summary, prepared.spec)
    written = store.complete(summary, outcome.winner.candidate.text)
    return Finished(store.path, written)


def label_seeds(summary: Summary, spec: RunSpec) -> Summary:
    """Name the file each seed prompt was read from and mark the production seed (the loop
    knows only texts; seeds are matched by their stripped text, as the loop scores them)."""
    files: dict[str, str] = {}
    for seed in spec.seed_prompts:
        if isinstance(seed, SeedFile):
            files.setdefault(seed_text(seed).strip(), seed.file)
    production = spec.production_seed
    production_text = seed_text(production).strip() if production is not None else None

    def label(prompt: PromptScores) -> PromptScores:
        if prompt.origin != "seed":
            return prompt
        return replace(
            prompt,
            file=files.get(prompt.text),
            production=production_text is not None and prompt.text == production_text,
        )

    return replace(
        summary,
        best=label(summary.best),
        best_seed=label(summary.best_seed),
        seeds=tuple(label(s) for s in summary.seeds),
    )


def build_client(concurrency: int, *, no_cache: bool, callbacks: Sequence[str] = ()) -> ModelClient:
    """The model client of a run: LiteLLM (with the spec's LiteLLM ``callbacks``), behind the
    response cache unless ``no_cache``."""
    from opro_cli.cache import ResponseCache, cache_dir
    from opro_cli.models.cached import CachedClient
    from opro_cli.models.litellm_client import LiteLLMClient

    client = LiteLLMClient(concurrency, callbacks=tuple(callbacks))
    if no_cache:
        return client
    return CachedClient(client, ResponseCache(cache_dir()))


def apply_gates(summary: Summary, gates: Gates, environ: Mapping[str, str]) -> None:
    """Append the run to GitHub's job summary when ``GITHUB_STEP_SUMMARY`` names one, then raise
    ``GateError`` (exit 1, one line) unless the run passes the gates."""
    from opro_cli.report.render_md import step_summary_markdown

    failure = gate_failure(summary, gates)
    target = environ.get("GITHUB_STEP_SUMMARY")
    if target:
        text = redact(step_summary_markdown(summary, failure, gates.any))
        try:
            with open(target, "a", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise RunDirError(
                f"GITHUB_STEP_SUMMARY={target}: cannot append the job summary ({exc.strerror})"
            ) from None
    if failure is not None:
        raise GateError(failure)
