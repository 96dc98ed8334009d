"""A rough price of a planned run, before any call: prompt sizes estimated from the data, the
seed prompts and the task; answers as long as ``max_tokens`` allows; prices from LiteLLM."""

from __future__ import annotations

from dataclasses import dataclass

from opro_cli.data import Splits
from opro_cli.formatting import usd
from opro_cli.spec import RunSpec

# Assumptions of the cost estimate (rough on purpose: it is shown as "about")
CHARS_PER_TOKEN = 4  # a rough average for English text
MESSAGE_TOKENS = 8  # role markers and formatting around each call's messages
INSTRUCTION_CHARS = 150  # a typical proposed instruction (longer seeds count as they are)
META_PROMPT_CHARS = 700  # the meta-prompt's fixed wording
HISTORY_ENTRY_CHARS = 20  # "text:" and "score:" around each instruction in the history
EXEMPLAR_CHARS = 60  # the wording around each exemplar's input and target
ANSWER_TOKENS_UNCAPPED = 256  # assumed answer length where max_tokens is not set


@dataclass(frozen=True)
class PlannedCost:
    """A model's cost is None when LiteLLM has no price for it (never guessed as zero)."""

    scorer_usd: float | None
    optimizer_usd: float | None
    scorer_tokens: int
    optimizer_tokens: int
    unpriced: tuple[str, ...]

    @property
    def total_usd(self) -> float | None:
        if self.scorer_usd is None or self.optimizer_usd is None:
            return None
        return self.scorer_usd + self.optimizer_usd

    @property
    def tokens(self) -> int:
        return self.scorer_tokens + self.optimizer_tokens


def planned_cost(spec: RunSpec, splits: Splits, plan: dict[str, int]) -> PlannedCost:
    from opro_cli.models.litellm_client import estimate_cost

    optimizer_calls = spec.budget.steps * spec.optimizer.candidates_per_step
    scorer_calls = sum(plan.values()) - optimizer_calls
    examples = [*splits.train, *splits.val, *splits.test]
    avg_input = sum(len(e.input) for e in examples) / len(examples)
    avg_target = sum(len(e.target) for e in examples) / len(examples)
    seed_chars = max(len(text) for text in spec.seed_texts)
    opt = spec.optimizer
    instruction = min(opt.max_instruction_chars, max(seed_chars, INSTRUCTION_CHARS))
    history = min(opt.history_size, len(spec.seed_texts) + optimizer_calls)
    meta_chars = (
        META_PROMPT_CHARS
        + len(spec.task)
        + history * (instruction + HISTORY_ENTRY_CHARS)
        + opt.exemplars * (avg_input + avg_target + EXEMPLAR_CHARS)
    )

    def answer(max_tokens: int | None) -> int:
        return max_tokens if max_tokens is not None else ANSWER_TOKENS_UNCAPPED

    scorer = (
        scorer_calls * _tokens(instruction + avg_input),
        scorer_calls * answer(spec.scorer.max_tokens),
    )
    optimizer = (
        optimizer_calls * _tokens(meta_chars),
        optimizer_calls * answer(opt.max_tokens),
    )
    scorer_usd = estimate_cost(spec.scorer.model, *scorer) if scorer_calls else 0.0
    optimizer_usd = estimate_cost(opt.model, *optimizer) if optimizer_calls else 0.0
    unpriced = [
        model
        for model, usd in ((spec.scorer.model, scorer_usd), (opt.model, optimizer_usd))
        if usd is None
    ]
    return PlannedCost(
        scorer_usd,
        optimizer_usd,
        sum(scorer),
        sum(optimizer),
        tuple(dict.fromkeys(unpriced)),
    )


def _tokens(chars: float) -> int:
    return MESSAGE_TOKENS + int(-(-chars // CHARS_PER_TOKEN))


def describe_cost(cost: PlannedCost, *, in_process: bool) -> str:
    """The planned cost as the run's first lines show it (``in_process``: every model runs in
    this process, so $0 is exact)."""
    total = cost.total_usd
    if total == 0:
        return "$0 (in-process models)" if in_process else "$0"
    if total is not None:
        return (
            f"about {usd(total)} (estimate for {cost.tokens:,} tokens: "
            f"scorer {usd(cost.scorer_usd)}, optimizer {usd(cost.optimizer_usd)})"
        )
    known = [value for value in (cost.scorer_usd, cost.optimizer_usd) if value]
    rest = f"; the rest about {usd(sum(known))}" if known else ""
    return f"unknown (litellm has no price for {', '.join(cost.unpriced)}){rest}"
