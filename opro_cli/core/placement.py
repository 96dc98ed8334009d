"""Where the instruction goes (the paper's four placements), in one table.

Each placement says how the scorer's messages are built from an instruction and an example's
input, and how the meta-prompt shows an exemplar with ``<INS>`` in the instruction's place.
``PLACEMENTS[position]`` is the only switch on positions: an unknown one is a ``KeyError``,
never a silent default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

Position = Literal["system", "q_begin", "q_end", "a_begin"]
POSITIONS: tuple[Position, ...] = get_args(Position)
Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Placement:
    position: Position
    # (instruction, example input) -> the scorer's messages; the instruction is non-empty
    messages: Callable[[str, str], Messages]
    # (placeholder, example input) -> how the meta-prompt shows the question
    exemplar: Callable[[str, str], str]


def _user(content: str) -> Messages:
    return [{"role": "user", "content": content}]


PLACEMENTS: dict[Position, Placement] = {
    "system": Placement(
        "system",
        lambda ins, x: [{"role": "system", "content": ins}, *_user(x)],
        lambda ins, x: f"System: {ins}\nUser: {x}\nAssistant:",
    ),
    "q_begin": Placement(
        "q_begin",
        lambda ins, x: _user(f"{ins}\n{x}"),
        lambda ins, x: f"Q: {ins}\n{x}\nA:",
    ),
    "q_end": Placement(
        "q_end",
        lambda ins, x: _user(f"{x}\n{ins}"),
        lambda ins, x: f"Q: {x}\n{ins}\nA:",
    ),
    "a_begin": Placement(
        "a_begin",
        lambda ins, x: _user(f"Q: {x}\nA: {ins}"),
        lambda ins, x: f"Q: {x}\nA: {ins}",
    ),
}


def scorer_messages(instruction: str, example_input: str, position: Position) -> Messages:
    """The scorer's chat messages: the instruction placed as ``position`` says; with no
    instruction, the input alone."""
    instruction = instruction.strip()
    if not instruction:
        return _user(example_input)
    return PLACEMENTS[position].messages(instruction, example_input)
