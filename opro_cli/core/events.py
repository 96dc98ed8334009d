"""What the optimizer tells the world. The run-directory store and the leaderboard subscribe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True)
class Candidate:
    id: str
    text: str
    step: int
    origin: str  # "seed" or "optimizer"


@dataclass(frozen=True)
class Evaluation:
    candidate_id: str
    split: str
    example_id: str
    output: str | None
    score: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    latency_s: float = 0.0
    retries: int = 0
    error: str | None = None
    cached: bool = False


@dataclass(frozen=True)
class Usage:
    """Running totals of model use. ``unknown_cost_calls`` counts calls without a known price."""

    calls: int = 0  # calls that reached a model (cache hits are not calls)
    cache_hits: int = 0
    failed_calls: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    known_cost_usd: float = 0.0
    unknown_cost_calls: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def cost_usd(self) -> float | None:
        """Total cost, or None when any call's price is unknown."""
        return None if self.unknown_cost_calls else self.known_cost_usd

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "cache_hits": self.cache_hits,
            "failed_calls": self.failed_calls,
            "retries": self.retries,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "known_cost_usd": self.known_cost_usd,
            "unknown_cost_calls": self.unknown_cost_calls,
        }


class Event:
    kind: ClassVar[str]


@dataclass(frozen=True)
class PhaseStarted(Event):
    kind: ClassVar[str] = "phase_started"
    phase: str  # "seeds", "step", "validation", "test"
    step: int
    total_calls: int


@dataclass(frozen=True)
class MetaPromptBuilt(Event):
    kind: ClassVar[str] = "meta_prompt"
    step: int
    text: str
    exemplar_ids: tuple[str, ...]
    samples: tuple[dict[str, Any], ...] = field(default_factory=tuple)


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
    kind: ClassVar[str] = "candidate_scored"
    candidate: Candidate
    split: str
    score: float
    examples: int
    errors: int


@dataclass(frozen=True)
class StepDone(Event):
    kind: ClassVar[str] = "step_done"
    step: int
    best_score: float
    best_id: str
    mean_score: float
    new_candidates: int
    proposed: int
    usage: Usage
    elapsed_s: float


@dataclass(frozen=True)
class BudgetStop(Event):
    kind: ClassVar[str] = "budget_stop"
    reason: str


Listener = Callable[[Event], None]
