"""Build the optimizer's meta-prompt (Yang et al. 2023, section 3).

Pure functions: the history of (instruction, score) pairs, shown best last with integer scores
0-100, then a few training exemplars showing where the instruction goes (exactly as the scorer
gets it), optionally some examples the best instruction gets wrong, then the request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from opro_cli.core.placement import Position, render, scorer_messages
from opro_cli.data import Example

INS = "<INS>"


@dataclass(frozen=True)
class Scored:
    text: str
    score: float  # 0..1


def bucketize(score: float, buckets: int = 100) -> int:
    """Round a 0..1 score to ``buckets`` levels and show it on a 0-100 scale."""
    clipped = min(max(score, 0.0), 1.0)
    return round(round(clipped * buckets) / buckets * 100)


def select_history(history: Sequence[Scored], size: int) -> list[Scored]:
    """The ``size`` best entries in ascending score order (best last, as in the paper).

    Ties keep their original order, so an earlier instruction is shown before a later one.
    """
    indexed = sorted(enumerate(history), key=lambda pair: (-pair[1].score, pair[0]))[:size]
    indexed.sort(key=lambda pair: (pair[1].score, pair[0]))
    return [entry for _, entry in indexed]


@dataclass(frozen=True)
class Mistake:
    """A train example the best instruction gets wrong: what it was asked, what was expected,
    what the scorer answered."""

    input: str
    expected: str
    answer: str
    reason: str | None = None  # the judge's reason for the grade, when a judge graded it


def exemplar_block(example: Example, position: Position, *, prefill: bool = False) -> str:
    """One worked example: the scorer's messages with ``<INS>`` where the instruction goes."""
    question = render(scorer_messages(INS, example.input, position, prefill=prefill))
    return f"input:\n{question}\noutput:\n{example.target}"


def mistake_block(mistake: Mistake) -> str:
    block = f"input:\n{mistake.input}\nexpected:\n{mistake.expected}\nanswer:\n{mistake.answer}"
    return block + (f"\nwhy it falls short:\n{mistake.reason}" if mistake.reason else "")


def build_meta_prompt(
    *,
    task: str,
    history: Sequence[Scored],
    exemplars: Sequence[Example],
    position: Position,
    history_size: int,
    buckets: int = 100,
    max_instruction_chars: int | None = None,
    prefill: bool = False,
    mistakes: Sequence[Mistake] = (),
) -> str:
    parts = [
        f"Your task is to write an instruction {INS} for this task: {task.strip()}",
        "Below are some previous instructions with their scores. "
        "The score ranges from 0 to 100; higher is better.",
    ]
    for entry in select_history(history, history_size):
        parts.append(f"text:\n{entry.text}\nscore:\n{bucketize(entry.score, buckets)}")
    if exemplars:
        parts.append(
            f"Below are some problems. {INS} marks where the instruction is placed, "
            "and output is the expected answer."
        )
        parts.extend(exemplar_block(example, position, prefill=prefill) for example in exemplars)
    if mistakes:
        parts.append(
            "Below are some problems the best instruction so far gets wrong, with the expected "
            "output and the answer it produced."
        )
        parts.extend(mistake_block(mistake) for mistake in mistakes)
    length = f" Keep it under {max_instruction_chars} characters." if max_instruction_chars else ""
    parts.append(
        "Write a new instruction that is different from all the instructions above and has a "
        "higher score than all of them. It should be concise, effective, and generally "
        f"applicable to all problems above.{length} Write only the instruction, starting with "
        f"{INS} and ending with </INS>."
    )
    return "\n\n".join(parts)
