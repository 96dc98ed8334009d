"""What a reader must know to trust a run's numbers, one sentence each (summary.json "notes")."""

from __future__ import annotations

from opro_cli.core.candidates import TRUNCATION_WARNING_SHARE, CandidateState
from opro_cli.core.significance import Comparison
from opro_cli.rundir import SPLITS, Usage

CEILING = (
    "no instruction beat the seed significantly: the wording of the instruction is probably not "
    "the bottleneck; look at the task definition (is the label set clear?), the model (is it "
    "able to do the task?) and the data (are the labels right?)"
)


def run_notes(
    usage: Usage,
    max_tokens: int | None,
    winner: CandidateState,
    best_seed: CandidateState,
    comparison: Comparison | None,
    *,
    eligible_winner: bool,
) -> tuple[str, ...]:
    notes: list[str] = []
    if usage.failed_calls:
        notes.append(
            f"{usage.failed_calls} calls failed after their retries; they are missing data, not "
            "wrong answers (`opro resume RUN_DIR` makes them again)"
        )
    if not eligible_winner:
        notes.append(
            "no finalist answered 95% of its examples: the winner was picked among "
            "incomplete candidates"
        )
    for label, state in (("winner", winner), ("seed", best_seed)):
        for split in SPLITS:
            share = state.truncation_share(split)
            if share > TRUNCATION_WARNING_SHARE:
                notes.append(
                    f"{share:.0%} of the {label}'s {split} answers were cut at max_tokens "
                    f"({max_tokens}): raise scorer.max_tokens"
                )
                break
    if comparison is not None:
        if comparison.missing:
            notes.append(
                f"the test comparison is missing {comparison.missing} examples (failed "
                "calls): gates fail until `opro resume` answers them"
            )
        if not comparison.significant:
            notes.append(CEILING)
    return tuple(notes)
