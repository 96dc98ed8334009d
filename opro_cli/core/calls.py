"""Small pieces the loop runs on: what it needs of a metric, what a resumed run already did,
stable seeds, and a gather that cancels the rest when one call fails."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from opro_cli.data import Example
from opro_cli.rundir import Evaluation, Sample

T = TypeVar("T")


class Scorer(Protocol):
    """What the loop needs of a metric: a checked score in [0, 1], safe to await."""

    async def ascore(self, prediction: str, example: Example) -> float: ...


@dataclass(frozen=True)
class Prior:
    """What an interrupted run already did, so a resumed run does not call again. Only answered
    calls belong here: a failed one is made again."""

    evaluations: Mapping[tuple[str, str, str], Evaluation] = field(default_factory=dict)
    samples: Mapping[tuple[int, int], Sample] = field(default_factory=dict)


def derive_seed(*parts: object) -> int:
    """A stable 31-bit seed from any parts (Python's ``hash`` is salted per process)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


async def gather_all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Like ``asyncio.gather`` but cancels the others as soon as one fails."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
