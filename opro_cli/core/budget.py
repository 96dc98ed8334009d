"""When a run stops early: a budget the next step would break, and patience running out."""

from __future__ import annotations

import math

from opro_cli.core.candidates import CandidateState
from opro_cli.core.config import LoopConfig
from opro_cli.core.plan import SplitSizes, planned_calls, step_calls
from opro_cli.rundir import Usage


def over_budget(
    config: LoopConfig, sizes: SplitSizes, used: Usage, elapsed_s: float, step: int
) -> str | None:
    """Why the next step would break a budget, or None when it fits."""
    budget = config.budget
    plan = planned_calls(config, sizes)
    next_calls = step_calls(config, sizes) + plan["validation"] + plan["test"]
    if config.judge is not None:  # a judge call for every answer but the optimizer's
        next_calls += next_calls - config.proposals.candidates_per_step
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
        per_step = elapsed_s / step
        if elapsed_s + per_step > budget.max_minutes * 60:
            return f"max_minutes {budget.max_minutes:g}: {elapsed_s / 60:.1f} min used"
    return None


def improved(before: CandidateState | None, after: CandidateState | None, n_train: int) -> bool:
    """Whether the best moved up by more than noise (``budget.patience``): one standard error
    of the previous best's train score, and at least one more example right."""
    if after is None:
        return False
    if before is None:
        return True
    old, new = before.score("train"), after.score("train")
    if old is None or new is None:
        return new is not None
    n = max(n_train, 1)
    noise = max(math.sqrt(old * (1 - old) / n), 1 / n)
    return new - old > noise - 1e-12
