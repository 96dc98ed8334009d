"""The OPRO loop: score seeds, then propose -> score -> keep for each step, then select.

Takes its outside world as arguments (a model client, a metric, a seed, a clock) and reports what
happens as events; it never prints or touches files.

Each step asks the optimizer for ``candidates_per_step`` instructions at once and starts scoring
each proposal as soon as its answer is in (answers are read in order, so what is accepted does not
depend on which call returns first). With racing, a proposal is scored on growing parts of the
train split and dropped once it is confidently worse than the best (``core.racing``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

from opro_cli.core.budget import improved, over_budget
from opro_cli.core.calls import Prior, Scorer, derive_seed, gather_all
from opro_cli.core.candidates import (
    CandidateState,
    SplitResult,
    add_call,
)
from opro_cli.core.config import LoopConfig
from opro_cli.core.events import (
    BudgetStop,
    Candidate,
    Evaluation,
    EvaluationDone,
    Event,
    Listener,
    MetaPromptBuilt,
    OptimizerCallDone,
    PhaseStarted,
    Usage,
    candidate_scored,
    step_done,
)
from opro_cli.core.failures import FailureStreak
from opro_cli.core.grading import grade
from opro_cli.core.metaprompt import INS, Scored, build_meta_prompt
from opro_cli.core.notes import run_notes
from opro_cli.core.outcome import Outcome, RunEnd
from opro_cli.core.parse import Shown, candidate_id, normalize
from opro_cli.core.placement import scorer_messages
from opro_cli.core.plan import SplitSizes, step_calls
from opro_cli.core.proposals import ShownMistake, admit, pick_mistakes
from opro_cli.core.racing import RacePlan, race_order
from opro_cli.core.selection import best, can_be_winner, ranked, selection_key
from opro_cli.core.significance import compare_paired
from opro_cli.data import Example, Splits
from opro_cli.errors import ModelError, SystemicModelError
from opro_cli.models.base import ModelClient
from opro_cli.rundir import MetaPromptRecord, Sample, SplitName


class Optimizer:
    def __init__(
        self,
        config: LoopConfig,
        splits: Splits,
        client: ModelClient,
        metric: Scorer,
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
        self._examples = {e.id: e for s in ("train", "val", "test") for e in splits.get(s)}

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> Outcome:
        seeds = [Candidate(candidate_id(t), t, 0, "seed") for t in self.config.seed_texts]
        for c in seeds:
            self._seen.add(normalize(c.text))
            self.states[c.id] = CandidateState(c)
        self._emit(PhaseStarted("seeds", 0, len(seeds) * self.sizes.train))
        await gather_all(self._score_full(c, "train") for c in seeds)
        self._emit_step(0, len(seeds), len(seeds))

        status: RunEnd = "completed"
        reason: str | None = None
        steps_done = 0
        stale = 0
        for step in range(1, self.config.budget.steps + 1):
            budget_reason = over_budget(
                self.config, self.sizes, self.usage, self.clock() - self._started, step
            )
            if budget_reason:
                status, reason = "budget_exhausted", budget_reason
                self._emit(BudgetStop(budget_reason))
                break
            before = self.best()
            proposed, fresh = await self._step(step)
            self._emit_step(step, fresh, proposed)
            steps_done = step
            stale = 0 if improved(before, self.best(), self.sizes.train) else stale + 1
            patience = self.config.budget.patience
            if patience is not None and stale >= patience and step < self.config.budget.steps:
                reason = (
                    f"patience {patience}: no improvement beyond noise in the last {stale} steps"
                )
                self._emit(BudgetStop(reason))
                break
        return await self._select(status, reason, steps_done, seeds)

    async def _step(self, step: int) -> tuple[int, int]:
        """Ask for proposals and score each as soon as it is in; returns (asked, new)."""
        meta, exemplars, mistakes = self._meta_prompt(step)
        k = self.config.proposals.candidates_per_step
        self._emit(PhaseStarted("step", step, step_calls(self.config, self.sizes)))
        order, reference = self._race(step)
        shown = Shown.of(exemplars, self.config.labels)
        sampling = [asyncio.ensure_future(self._sample(meta, step, i)) for i in range(k)]
        scoring: list[asyncio.Future[None]] = []
        samples: list[Sample] = []
        try:
            for task in sampling:  # in order: what is accepted never depends on timing
                sample = admit(await task, self.config.proposals, shown, self._seen)
                samples.append(sample)
                if sample.status == "accepted" and sample.instruction is not None:
                    candidate = Candidate(
                        candidate_id(sample.instruction), sample.instruction, step, "optimizer"
                    )
                    self.states[candidate.id] = CandidateState(candidate)
                    scoring.append(
                        asyncio.ensure_future(self._score_train(candidate, order, reference))
                    )
            record = MetaPromptRecord(
                step,
                tuple(e.id for e in exemplars),
                meta,
                tuple(samples),
                tuple(m.example_id for m in mistakes),
            )
            self._emit(MetaPromptBuilt(record))
            await gather_all(scoring)
        except BaseException:
            for task in sampling:
                task.cancel()
            for future in scoring:
                future.cancel()
            await asyncio.gather(*sampling, *scoring, return_exceptions=True)
            raise
        return k, len(scoring)

    def _meta_prompt(self, step: int) -> tuple[str, list[Example], list[ShownMistake]]:
        proposals = self.config.proposals
        rng = random.Random(derive_seed(self.config.seed, "exemplars", step))
        train = self.splits.train
        exemplars = rng.sample(list(train), min(proposals.exemplars, len(train)))
        history = [
            Scored(s.candidate.text, score)
            for s in self.states.values()
            if (score := s.score("train")) is not None
        ]
        mistakes = pick_mistakes(
            self.best(),
            self.splits.train,
            self.config.proposals.show_errors,
            random.Random(derive_seed(self.config.seed, "mistakes", step)),
        )
        meta = build_meta_prompt(
            task=self.config.task,
            history=history,
            exemplars=exemplars,
            position=self.config.position,
            history_size=proposals.history_size,
            buckets=proposals.score_buckets,
            max_instruction_chars=proposals.max_instruction_chars,
            prefill=self.config.scorer_prefill,
            mistakes=[m.shown for m in mistakes],
        )
        return meta, exemplars, mistakes

    def _race(self, step: int) -> tuple[tuple[Example, ...], CandidateState | None]:
        """The train examples in the order this step scores them, and the reference a racing
        candidate is compared with (the best at the start of the step; None: no racing)."""
        if self.config.racing is None:
            return self.splits.train, None
        rng = random.Random(derive_seed(self.config.seed, "race", step))
        return race_order(self.splits.train, rng), self.best()

    async def _sample(self, meta: str, step: int, index: int) -> Sample:
        """One optimizer answer; its ``output`` is None when the call failed. With prefill the
        answer is asked to continue ``<INS>``, which is put back in front of what comes."""
        if (step, index) in self.prior.samples:
            sample = self.prior.samples[(step, index)]
            self._account(sample)
            return sample
        params = replace(self.config.optimizer, seed=derive_seed(self.config.seed, step, index))
        messages = [{"role": "user", "content": meta}]
        if self.config.proposals.prefill:
            messages.append({"role": "assistant", "content": INS})
        try:
            completion = await self.client.complete(messages, params)
        except SystemicModelError:
            raise
        except ModelError as exc:
            self._failures.failed(exc)
            sample = Sample(index, None, retries=exc.retries, error=f"{type(exc).__name__}: {exc}")
        else:
            self._failures.succeeded()
            text = completion.text
            if self.config.proposals.prefill and not text.lstrip().lower().startswith("<ins>"):
                text = INS + text
            sample = Sample(
                index,
                text,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd,
                retries=completion.retries,
                cached=completion.cached,
                finish_reason=completion.finish_reason,
            )
        self._account(sample)
        self._emit(OptimizerCallDone(step, self.usage))
        return sample

    # -- scoring ------------------------------------------------------------------------------

    async def _score_full(self, candidate: Candidate, split: SplitName) -> None:
        state = self.states[candidate.id]
        result = state.result(split)
        await self._evaluate_all(candidate, split, self.splits.get(split), result)
        self._emit_scored(state, split)

    async def _score_train(
        self,
        candidate: Candidate,
        order: Sequence[Example],
        reference: CandidateState | None,
    ) -> None:
        """Score a proposal on train: all of it, or race it against ``reference``."""
        state = self.states[candidate.id]
        result = state.result("train")
        racing = self.config.racing
        if racing is None or reference is None:
            await self._evaluate_all(candidate, "train", order, result)
            self._emit_scored(state, "train")
            return
        plan = RacePlan(len(order), racing.delta, racing.margin, binary=self.config.binary_scores)
        ids = [e.id for e in order]
        reference_values = reference.result("train").values(ids)
        done = 0
        for look in plan.looks():
            await self._evaluate_all(candidate, "train", order[done:look], result)
            done = look
            decision = plan.decide(result.values(ids[:look]), reference_values)
            if decision.drop:
                result.stopped = decision
                break
        self._emit_scored(state, "train")

    async def _evaluate_all(
        self,
        candidate: Candidate,
        split: SplitName,
        examples: Sequence[Example],
        result: SplitResult,
    ) -> None:
        for evaluation in await gather_all(self._evaluate(candidate, split, e) for e in examples):
            result.add(evaluation)

    async def _evaluate(
        self, candidate: Candidate, split: SplitName, example: Example
    ) -> Evaluation:
        key = (candidate.id, split, example.id)
        if key in self.prior.evaluations:
            evaluation = self.prior.evaluations[key]
            self._account(evaluation)
            return evaluation
        messages = scorer_messages(
            candidate.text, example.input, self.config.position, prefill=self.config.scorer_prefill
        )
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
                None,
                latency_s=self.clock() - started,
                retries=exc.retries,
                error=f"{type(exc).__name__}: {exc}",
            )
        else:
            self._failures.succeeded()
            evaluation = Evaluation(
                candidate.id,
                split,
                example.id,
                completion.text,
                None,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd,
                latency_s=completion.latency_s,
                retries=completion.retries,
                cached=completion.cached,
                finish_reason=completion.finish_reason,
                deployment=completion.deployment,
            )
            if self.config.judge is None:
                score = await self.metric.ascore(completion.text, example)
                evaluation = replace(evaluation, score=score)
            else:
                evaluation = await grade(
                    self.client, self.config.judge, evaluation, example, self._failures
                )
        self._account(evaluation)
        self._emit(EvaluationDone(evaluation, self.usage))
        return evaluation

    # -- selection ----------------------------------------------------------------------------

    def ranked(self) -> list[CandidateState]:
        return ranked(self.states, self.sizes.train)

    def best(self) -> CandidateState | None:
        return best(self.states, self.sizes.train)

    async def _select(
        self, status: RunEnd, reason: str | None, steps_done: int, seeds: Sequence[Candidate]
    ) -> Outcome:
        ranked = self.ranked()
        seed_states = [self.states[c.id] for c in seeds]
        n_train = self.sizes.train
        top = [s for s in ranked if s.eligible(n_train)][: self.config.selection.top_k]
        finalists = list({s.candidate.id: s for s in [*top, *seed_states]}.values())
        if self.splits.val:
            self._emit(PhaseStarted("validation", steps_done, len(finalists) * self.sizes.val))
            await gather_all(self._score_full(s.candidate, "val") for s in finalists)
        can_win = [s for s in finalists if can_be_winner(s, n_train)]
        key = selection_key(self.states)
        winner = max(can_win or finalists, key=key)
        best_seed = max(seed_states, key=key)
        comparison = None
        if self.splits.test:
            to_test = list({s.candidate.id: s for s in [winner, *seed_states]}.values())
            self._emit(PhaseStarted("test", steps_done, len(to_test) * self.sizes.test))
            await gather_all(self._score_full(s.candidate, "test") for s in to_test)
            ids = [e.id for e in self.splits.test]
            selection = self.config.selection
            comparison = compare_paired(
                winner.result("test").values(ids),
                best_seed.result("test").values(ids),
                level=selection.ci_level,
                rng=random.Random(derive_seed(self.config.seed, "bootstrap")),
                samples=selection.bootstrap_samples,
            )
        notes = run_notes(
            self.usage,
            self.config.scorer.max_tokens,
            winner,
            best_seed,
            comparison,
            eligible_winner=bool(can_win),
        )
        return Outcome(
            status=status,
            reason=reason,
            winner=winner,
            best_seed=best_seed,
            seeds=tuple(seed_states),
            candidates=tuple(ranked),
            comparison=comparison,
            steps_completed=steps_done,
            usage=self.usage,
            notes=notes,
        )

    # -- budgets and bookkeeping --------------------------------------------------------------

    def _account(self, call: Evaluation | Sample) -> None:
        self.usage = add_call(self.usage, call)

    def _emit_scored(self, state: CandidateState, split: SplitName) -> None:
        self._emit(candidate_scored(state, split, self.sizes.train))

    def _emit_step(self, step: int, new: int, proposed: int) -> None:
        leader = self.best()
        if leader is None:  # nothing can win yet: show the best there is
            leaders = self.ranked()
            leader = leaders[0] if leaders else None
        news = [s for s in self.states.values() if s.candidate.step == step]
        elapsed = self.clock() - self._started
        self._emit(step_done(step, leader, news, proposed, new, self.usage, elapsed))

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)
