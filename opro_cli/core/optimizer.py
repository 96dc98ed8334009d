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
from dataclasses import asdict, dataclass, field, replace
from typing import Any, TypeVar

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
from opro_cli.core.metaprompt import Scored, build_meta_prompt, scorer_messages
from opro_cli.core.parse import candidate_id, extract_instruction, normalize
from opro_cli.core.stats import Difference, mean, paired_bootstrap
from opro_cli.data import Example, Splits
from opro_cli.errors import ModelError, SystemicModelError
from opro_cli.models.base import CallParams, ModelClient
from opro_cli.spec import RunSpec

Metric = Callable[[str, str, Sequence[str] | None], float]
T = TypeVar("T")


@dataclass(frozen=True)
class Prior:
    """What an interrupted run already did, so a resumed run does not call again."""

    evaluations: Mapping[tuple[str, str, str], Evaluation] = field(default_factory=dict)
    samples: Mapping[tuple[int, int], Mapping[str, Any]] = field(default_factory=dict)


@dataclass
class CandidateState:
    candidate: Candidate
    scores: dict[str, float] = field(default_factory=dict)
    per_example: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    status: str  # "completed" or "budget_exhausted"
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
        spec: RunSpec,
        splits: Splits,
        client: ModelClient,
        metric: Metric,
        *,
        listeners: Sequence[Listener] = (),
        prior: Prior | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = spec
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
        scorer = spec.scorer
        self.scorer_params = CallParams(
            model=scorer.model,
            temperature=scorer.temperature,
            max_tokens=scorer.max_tokens,
            api_base=scorer.api_base,
            timeout_s=scorer.timeout_s,
            max_retries=scorer.max_retries,
            extra=scorer.extra,
        )
        opt = spec.optimizer
        self.optimizer_params = CallParams(
            model=opt.model,
            temperature=opt.temperature,
            max_tokens=opt.max_tokens,
            api_base=opt.api_base,
            timeout_s=opt.timeout_s,
            max_retries=opt.max_retries,
            extra=opt.extra,
        )

    # -- planning -----------------------------------------------------------------------------

    def planned_calls(self) -> dict[str, int]:
        """Model calls for the whole run if every step runs and no proposal is dropped."""
        n_train, n_val, n_test = (len(self.splits.get(s)) for s in ("train", "val", "test"))
        seeds = len(self._seed_texts())
        k = self.spec.optimizer.candidates_per_step
        steps = self.spec.budget.steps
        top_k = self.spec.selection.top_k
        return {
            "seeds": seeds * n_train,
            "steps": steps * (k + k * n_train),
            "validation": (min(top_k, seeds + steps * k) + seeds) * n_val,
            "test": (1 + seeds) * n_test,
        }

    def _seed_texts(self) -> list[str]:
        return list(dict.fromkeys(t.strip() for t in self.spec.seed_prompts))

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> Outcome:
        seeds = [Candidate(candidate_id(t), t, 0, "seed") for t in self._seed_texts()]
        for c in seeds:
            self._seen.add(normalize(c.text))
        self._emit(PhaseStarted("seeds", 0, len(seeds) * len(self.splits.train)))
        await self._score_all(seeds, "train")
        self._emit_step(0, len(seeds), len(seeds))

        status, reason, steps_done = "completed", None, 0
        for step in range(1, self.spec.budget.steps + 1):
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
        opt = self.spec.optimizer
        rng = random.Random(derive_seed(self.spec.seed, "exemplars", step))
        train = self.splits.train
        exemplars = rng.sample(list(train), min(opt.exemplars, len(train)))
        history = [
            Scored(s.candidate.text, s.scores["train"])
            for s in self.states.values()
            if "train" in s.scores
        ]
        meta = build_meta_prompt(
            task=self.spec.task,
            history=history,
            exemplars=exemplars,
            position=self.spec.scorer.instruction_position,
            history_size=opt.history_size,
            buckets=opt.score_buckets,
            max_instruction_chars=opt.max_instruction_chars,
        )
        self._emit(PhaseStarted("step", step, opt.candidates_per_step * (1 + len(train))))
        records = await gather_all(
            self._sample(meta, step, i) for i in range(opt.candidates_per_step)
        )
        fresh: list[Candidate] = []
        samples = []
        for index, record in enumerate(records):
            output = record.get("output")
            text = extract_instruction(output) if output is not None else None
            status = self._admit(text)
            samples.append({"index": index, **record, "instruction": text, "status": status})
            if status == "accepted" and text is not None:
                fresh.append(Candidate(candidate_id(text), text, step, "optimizer"))
        self._emit(MetaPromptBuilt(step, meta, tuple(e.id for e in exemplars), tuple(samples)))
        return len(records), fresh

    def _admit(self, text: str | None) -> str:
        if text is None:
            return "unparseable"
        if len(text) > self.spec.optimizer.max_instruction_chars:
            return "too_long"
        key = normalize(text)
        if key in self._seen:
            return "duplicate"
        self._seen.add(key)
        return "accepted"

    async def _sample(self, meta: str, step: int, index: int) -> dict[str, Any]:
        """One optimizer answer as a record: output (None on failure), usage, cached."""
        if (step, index) in self.prior.samples:
            record = dict(self.prior.samples[(step, index)])
            self._account_record(record)
            return record
        params = replace(self.optimizer_params, seed=derive_seed(self.spec.seed, step, index))
        try:
            completion = await self.client.complete([{"role": "user", "content": meta}], params)
        except SystemicModelError:
            raise
        except ModelError as exc:
            record = {
                "output": None,
                "error": f"{type(exc).__name__}: {exc}",
                "retries": exc.retries,
                "failed": True,
            }
        else:
            record = {
                "output": completion.text,
                "prompt_tokens": completion.prompt_tokens,
                "completion_tokens": completion.completion_tokens,
                "cost_usd": completion.cost_usd,
                "retries": completion.retries,
                "cached": completion.cached,
            }
        self._account_record(record)
        self._emit(OptimizerCallDone(step, self.usage))
        return record

    async def _score_all(self, candidates: Sequence[Candidate], split: str) -> None:
        examples = self.splits.get(split)
        await gather_all(self._score(c, split, examples) for c in candidates)

    async def _score(self, candidate: Candidate, split: str, examples: Sequence[Example]) -> None:
        state = self.states.setdefault(candidate.id, CandidateState(candidate))
        evaluations = await gather_all(self._evaluate(candidate, split, ex) for ex in examples)
        scores = [e.score for e in evaluations]
        state.per_example[split] = scores
        state.scores[split] = mean(scores) or 0.0
        errors = sum(1 for e in evaluations if e.error)
        self._emit(CandidateScored(candidate, split, state.scores[split], len(evaluations), errors))

    async def _evaluate(self, candidate: Candidate, split: str, example: Example) -> Evaluation:
        key = (candidate.id, split, example.id)
        if key in self.prior.evaluations:
            evaluation = self.prior.evaluations[key]
            self._account_record(asdict(evaluation) | {"failed": evaluation.error is not None})
            return evaluation
        messages = scorer_messages(
            candidate.text, example.input, self.spec.scorer.instruction_position
        )
        started = self.clock()
        try:
            completion = await self.client.complete(messages, self.scorer_params)
        except SystemicModelError:
            raise
        except ModelError as exc:
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
        self._account_record(asdict(evaluation) | {"failed": evaluation.error is not None})
        self._emit(EvaluationDone(evaluation, self.usage))
        return evaluation

    # -- selection ----------------------------------------------------------------------------

    async def _select(
        self, status: str, reason: str | None, steps_done: int, seeds: Sequence[Candidate]
    ) -> Outcome:
        ranked = self.ranked()
        seed_states = [self.states[c.id] for c in seeds]
        by_id = {s.candidate.id: s for s in [*ranked[: self.spec.selection.top_k], *seed_states]}
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
            sel = self.spec.selection
            improvement = paired_bootstrap(
                winner.per_example["test"],
                best_seed.per_example["test"],
                samples=sel.bootstrap_samples,
                level=sel.ci_level,
                rng=random.Random(derive_seed(self.spec.seed, "bootstrap")),
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
        budget = self.spec.budget
        plan = self.planned_calls()
        k = self.spec.optimizer.candidates_per_step
        next_calls = k + k * len(self.splits.train) + plan["validation"] + plan["test"]
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

    def _account_record(self, record: Mapping[str, Any]) -> None:
        """Add one call (an evaluation or optimizer sample, as a record) to the usage totals."""
        u = self.usage
        if record.get("cached"):
            self.usage = replace(u, cache_hits=u.cache_hits + 1)
            return
        retries = u.retries + int(record.get("retries") or 0)
        if record.get("failed"):
            self.usage = replace(
                u, calls=u.calls + 1, failed_calls=u.failed_calls + 1, retries=retries
            )
            return
        cost = record.get("cost_usd")
        self.usage = replace(
            u,
            calls=u.calls + 1,
            retries=retries,
            prompt_tokens=u.prompt_tokens + int(record.get("prompt_tokens") or 0),
            completion_tokens=u.completion_tokens + int(record.get("completion_tokens") or 0),
            known_cost_usd=u.known_cost_usd + (cost or 0.0),
            unknown_cost_calls=u.unknown_cost_calls + (cost is None),
        )

    def _emit_step(self, step: int, new: int, proposed: int) -> None:
        ranked = self.ranked()
        best = ranked[0]
        step_scores = [s.scores["train"] for s in ranked if s.candidate.step == step]
        self._emit(
            StepDone(
                step=step,
                best_score=best.scores["train"],
                best_id=best.candidate.id,
                mean_score=mean(step_scores) or 0.0,
                new_candidates=new,
                proposed=proposed,
                usage=self.usage,
                elapsed_s=self.clock() - self._started,
            )
        )

    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)


def outcome_summary(outcome: Outcome) -> dict[str, Any]:
    """The numbers of an outcome as plain data (for summary.json and the final report)."""

    def scores(state: CandidateState) -> dict[str, Any]:
        return {
            "id": state.candidate.id,
            "text": state.candidate.text,
            "step": state.candidate.step,
            "origin": state.candidate.origin,
            "train": state.scores.get("train"),
            "val": state.scores.get("val"),
            "test": state.scores.get("test"),
        }

    imp = outcome.improvement
    return {
        "status": outcome.status,
        "reason": outcome.reason,
        "best": scores(outcome.winner),
        "best_seed": scores(outcome.best_seed),
        "seeds": [scores(s) for s in outcome.seeds],
        "improvement": None
        if imp is None
        else {
            "test_delta": imp.delta,
            "ci_low": imp.low,
            "ci_high": imp.high,
            "ci_level": imp.level,
            "n": imp.n,
        },
        "steps_completed": outcome.steps_completed,
        "candidates": len(outcome.candidates),
        "usage": outcome.usage.to_dict(),
    }
