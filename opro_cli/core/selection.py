"""Which candidates lead and which one wins (pure): the ranking on train, the finalists' order
on validation, and who may win at all."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from opro_cli.core.candidates import MAX_FAILED_SHARE, CandidateState


def ranked(states: Mapping[str, CandidateState], n_train: int) -> list[CandidateState]:
    """Every candidate with a train score: those that can win first, then best first; ties go to
    the earlier one (``states`` is in the order candidates appeared)."""
    order = {cid: i for i, cid in enumerate(states)}
    return sorted(
        (s for s in states.values() if s.score("train") is not None),
        key=lambda s: (not s.eligible(n_train), -(s.score("train") or 0.0), order[s.candidate.id]),
    )


def best(states: Mapping[str, CandidateState], n_train: int) -> CandidateState | None:
    """The best candidate that can win (scored on all of train, few failed calls)."""
    leaders = ranked(states, n_train)
    return leaders[0] if leaders and leaders[0].eligible(n_train) else None


def can_be_winner(state: CandidateState, n_train: int) -> bool:
    """Eligible on train, and at most ``MAX_FAILED_SHARE`` of its validation calls failed."""
    if not state.eligible(n_train):
        return False
    val = state.results.get("val")
    return val is None or val.failed <= MAX_FAILED_SHARE * max(val.scored, 1)


def selection_key(
    states: Mapping[str, CandidateState],
) -> Callable[[CandidateState], tuple[float, float, int]]:
    """The order of finalists: validation score, then train score, then the earlier one."""
    order = {cid: i for i, cid in enumerate(states)}

    def key(state: CandidateState) -> tuple[float, float, int]:
        val, train = state.score("val"), state.score("train")
        return (
            val if val is not None else -1.0,
            train if train is not None else -1.0,
            -order[state.candidate.id],
        )

    return key
