"""Where the instruction goes (the paper's four placements), in one table.

Each placement says how the scorer's messages are built from an instruction and an example's
input. ``PLACEMENTS[position]`` is the only switch on positions: an unknown one is a
``KeyError``, never a silent default.

``a_begin`` (the instruction starts the answer) needs a model that continues a final assistant
message ("prefill"): the embedded local model and Anthropic's models do. For other models the
instruction and the question go in the user's turn as ``Q: ... A: <instruction>``, as the
paper's code does for completion models. The meta-prompt's exemplars are drawn from the very
messages the scorer gets (``render``), so the optimizer sees where its instruction lands.
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
    # the same for a model that continues a final assistant message
    prefilled: Callable[[str, str], Messages] | None = None


def _user(content: str) -> Messages:
    return [{"role": "user", "content": content}]


PLACEMENTS: dict[Position, Placement] = {
    "system": Placement("system", lambda ins, x: [{"role": "system", "content": ins}, *_user(x)]),
    "q_begin": Placement("q_begin", lambda ins, x: _user(f"{ins}\n{x}")),
    "q_end": Placement("q_end", lambda ins, x: _user(f"{x}\n{ins}")),
    "a_begin": Placement(
        "a_begin",
        lambda ins, x: _user(f"Q: {x}\nA: {ins}"),
        lambda ins, x: [*_user(x), {"role": "assistant", "content": ins}],
    ),
}


def scorer_messages(
    instruction: str, example_input: str, position: Position, *, prefill: bool = False
) -> Messages:
    """The scorer's chat messages: the instruction placed as ``position`` says (``prefill``:
    the model continues a final assistant message); with no instruction, the input alone."""
    instruction = instruction.strip()
    if not instruction:
        return _user(example_input)
    placement = PLACEMENTS[position]
    if prefill and placement.prefilled is not None:
        return placement.prefilled(instruction, example_input)
    return placement.messages(instruction, example_input)


def render(messages: Messages) -> str:
    """Messages as the meta-prompt shows them: one ``Role: content`` block each, ending where
    the model's answer begins (after a prefilled assistant message, or an empty ``Assistant:``).
    """
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
    if not messages or messages[-1]["role"] != "assistant":
        lines.append("Assistant:")
    return "\n".join(lines)
