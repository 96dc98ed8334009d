"""Which of the optimizer's answers become new candidates (pure)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from opro_cli.core.candidates import CandidateState
from opro_cli.core.config import Proposals
from opro_cli.core.metaprompt import Mistake
from opro_cli.core.parse import Shown, normalize, parse_instruction
from opro_cli.data import Example
from opro_cli.rundir import Sample, SampleStatus


def admit(sample: Sample, proposals: Proposals, shown: Shown, seen: set[str]) -> Sample:
    """Read an optimizer answer and decide whether its instruction is a new candidate: the
    sample with its instruction and status (``accepted``, or why not). ``seen`` holds the
    normalised instructions so far; an accepted one is added to it."""
    if sample.output is None:
        return replace(sample, status="failed")
    parsed = parse_instruction(sample.output, mode=proposals.parse, shown=shown)
    text = parsed.instruction
    status: SampleStatus
    if text is None:
        status = parsed.status if parsed.status != "tagged" else "empty"
    elif len(text) > proposals.max_instruction_chars:
        status = "too_long"
    elif normalize(text) in seen:
        status = "duplicate"
    else:
        seen.add(normalize(text))
        status = "accepted"
    return replace(sample, instruction=text, status=status, tagged=parsed.tagged)


@dataclass(frozen=True)
class ShownMistake:
    example_id: str
    shown: Mistake


def pick_mistakes(
    best: CandidateState | None, train: Sequence[Example], wanted: int, rng: random.Random
) -> list[ShownMistake]:
    """Up to ``wanted`` train examples the best so far gets wrong (answered, below 1), drawn
    with ``rng``, as the meta-prompt shows them (``optimizer.show_errors``)."""
    if wanted <= 0 or best is None:
        return []
    result = best.result("train")
    by_id = {e.id: e for e in train}
    wrong = [
        e
        for ex in train
        if (e := result.evaluations.get(ex.id)) is not None
        and e.score is not None
        and e.score < 1.0
    ]
    return [
        ShownMistake(
            e.example_id,
            Mistake(
                by_id[e.example_id].input,
                by_id[e.example_id].target,
                e.output if e.output is not None else "",
                e.judge_reason,
            ),
        )
        for e in rng.sample(wrong, min(wanted, len(wrong)))
    ]
