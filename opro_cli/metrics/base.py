"""The metric seam: ``Metric`` (a checked scoring function with a name), what a metric
sees of an example, and the check every score passes."""

from __future__ import annotations

import asyncio
import inspect
import numbers
import string
import unicodedata
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from opro_cli.errors import MetricError
from opro_cli.spec import MetricSpec

RANGE_HINT = "return a number between 0 and 1 (or True/False)"
USAGE = (
    "define def {name}(prediction, target) or def {name}(prediction, example): ... "
    "returning a number between 0 and 1"
)


class ExampleLike(Protocol):
    """What a metric reads from an example; ``opro_cli.data.Example`` fits. A ``fields``
    mapping (the row's columns), where the object has one, reaches custom metrics."""

    @property
    def id(self) -> str | None: ...

    @property
    def input(self) -> str: ...

    @property
    def target(self) -> str: ...

    @property
    def options(self) -> Sequence[str] | None: ...


@dataclass(frozen=True)
class MetricExample:
    """The example as a custom metric sees it (``def score(prediction, example)``)."""

    id: str | None
    input: str
    target: str
    options: tuple[str, ...] | None
    fields: Mapping[str, Any]  # the row's columns as read from the file (read-only)

    @classmethod
    def of(cls, example: ExampleLike) -> MetricExample:
        if isinstance(example, MetricExample):
            return example
        options = tuple(example.options) if example.options is not None else None
        fields = getattr(example, "fields", None)
        return cls(
            example.id,
            example.input,
            example.target,
            options,
            MappingProxyType(dict(fields) if fields is not None else {}),
        )


@dataclass(frozen=True)
class _Bare:
    """An example known only by target and options (the three-argument call)."""

    target: str
    options: Sequence[str] | None
    id: str | None = None
    input: str = ""


ScoreFn = Callable[[str, ExampleLike], Any]


@dataclass(frozen=True, eq=False)
class Metric:
    """A scoring function with its checks.

    ``score`` runs in the caller's thread; ``ascore`` is safe to await on the event loop (a
    custom sync function runs in a worker thread, an ``async def`` one is awaited, built-ins
    run inline). Calling the metric as ``metric(prediction, target, options)`` is the old form,
    kept until every caller passes examples.
    """

    name: str  # the spec's metric name
    where: str  # how messages name it: "metric 'choice'", "/p/m.py: function 'score'"
    fn: ScoreFn  # returns the raw value, or an awaitable of it when ``is_async``
    is_async: bool = False
    user_code: bool = False  # a user's function: run off the event loop, its exceptions caught

    @property
    def __name__(self) -> str:  # callers name a metric as they would a function
        return self.name

    def score(self, prediction: str, example: ExampleLike) -> float:
        """The checked score of ``prediction`` for ``example``; ``MetricError`` otherwise."""
        if self.is_async:
            value = _run_to_completion(lambda: self._acall(prediction, example))
        else:
            value = self._call(prediction, example)
        return as_score(value, self.where, example.id)

    async def ascore(self, prediction: str, example: ExampleLike) -> float:
        """``score`` for the event loop: never blocks it on a user's function."""
        if self.is_async:
            value = await self._acall(prediction, example)
        elif self.user_code:
            value = await asyncio.to_thread(self._call, prediction, example)
        else:
            value = self._call(prediction, example)
        return as_score(value, self.where, example.id)

    def __call__(self, prediction: str, target: str, options: Sequence[str] | None = None) -> float:
        return self.score(prediction, _Bare(target, options))

    def _call(self, prediction: str, example: ExampleLike) -> Any:
        if not self.user_code:
            return self.fn(prediction, example)
        try:
            return self.fn(prediction, example)
        except MetricError:
            raise
        except (Exception, SystemExit) as exc:  # the user's function can raise anything
            raise _raised(self.where, example.id, exc) from exc

    async def _acall(self, prediction: str, example: ExampleLike) -> Any:
        try:
            return await self.fn(prediction, example)
        except MetricError:
            raise
        except (Exception, SystemExit) as exc:  # the user's function can raise anything
            raise _raised(self.where, example.id, exc) from exc


def normalize(text: str, spec: MetricSpec) -> str:
    """Apply the spec's ``ignore_punctuation``, ``ignore_case`` and ``ignore_whitespace``."""
    if spec.ignore_punctuation:
        text = strip_punctuation(text)
    if spec.ignore_case:
        text = text.casefold()
    if spec.ignore_whitespace:
        text = " ".join(text.split())
    return text


def strip_punctuation(text: str) -> str:
    return "".join(
        ch for ch in text if ch not in string.punctuation and unicodedata.category(ch)[0] != "P"
    )


# ---------------------------------------------------------------------------------------------
# Checking a score


def as_score(value: Any, where: str, example_id: str | None = None) -> float:
    """``value`` as a score in [0, 1]; True/False and numpy scalars count; else ``MetricError``
    naming ``where`` and the example."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalars, np.bool_ included
    if isinstance(value, bool):
        return float(value)
    who = on_example(where, example_id)
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never awaited, on purpose: no "never awaited" warning
        raise MetricError(
            f"{who} returned an awaitable, not a number",
            hint="define the function with async def so opro awaits it",
        )
    if not isinstance(value, numbers.Real):
        raise MetricError(f"{who} returned {describe_value(value)}", hint=RANGE_HINT)
    score = float(value)
    if not 0.0 <= score <= 1.0:  # also catches nan and inf
        raise MetricError(f"{who} returned {short_repr(value)}, outside [0, 1]", hint=RANGE_HINT)
    return score


def on_example(where: str, example_id: str | None) -> str:
    return where if example_id is None else f"{where} on example '{example_id}'"


def _raised(where: str, example_id: str | None, exc: BaseException) -> MetricError:
    return MetricError(
        f"{on_example(where, example_id)} raised {one_line_error(exc)}", hint="fix the function"
    )


def _run_to_completion(start: Callable[[], Awaitable[Any]]) -> Any:
    """Run an awaitable from sync code: here if no event loop runs in this thread, else in a
    worker thread with its own loop (``asyncio.run`` cannot nest)."""

    async def main() -> Any:
        return await start()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


# ---------------------------------------------------------------------------------------------


def one_line_error(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def describe_value(value: Any) -> str:
    if value is None:
        return "None (no return statement?)"
    return f"{type(value).__name__} {short_repr(value)}"


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


MISSING: Any = object()  # no value: a column the row does not have, a field a value lacks
