"""What the optimizer tells the world. The run-directory store and the leaderboard subscribe.

Events carry the run directory's record types (``rundir``) where a record is what they report,
so the store writes them as they are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

from opro_cli.core.candidates import CandidateState
from opro_cli.rundir import (
    Candidate,
    Evaluation,
    MetaPromptRecord,
    SplitName,
    StepRecord,
    Usage,
)

Phase = Literal["seeds", "step", "validation", "test"]


class Event:
    kind: ClassVar[str]


@dataclass(frozen=True)
class PhaseStarted(Event):
    kind: ClassVar[str] = "phase_started"
    phase: Phase
    step: int
    total_calls: int


@dataclass(frozen=True)
class MetaPromptBuilt(Event):
    kind: ClassVar[str] = "meta_prompt"
    record: MetaPromptRecord


@dataclass(frozen=True)
class EvaluationDone(Event):
    kind: ClassVar[str] = "evaluation"
    evaluation: Evaluation
    usage: Usage


@dataclass(frozen=True)
class OptimizerCallDone(Event):
    kind: ClassVar[str] = "optimizer_call"
    step: int
    usage: Usage


@dataclass(frozen=True)
class CandidateScored(Event):
    """A candidate's scoring on a split is done: ``score`` is the mean over the ``examples``
    answered (None: none was), ``errors`` failed, ``truncated`` were cut at max_tokens;
    ``stopped`` says why racing stopped it early; ``eligible``: it can win."""

    kind: ClassVar[str] = "candidate_scored"
    candidate: Candidate
    split: SplitName
    score: float | None
    examples: int
    errors: int
    truncated: int = 0
    stopped: str | None = None
    eligible: bool = True


@dataclass(frozen=True)
class StepDone(Event):
    """A step ended: ``record`` is its line of steps.jsonl, ``usage`` the run's totals."""

    kind: ClassVar[str] = "step_done"
    record: StepRecord
    usage: Usage


@dataclass(frozen=True)
class BudgetStop(Event):
    kind: ClassVar[str] = "budget_stop"
    reason: str


Listener = Callable[[Event], None]


def candidate_scored(state: CandidateState, split: SplitName, n_train: int) -> CandidateScored:
    result = state.result(split)
    return CandidateScored(
        state.candidate,
        split,
        result.mean,
        result.scored,
        result.failed,
        result.truncated,
        result.stopped.reason if result.stopped is not None else None,
        state.eligible(n_train),
    )


def step_done(
    step: int,
    leader: CandidateState | None,
    news: Sequence[CandidateState],
    proposed: int,
    new: int,
    usage: Usage,
    elapsed_s: float,
) -> StepDone:
    """The step's line of steps.jsonl: ``leader`` is the best so far, ``news`` the step's new
    candidates (their mean train score)."""
    scores = [score for s in news if (score := s.score("train")) is not None]
    record = StepRecord(
        step=step,
        best_score=leader.score("train") if leader is not None else None,
        best_id=leader.candidate.id if leader is not None else None,
        mean_score=sum(scores) / len(scores) if scores else None,
        proposed=proposed,
        new_candidates=new,
        calls=usage.calls,
        failed_calls=usage.failed_calls,
        retries=usage.retries,
        tokens=usage.tokens,
        cost_usd=usage.cost_usd,
        elapsed_s=elapsed_s,
    )
    return StepDone(record, usage)


__all__ = [
    "BudgetStop",
    "Candidate",
    "CandidateScored",
    "Evaluation",
    "EvaluationDone",
    "Event",
    "Listener",
    "MetaPromptBuilt",
    "OptimizerCallDone",
    "PhaseStarted",
    "StepDone",
    "Usage",
]
