"""What the loop needs to know, as frozen dataclasses: built once from the validated spec by the
application layer, so the core never sees pydantic or YAML."""

from __future__ import annotations

from dataclasses import dataclass

from opro_cli.core.judge import JudgeConfig
from opro_cli.core.parse import ParseMode
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
    parse: ParseMode = "lenient"
    prefill: bool = False  # the optimizer's answer starts with <INS> (a final assistant message)
    show_errors: int = 0  # train examples the best gets wrong, shown in the meta-prompt


@dataclass(frozen=True)
class Budget:
    steps: int = 5
    max_calls: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    max_minutes: float | None = None
    patience: int | None = None  # stop after this many steps without a real improvement


@dataclass(frozen=True)
class Racing:
    """Score new candidates on growing parts of the train split; drop the confidently worse."""

    delta: float = 0.05  # chance of dropping a candidate as good as the best, at most
    margin: float = 0.0


@dataclass(frozen=True)
class Selection:
    top_k: int = 3
    bootstrap_samples: int = 4000
    ci_level: float = 0.95


@dataclass(frozen=True)
class LoopConfig:
    task: str
    seed_prompts: tuple[str, ...]
    scorer: CallParams
    optimizer: CallParams
    position: Position = "q_begin"
    scorer_prefill: bool = False  # a_begin: the instruction starts the assistant's answer
    proposals: Proposals = Proposals()
    budget: Budget = Budget()
    selection: Selection = Selection()
    racing: Racing | None = None  # None: every candidate on the whole train split
    binary_scores: bool = True  # the metric gives 0 or 1 (racing uses exact tests then)
    labels: tuple[str, ...] = ()  # answer labels the optimizer sees (a choice metric's choices)
    judge: JudgeConfig | None = None  # the judge metric: a model grades each answer
    seed: int = 0

    @property
    def seed_texts(self) -> tuple[str, ...]:
        """The seed prompts as scored: stripped, each once."""
        return tuple(dict.fromkeys(t.strip() for t in self.seed_prompts))
