"""Deterministic scripts for the test models, by name. ``conftest.test_models`` serves them
through ``ScriptedClient`` (core tests) and through the loopback OpenAI-compatible server (CLI
runs, in this process or a child), where a spec names them as ``openai/<name>``.

The scorer answers "even"/"odd" for inputs like "item 7". How often it is right depends on how
many magic words the instruction holds, so better instructions really score higher:
0 words -> 0 %, 1 -> 25 %, 2 -> 50 %, 3 -> 75 %, 4 -> 100 %.
"""

from __future__ import annotations

import re
from typing import Any

MAGIC = ("carefully", "label", "one word", "parity")
PROPOSALS = (
    "Answer carefully.",
    "Label the item carefully.",
    "Label the item carefully in one word.",
    "Think about it.",
    "Label the parity carefully in one word.",
    "answer carefully",  # a duplicate of the first after normalisation
)


def quality(text: str) -> int:
    lower = text.lower()
    return sum(1 for word in MAGIC if word in lower)


def parity_scorer(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    content = "\n".join(m["content"] for m in messages)
    number = int(re.search(r"item (\d+)", content).group(1))  # type: ignore[union-attr]
    truth = "even" if number % 2 == 0 else "odd"
    wrong = "odd" if truth == "even" else "even"
    return truth if number % 4 < quality(content) else wrong


def proposer(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    seed = int(params.get("seed") or 0)
    return f"Here is my idea.\n<INS>{PROPOSALS[seed % len(PROPOSALS)]}</INS>"


def echo(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    return messages[-1]["content"]


def parity_rows(n: int) -> list[dict[str, str]]:
    return [
        {"id": f"e{i:03d}", "text": f"item {i}", "label": "even" if i % 2 == 0 else "odd"}
        for i in range(n)
    ]


def slow_parity_scorer(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """The parity scorer, a little slower, so a test can kill a run in the middle."""
    import time

    time.sleep(0.01)
    return parity_scorer(messages, params)


SCRIPTS = {
    "parity": parity_scorer,
    "proposer": proposer,
    "echo": echo,
    "slow-parity": slow_parity_scorer,
}


class RecordedSleep:
    """An injectable ``sleep`` for ``LiteLLMClient``: records each delay and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
