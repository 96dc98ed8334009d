"""The OPRO loop: score seeds, then propose -> score -> keep for each step, then select.

Takes its outside world as arguments (a model client, a metric, a seed, a clock) and reports what
happens as events; it never prints or touches files.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

from opro_cli.core.config import LoopConfig
from opro_cli.core.events import (
    BudgetStop,
    Candidate,
    CandidateScored,
    Evaluation,
    EvaluationDone,
    Event,
    Listener,
    MetaPromptBuilt,
    OptimizerCallDone,
    PhaseStarted,
    StepDone,
    Usage,
)
from opro_cli.core.failures import FailureStreak
from opro_cli.core.metaprompt import Scored, build_meta_prompt
from opro_cli.core.parse import candidate_id, extract_instruction, normalize
from opro_cli.core.placement import scorer_messages
from opro_cli.core.plan import SplitSizes, planned_calls, step_calls
from opro_cli.core.stats import Difference, mean, paired_bootstrap
from opro_cli.data import Example, Splits
from opro_cli.errors import ModelError, SystemicModelError
from opro_cli.models.base import ModelClient
from opro_cli.rundir import (
    Improvement,
    MetaPromptRecord,
    PromptScores,
    Sample,
    SampleStatus,
    SplitName,
    StepRecord,
    Summary,
)

Metric = Callable[[str, str, Sequence[str] | None], float]
RunEnd = Literal["completed", "budget_exhausted"]
T = TypeVar("T")


@dataclass(frozen=True)
class Prior:
    """What an interrupted run already did, so a resumed run does not call again."""

    evaluations: Mapping[tuple[str, str, str], Evaluation] = field(default_factory=dict)
    samples: Mapping[tuple[int, int], Sample] = field(default_factory=dict)


@dataclass
class CandidateState:
    candidate: Candidate
    scores: dict[str, float] = field(default_factory=dict)
    per_example: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    status: RunEnd
    reason: str | None
    winner: CandidateState
    best_seed: CandidateState
    seeds: tuple[CandidateState, ...]
    candidates: tuple[CandidateState, ...]
    improvement: Difference | None
    steps_completed: int
    usage: Usage


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any parts (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


async def gather_all(coros: Iterable[Awaitable[T]]) -> list[T]:
    """Like ``asyncio.gather`` but cancels the others as soon as one fails."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class Optimizer:
    def __init__(
        self,
        config: LoopConfig,
        splits: Splits,
        client: ModelClient,
        metric: Metric,
        *,
        listeners: Sequence[Listener] = (),
        prior: Prior | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.splits = splits
        self.client = client
        self.metric = metric
        self.listeners = list(listeners)
        self.prior = prior if prior is not None else Prior()
        self.clock = clock
        self.usage = Usage()
        self.states: dict[str, CandidateState] = {}
        self._seen: set[str] = set()
        self._started = clock()
        self.sizes = SplitSizes(len(splits.train), len(splits.val), len(splits.test))
        self._failures = FailureStreak()

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> Outcome:
        seeds = [Candidate(candidate_id(t), t, 0, "seed") for t in self.config.seed_texts]
        for c in seeds:
            self._seen.add(normalize(c.text))
        self._emit(PhaseStarted("seeds", 0, len(seeds) * len(self.splits.train)))
        await self._score_all(seeds, "train")
        self._emit_step(0, len(seeds), len(seeds))

        status: RunEnd = "completed"
        reason: str | None = None
        steps_done = 0
        for step in range(1, self.config.budget.steps + 1):
            reason = self._budget_reason(step)
            if reason:
                status = "budget_exhausted"
                self._emit(BudgetStop(reason))
                break
            proposed, fresh = await self._propose(step)
            await self._score_all(fresh, "train")
            self._emit_step(step, len(fresh), proposed)
            steps_done = step
        return await self._select(status, reason, steps_done, seeds)

    async def _propose(self, step: int) -> tuple[int, list[Candidate]]:
        proposals = self.config.proposals
        rng = random.Random(derive_seed(self.config.seed, "exemplars", step))
        train = self.splits.train
        exemplars = rng.sample(list(train), min(proposals.exemplars, len(train)))
        history = [
            Scored(s.candidate.text, s.scores["train"])
            for s in self.states.values()
            if "train" in s.scores
        ]
        meta = build_meta_prompt(
            task=self.config.task,
            history=history,
            exemplars=exemplars,
            position=self.config.position,
            history_size=proposals.history_size,
            buckets=proposals.score_buckets,
            max_instruction_chars=proposals.max_instruction_chars,
        )
        self._emit(PhaseStarted("step", step, step_calls(self.config, self.sizes)))
        answers = await gather_all(
            self._sample(meta, step, i) for i in range(proposals.candidates_per_step)
        )
        fresh: list[Candidate] = []
        samples = []
        for answer in answers:
            text = extract_instruction(answer.output) if answer.output is not None else None
            status = self._admit(text)
            samples.append(replace(answer, instruction=text, status=status))
            if status == "accepted" and text is not None:
                fresh.append(Candidate(candidate_id(text), text, step, "optimizer"))
        exemplar_ids = tuple(e.id for e in exemplars)
        self._emit(MetaPromptBuilt(MetaPromptRecord(step, exemplar_ids, meta, tuple(samples))))
        return len(answers), fresh

    def _admit(self, text: str | None) -> SampleStatus:
        if text is None:
            return "unparseable"
        if len(text) > self.config.proposals.max_instruction_chars:
            return "too_long"
        key = normalize(text)
        if key in self._seen:
            return "duplicate"
        self._seen.add(key)
        return "accepted"

    async def _sample(self, meta: str, step: int, index: int) -> Sample:
        """One optimizer answer; its ``output`` is None when the call failed."""
        if (step, index) in self.prior.samples:
            sample = self.prior.samples[(step, index)]
            self._account(sample)
            return sample
        params = replace(self.config.optimizer, seed=derive_seed(self.config.seed, step, index))
        try:
            completion = await self.client.complete([{"role": "user", "content": meta}], params)
        except SystemicModelError:
            raise
        except ModelError as exc:
            self._failures.failed(exc)
            sample = Sample(index, None, retries=exc.retries, error=f"{type(exc).__name__}: {exc}")
        else:
            self._failures.succeeded()
            sample = Sample(
                index,
                completion.text,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd,
                retries=completion.retries,
                cached=completion.cached,
            )
        self._account(sample)
        self._emit(OptimizerCallDone(step, self.usage))
        return sample

    async def _score_all(self, candidates: Sequence[Candidate], split: SplitName) -> None:
        examples = self.splits.get(split)
        await gather_all(self._score(c, split, examples) for c in candidates)

    async def _score(
        self, candidate: Candidate, split: SplitName, examples: Sequence[Example]
    ) -> None:
        state = self.states.setdefault(candidate.id, CandidateState(candidate))
        evaluations = await gather_all(self._evaluate(candidate, split, ex) for ex in examples)
        scores = [e.score for e in evaluations]
        state.per_example[split] = scores
        state.scores[split] = mean(scores) or 0.0
        errors = sum(1 for e in evaluations if e.error)
        self._emit(CandidateScored(candidate, split, state.scores[split], len(evaluations), errors))

    async def _evaluate(
        self, candidate: Candidate, split: SplitName, example: Example
    ) -> Evaluation:
        key = (candidate.id, split, example.id)
        if key in self.prior.evaluations:
            evaluation = self.prior.evaluations[key]
            self._account(evaluation)
            return evaluation
        messages = scorer_messages(candidate.text, example.input, self.config.position)
        started = self.clock()
        try:
            completion = await self.client.complete(messages, self.config.scorer)
        except SystemicModelError:
            raise
        except ModelError as exc:
            self._failures.failed(exc)
            evaluation = Evaluation(
                candidate.id,
                split,
                example.id,
                None,
                0.0,
                latency_s=self.clock() - started,
                retries=exc.retries,
                error=f"{type(exc).__name__}: {exc}",
            )
        else:
            self._failures.succeeded()
            score = self.metric(completion.text, example.target, example.options)
            evaluation = Evaluation(
                candidate.id,
                split,
                example.id,
                completion.text,
                score,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd,
                latency_s=completion.latency_s,
                retries=completion.retries,
                cached=completion.cached,
            )
        self._account(evaluation)
        self._emit(EvaluationDone(evaluation, self.usage))
        return evaluation

    # -- selection ----------------------------------------------------------------------------

    async def _select(
        self, status: RunEnd, reason: str | None, steps_done: int, seeds: Sequence[Candidate]
    ) -> Outcome:
        ranked = self.ranked()
        seed_states = [self.states[c.id] for c in seeds]
        selection = self.config.selection
        by_id = {s.candidate.id: s for s in [*ranked[: selection.top_k], *seed_states]}
        finalists = list(by_id.values())
        if self.splits.val:
            self._emit(
                PhaseStarted("validation", steps_done, len(finalists) * len(self.splits.val))
            )
            await self._score_all([s.candidate for s in finalists], "val")
        winner = max(finalists, key=self._selection_key)
        best_seed = max(seed_states, key=self._selection_key)
        improvement = None
        if self.splits.test:
            to_test = list(
                {c.id: c for c in [winner.candidate, *(s.candidate for s in seed_states)]}.values()
            )
            self._emit(PhaseStarted("test", steps_done, len(to_test) * len(self.splits.test)))
            await self._score_all(to_test, "test")
            improvement = paired_bootstrap(
                winner.per_example["test"],
                best_seed.per_example["test"],
                samples=selection.bootstrap_samples,
                level=selection.ci_level,
                rng=random.Random(derive_seed(self.config.seed, "bootstrap")),
            )
        return Outcome(
            status=status,
            reason=reason,
            winner=winner,
            best_seed=best_seed,
            seeds=tuple(seed_states),
            candidates=tuple(ranked),
            improvement=improvement,
            steps_completed=steps_done,
            usage=self.usage,
        )

    def ranked(self) -> list[CandidateState]:
        """Every candidate scored on train, best first; ties go to the earlier one."""
        order = {cid: i for i, cid in enumerate(self.states)}
        return sorted(
            (s for s in self.states.values() if "train" in s.scores),
            key=lambda s: (-s.scores["train"], order[s.candidate.id]),
        )

    def _selection_key(self, state: CandidateState) -> tuple[float, float, int]:
        order = list(self.states).index(state.candidate.id)
        return (state.scores.get("val", 0.0), state.scores.get("train", 0.0), -order)

    # -- budgets and bookkeeping --------------------------------------------------------------

    def _budget_reason(self, step: int) -> str | None:
        """Why the next step would break a budget, or None when it fits."""
        budget = self.config.budget
        plan = planned_calls(self.config, self.sizes)
        next_calls = step_calls(self.config, self.sizes) + plan["validation"] + plan["test"]
        used = self.usage
        per_call_tokens = used.tokens / used.calls if used.calls else 0.0
        if budget.max_calls is not None and used.calls + next_calls > budget.max_calls:
            return f"max_calls {budget.max_calls}: step {step} would need about {next_calls} more"
        if budget.max_tokens is not None and (
            used.tokens + per_call_tokens * next_calls > budget.max_tokens
        ):
            return f"max_tokens {budget.max_tokens}: {used.tokens} used, step {step} would exceed"
        if budget.max_cost_usd is not None and used.calls:
            per_call_cost = used.known_cost_usd / used.calls
            if used.known_cost_usd + per_call_cost * next_calls > budget.max_cost_usd:
                return f"max_cost_usd {budget.max_cost_usd:g}: step {step} would exceed"
        if budget.max_minutes is not None:
            elapsed = self.clock() - self._started
            per_step = elapsed / step
            if elapsed + per_step > budget.max_minutes * 60:
                return f"max_minutes {budget.max_minutes:g}: {elapsed / 60:.1f} min used"
        return None

    def _account(self, call: Evaluation | Sample) -> None:
        """Add one call (an evaluation or an optimizer sample) to the usage totals."""
        u = self.usage
        if call.cached:
            self.usage = replace(u, cache_hits=u.cache_hits + 1)
            return
        retries = u.retries + call.retries
        failed = call.output is None if isinstance(call, Sample) else call.error is not None
        if failed:
            self.usage = replace(
                u, calls=u.calls + 1, failed_calls=u.failed_calls + 1, retries=retries
            )
            return
        cost = call.cost_usd
        self.usage = replace(
            u,
            calls=u.calls + 1,
            retries=retries,
            prompt_tokens=u.prompt_tokens + call.prompt_tokens,
            completion_tokens=u.completion_tokens + call.completion_tokens,
            known_cost_usd=u.known_cost_usd + (cost if cost is not None else 0.0),
            unknown_cost_calls=u.unknown_cost_calls + (cost is None),
        )

    def _emit_step(self, step: int, new: int, proposed: int) -> None:
        ranked = self.ranked()
        best = ranked[0]
        step_scores = [s.scores["train"] for s in ranked if s.candidate.step == step]
        u = self.usage
        record = StepRecord(
            step=step,
            best_score=best.scores["train"],
            best_id=best.candidate.id,
            mean_score=mean(step_scores),
            proposed=proposed,
            new_candidates=new,
            calls=u.calls,
            failed_calls=u.failed_calls,
            retries=u.retries,
            tokens=u.tokens,
            cost_usd=u.cost_usd,
            elapsed_s=self.clock() - self._started,
        )
        self._emit(StepDone(record, u))

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)


def outcome_summary(outcome: Outcome) -> Summary:
    """The numbers of an outcome, as summary.json holds them (without the run's name, folder and
    duration, which the application adds)."""

    def scores(state: CandidateState) -> PromptScores:
        c = state.candidate
        return PromptScores(
            id=c.id,
            text=c.text,
            step=c.step,
            origin=c.origin,
            train=state.scores.get("train"),
            val=state.scores.get("val"),
            test=state.scores.get("test"),
        )

    imp = outcome.improvement
    return Summary(
        status=outcome.status,
        reason=outcome.reason,
        best=scores(outcome.winner),
        best_seed=scores(outcome.best_seed),
        seeds=tuple(scores(s) for s in outcome.seeds),
        improvement=None
        if imp is None
        else Improvement(imp.delta, imp.low, imp.high, imp.level, imp.n),
        steps_completed=outcome.steps_completed,
        candidates=len(outcome.candidates),
        usage=outcome.usage,
    )
