"""How a run ended, and its numbers as ``summary.json`` holds them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from opro_cli.core.candidates import CandidateState
from opro_cli.core.significance import Comparison
from opro_cli.rundir import Improvement, PromptScores, Summary, Usage

RunEnd = Literal["completed", "budget_exhausted"]


@dataclass(frozen=True)
class Outcome:
    status: RunEnd
    reason: str | None
    winner: CandidateState
    best_seed: CandidateState
    seeds: tuple[CandidateState, ...]
    candidates: tuple[CandidateState, ...]
    comparison: Comparison | None
    steps_completed: int
    usage: Usage
    notes: tuple[str, ...] = ()


def prompt_scores(state: CandidateState) -> PromptScores:
    c = state.candidate
    return PromptScores(
        id=c.id,
        text=c.text,
        step=c.step,
        origin=c.origin,
        train=state.score("train"),
        val=state.score("val"),
        test=state.score("test"),
    )


def improvement(comparison: Comparison) -> Improvement:
    return Improvement(
        test_delta=comparison.delta,
        ci_low=comparison.low,
        ci_high=comparison.high,
        ci_level=comparison.level,
        n=comparison.n,
        p_value=comparison.p_value,
        method=comparison.method,
        significant=comparison.significant,
        detectable_gain=comparison.detectable_gain,
        missing=comparison.missing,
    )


def outcome_summary(outcome: Outcome) -> Summary:
    """The numbers of an outcome, as summary.json holds them (without the run's name, folder and
    duration, which the application adds)."""
    return Summary(
        status=outcome.status,
        reason=outcome.reason,
        best=prompt_scores(outcome.winner),
        best_seed=prompt_scores(outcome.best_seed),
        seeds=tuple(prompt_scores(s) for s in outcome.seeds),
        improvement=None if outcome.comparison is None else improvement(outcome.comparison),
        steps_completed=outcome.steps_completed,
        candidates=len(outcome.candidates),
        usage=outcome.usage,
        notes=outcome.notes,
    )
