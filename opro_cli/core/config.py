"""What the loop needs to know, as frozen dataclasses: built once from the validated spec by the
application layer, so the core never sees pydantic or YAML."""

from __future__ import annotations

from dataclasses import dataclass

from opro_cli.core.placement import Position
from opro_cli.models.base import CallParams


@dataclass(frozen=True)
class Proposals:
    """How the optimizer is asked for new instructions and which of its answers are kept."""

    candidates_per_step: int = 8
    history_size: int = 20
    exemplars: int = 3
    max_instruction_chars: int = 500
    score_buckets: int = 100


@dataclass(frozen=True)
class Budget:
    steps: int = 5
    max_calls: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_minutes: float | None = None


@dataclass(frozen=True)
class Selection:
    top_k: int = 3
    bootstrap_samples: int = 1000
    ci_level: float = 0.95


@dataclass(frozen=True)
class LoopConfig:
    task: str
    seed_prompts: tuple[str, ...]
    scorer: CallParams
    optimizer: CallParams
    position: Position = "q_begin"
    proposals: Proposals = Proposals()
    budget: Budget = Budget()
    selection: Selection = Selection()
    seed: int = 0

    @property
    def seed_texts(self) -> tuple[str, ...]:
        """The seed prompts as scored: stripped, each once."""
        return tuple(dict.fromkeys(t.strip() for t in self.seed_prompts))
