"""A rough price of a planned run, before any call: prompt sizes estimated from the data, the
seed prompts and the task; answers as long as ``max_tokens`` allows; prices from LiteLLM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from opro_cli.data import Splits
from opro_cli.formatting import usd
from opro_cli.models.base import CallParams
from opro_cli.spec import RunSpec

# Assumptions of the cost estimate (rough on purpose: it is shown as "about")
CHARS_PER_TOKEN = 4  # a rough average for English text
MESSAGE_TOKENS = 8  # role markers and formatting around each call's messages
INSTRUCTION_CHARS = 150  # a typical proposed instruction (longer seeds count as they are)
META_PROMPT_CHARS = 700  # the meta-prompt's fixed wording
HISTORY_ENTRY_CHARS = 20  # "text:" and "score:" around each instruction in the history
EXEMPLAR_CHARS = 60  # the wording around each exemplar's input and target
ANSWER_TOKENS_UNCAPPED = 256  # assumed answer length where max_tokens is not set


JUDGE_PROMPT_CHARS = 500  # the judge prompt's fixed wording around the rubric


@dataclass(frozen=True)
class PlannedCost:
    """A model's cost is None when LiteLLM has no price for it (never guessed as zero)."""

    scorer_usd: float | None
    optimizer_usd: float | None
    scorer_tokens: int
    optimizer_tokens: int
    unpriced: tuple[str, ...]
    judge_usd: float | None = 0.0
    judge_tokens: int = 0

    @property
    def total_usd(self) -> float | None:
        parts = (self.scorer_usd, self.optimizer_usd, self.judge_usd)
        return None if any(p is None for p in parts) else sum(p or 0.0 for p in parts)

    @property
    def tokens(self) -> int:
        return self.scorer_tokens + self.optimizer_tokens + self.judge_tokens


def planned_cost(spec: RunSpec, splits: Splits, plan: dict[str, int]) -> PlannedCost:
    from opro_cli.models.litellm_client import estimate_cost

    optimizer_calls = spec.budget.steps * spec.optimizer.candidates_per_step
    judge_calls = plan.get("judge", 0)
    scorer_calls = sum(plan.values()) - optimizer_calls - judge_calls
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

    scorer_answer = answer(spec.scorer.max_tokens)
    scorer = (scorer_calls * _tokens(instruction + avg_input), scorer_calls * scorer_answer)
    optimizer = (optimizer_calls * _tokens(meta_chars), optimizer_calls * answer(opt.max_tokens))
    scorer_usd = _price(estimate_cost, spec.scorer.call_params(), scorer_calls, scorer)
    optimizer_usd = _price(estimate_cost, opt.call_params(), optimizer_calls, optimizer)
    judge = spec.metric.judge
    judge_tokens = (0, 0)
    judge_usd: float | None = 0.0
    if judge is not None:
        prompt = JUDGE_PROMPT_CHARS + len(judge.rubric) + avg_input + avg_target
        judge_tokens = (
            judge_calls * (_tokens(prompt) + scorer_answer),
            judge_calls * answer(judge.max_tokens),
        )
        judge_usd = _price(estimate_cost, judge.call_params(), judge_calls, judge_tokens)
    priced = (
        (spec.scorer.model, scorer_usd),
        (opt.model, optimizer_usd),
        (judge.model if judge else "", judge_usd),
    )
    unpriced = [model for model, usd in priced if usd is None]
    return PlannedCost(
        scorer_usd,
        optimizer_usd,
        sum(scorer),
        sum(optimizer),
        tuple(dict.fromkeys(unpriced)),
        judge_usd,
        sum(judge_tokens),
    )


def _price(
    estimate: Callable[..., float | None],
    params: CallParams,
    calls: int,
    tokens: tuple[int, int],
) -> float | None:
    return estimate(params.model, *tokens, params.prices) if calls else 0.0


def _tokens(chars: float) -> int:
    return MESSAGE_TOKENS + int(-(-chars // CHARS_PER_TOKEN))


def describe_cost(cost: PlannedCost, *, in_process: bool) -> str:
    """The planned cost as the run's first lines show it (``in_process``: every model runs in
    this process, so $0 is exact)."""
    total = cost.total_usd
    if total == 0:
        return "$0 (in-process models)" if in_process else "$0"
    if total is not None:
        judge = f", judge {usd(cost.judge_usd)}" if cost.judge_tokens else ""
        return (
            f"about {usd(total)} (estimate for {cost.tokens:,} tokens: "
            f"scorer {usd(cost.scorer_usd)}, optimizer {usd(cost.optimizer_usd)}{judge})"
        )
    known = [value for value in (cost.scorer_usd, cost.optimizer_usd, cost.judge_usd) if value]
    rest = f"; the rest about {usd(sum(known))}" if known else ""
    return f"unknown (litellm has no price for {', '.join(cost.unpriced)}){rest}"
