"""What is known of each candidate: its answers on each split, and the rules that read them.

A failed call is missing data (``None``), never a wrong answer: a candidate's score on a split is
the mean over the examples answered. A candidate can win only when it was scored on the whole
train split (racing did not stop it) and at most ``MAX_FAILED_SHARE`` of its calls there
failed; ``opro resume`` makes the failed calls again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from opro_cli.core.racing import Decision
from opro_cli.rundir import Candidate, Evaluation, Sample, SplitName, Usage

MAX_FAILED_SHARE = 0.05  # a candidate missing more of its train examples cannot win
TRUNCATION_WARNING_SHARE = 0.05  # more answers than this cut at max_tokens: warn


@dataclass
class SplitResult:
    """A candidate's evaluations on one split, by example id, in the order they were made."""

    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    stopped: Decision | None = None  # racing stopped it before the whole split

    def add(self, evaluation: Evaluation) -> None:
        self.evaluations[evaluation.example_id] = evaluation

    def values(self, ids: Sequence[str]) -> list[float | None]:
        """Scores in the order of ``ids``; ``None`` for a failed or missing call."""
        return [_score(self.evaluations.get(i)) for i in ids]

    @property
    def scored(self) -> int:
        return len(self.evaluations)

    @property
    def failed(self) -> int:
        return sum(1 for e in self.evaluations.values() if e.failed)

    @property
    def truncated(self) -> int:
        return sum(1 for e in self.evaluations.values() if e.truncated)

    @property
    def mean(self) -> float | None:
        answered = [e.score for e in self.evaluations.values() if e.score is not None]
        return sum(answered) / len(answered) if answered else None


def _score(evaluation: Evaluation | None) -> float | None:
    return None if evaluation is None else evaluation.score


@dataclass
class CandidateState:
    candidate: Candidate
    results: dict[SplitName, SplitResult] = field(default_factory=dict)

    def result(self, split: SplitName) -> SplitResult:
        return self.results.setdefault(split, SplitResult())

    def score(self, split: SplitName) -> float | None:
        result = self.results.get(split)
        return result.mean if result is not None else None

    def eligible(self, n_train: int) -> bool:
        """Whether it can win: scored on the whole train split, few enough calls failed."""
        train = self.results.get("train")
        if train is None or train.stopped is not None or train.scored < n_train:
            return False
        return train.failed <= MAX_FAILED_SHARE * n_train and train.mean is not None

    def truncation_share(self, split: SplitName) -> float:
        result = self.results.get(split)
        return result.truncated / result.scored if result and result.scored else 0.0


def add_call(usage: Usage, call: Evaluation | Sample) -> Usage:
    """The usage totals with one more call: an evaluation (with the judge's call about it, if
    the judge metric made one) or an optimizer sample."""
    usage = _add(
        usage,
        cached=call.cached,
        failed=call.failed and not (isinstance(call, Evaluation) and call.judged),
        retries=call.retries,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        cost=call.cost_usd,
        truncated=call.truncated,
    )
    if isinstance(call, Evaluation) and call.judged:
        usage = _add(
            usage,
            cached=call.judge_cached,
            failed=call.failed,
            retries=0,
            prompt_tokens=call.judge_prompt_tokens,
            completion_tokens=call.judge_completion_tokens,
            cost=call.judge_cost_usd,
            truncated=False,
        )
        if not call.judge_cached:
            usage = replace(usage, judge_calls=usage.judge_calls + 1)
    return usage


def _add(
    usage: Usage,
    *,
    cached: bool,
    failed: bool,
    retries: int,
    prompt_tokens: int,
    completion_tokens: int,
    cost: float | None,
    truncated: bool,
) -> Usage:
    if cached:
        return replace(usage, cache_hits=usage.cache_hits + 1)
    retries = usage.retries + retries
    if failed:
        return replace(
            usage, calls=usage.calls + 1, failed_calls=usage.failed_calls + 1, retries=retries
        )
    return replace(
        usage,
        calls=usage.calls + 1,
        retries=retries,
        prompt_tokens=usage.prompt_tokens + prompt_tokens,
        completion_tokens=usage.completion_tokens + completion_tokens,
        known_cost_usd=usage.known_cost_usd + (cost if cost is not None else 0.0),
        unknown_cost_calls=usage.unknown_cost_calls + (cost is None),
        truncated_calls=usage.truncated_calls + truncated,
    )
