"""How many model calls a run plans, as a pure function of its config and split sizes."""

from __future__ import annotations

from dataclasses import dataclass

from opro_cli.core.config import LoopConfig


@dataclass(frozen=True)
class SplitSizes:
    train: int
    val: int
    test: int


def planned_calls(config: LoopConfig, sizes: SplitSizes) -> dict[str, int]:
    """Model calls for the whole run if every step runs and no proposal is dropped."""
    seeds = len(config.seed_texts)
    k = config.proposals.candidates_per_step
    steps = config.budget.steps
    finalists = min(config.selection.top_k, seeds + steps * k) + seeds
    plan = {
        "seeds": seeds * sizes.train,
        "steps": steps * step_calls(config, sizes),
        "validation": finalists * sizes.val,
        "test": (1 + seeds) * sizes.test,
    }
    if config.judge is not None:  # one judge call per scorer call
        plan["judge"] = plan["seeds"] + steps * k * sizes.train + plan["validation"] + plan["test"]
    return plan


def step_calls(config: LoopConfig, sizes: SplitSizes) -> int:
    """Calls of one step: the optimizer's samples, then each proposal on the train split (the
    judge's calls, one per answer, are counted apart: see ``planned_calls``)."""
    k = config.proposals.candidates_per_step
    return k + k * sizes.train


def optimizer_calls(config: LoopConfig) -> int:
    return config.budget.steps * config.proposals.candidates_per_step
