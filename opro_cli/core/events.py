"""What the optimizer tells the world. The run-directory store and the leaderboard subscribe.

Events carry the run directory's record types (``rundir``) where a record is what they report,
so the store writes them as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal

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
