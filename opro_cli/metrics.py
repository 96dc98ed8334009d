"""Scoring: ``build_metric(spec) -> Metric``; ``metric.score(prediction, example)`` is a score in
[0, 1] for one answer to one example.

    exact_match  equal after normalisation (``ignore_case``, ``ignore_whitespace`` strips and
                 collapses runs, ``ignore_punctuation`` deletes punctuation); nothing more lenient
    contains     the normalised target occurs in the normalised prediction as whole words
                 ("no" does not match "not" or "know"); an empty target matches an empty answer
    regex        the first match of ``pattern`` in the prediction (group 1 if the pattern has
                 groups, else the whole match), compared to the target as ``exact_match`` does;
                 no match -> 0
    numeric      the last number in the prediction against the number in the target, equal when
                 ``abs(a - b) <= tolerance`` (absolute only). Reads "1,234", "-3.5", "$12" (12),
                 "12%" (12, not 0.12), "1/2" (0.5) and "1e3"; no number -> 0
    choice       multiple choice over the example's ``options``, else ``choices``: the answer
                 picks by text (the option that appears first) or, only where the options are
                 lettered (see ``letters`` on ``MetricSpec``), by letter ("B", "(B)",
                 "Answer: B"); an answer that offers two options ("positive/negative",
                 "A or B") picks none; see ``_picks``
    f1           SQuAD token F1: lowercase, drop punctuation and a/an/the, count shared tokens;
                 both empty -> 1
    json         the answer's first JSON value (the whole answer, else a fenced block, else the
                 first object or array in the text), valid against ``schema`` if given, compared
                 with the target's JSON: the whole value, or each of ``fields`` (exact or F1),
                 averaged. An answer that is not JSON or breaks the schema scores 0.
    python       ``python: /abs/path/file.py:function``, sync or ``async def``; see
                 ``_binding`` for how its parameters are filled (``(prediction, target)`` as
                 before, or ``(prediction, example)``, or parameters named after the example's
                 parts and the row's columns)

Every score is checked: a metric whose value is not a number in [0, 1] (NaN, 1.5, "yes", None)
or whose function raises (``SystemExit`` included; ``KeyboardInterrupt`` is left alone) gives a
``MetricError`` naming the metric and, where the caller passes one, the example. Built-in metrics
are pure; ``python`` imports the user's file and ``json`` reads its schema, once, in
``build_metric``.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import inspect
import json
import math
import numbers
import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
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


def build_metric(spec: MetricSpec) -> Metric:
    """Return the metric the spec names; a ``python`` metric is imported and a ``json``
    metric's schema is read here (``MetricError`` when they cannot be)."""
    if spec.name == "python":
        return _load_python(spec.python or "")
    factories: dict[str, Callable[[MetricSpec], ScoreFn]] = {
        "exact_match": _exact_match_metric,
        "contains": _contains_metric,
        "regex": _regex_metric,
        "numeric": _numeric_metric,
        "choice": _choice_metric,
        "f1": lambda _spec: lambda prediction, example: f1(prediction, example.target),
        "json": _json_metric,
    }
    return Metric(spec.name, f"metric '{spec.name}'", factories[spec.name](spec))


def normalize(text: str, spec: MetricSpec) -> str:
    """Apply the spec's ``ignore_punctuation``, ``ignore_case`` and ``ignore_whitespace``."""
    if spec.ignore_punctuation:
        text = _strip_punctuation(text)
    if spec.ignore_case:
        text = text.casefold()
    if spec.ignore_whitespace:
        text = " ".join(text.split())
    return text


def _strip_punctuation(text: str) -> str:
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
    who = _on(where, example_id)
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # never awaited, on purpose: no "never awaited" warning
        raise MetricError(
            f"{who} returned an awaitable, not a number",
            hint="define the function with async def so opro awaits it",
        )
    if not isinstance(value, numbers.Real):
        raise MetricError(f"{who} returned {_describe(value)}", hint=RANGE_HINT)
    score = float(value)
    if not 0.0 <= score <= 1.0:  # also catches nan and inf
        raise MetricError(f"{who} returned {_short_repr(value)}, outside [0, 1]", hint=RANGE_HINT)
    return score


def _on(where: str, example_id: str | None) -> str:
    return where if example_id is None else f"{where} on example '{example_id}'"


def _raised(where: str, example_id: str | None, exc: BaseException) -> MetricError:
    return MetricError(f"{_on(where, example_id)} raised {_one_line(exc)}", hint="fix the function")


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
# exact_match, contains, regex


def _exact_match_metric(spec: MetricSpec) -> ScoreFn:
    def exact_match(prediction: str, example: ExampleLike) -> float:
        return float(normalize(prediction, spec) == normalize(example.target, spec))

    return exact_match


def _contains_metric(spec: MetricSpec) -> ScoreFn:
    def contains(prediction: str, example: ExampleLike) -> float:
        needle = normalize(example.target, spec)
        haystack = normalize(prediction, spec)
        if not needle:
            return float(not haystack)
        return float(_word_search(needle, haystack) is not None)

    return contains


def _word_search(phrase: str, text: str, flags: int = 0, start: int = 0) -> re.Match[str] | None:
    """The first whole-word occurrence of ``phrase`` in ``text`` at or after ``start`` (any
    whitespace between its words), or None."""
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", flags).search(text, start)


def _regex_metric(spec: MetricSpec) -> ScoreFn:
    pattern = re.compile(spec.pattern or "")

    def regex(prediction: str, example: ExampleLike) -> float:
        match = pattern.search(prediction)
        found = match.group(1 if pattern.groups else 0) if match else None
        if found is None:
            return 0.0
        return float(normalize(found, spec) == normalize(example.target, spec))

    return regex


# ---------------------------------------------------------------------------------------------
# numeric

_SIGN = r"(?P<sign>(?<![\w.])[-+\u2212])?"  # a sign not glued to a word: "10-20" is 10 and 20
_FRACTION = r"(?P<num>\d+)/(?P<den>\d+)(?![\d.,/])"
_DECIMAL = r"(?P<dec>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER_RE = re.compile(rf"{_SIGN}(?:{_FRACTION}|{_DECIMAL})")


def extract_number(text: str) -> float | None:
    """The last number written in ``text``, or None when there is none."""
    value = None
    for match in _NUMBER_RE.finditer(text):
        if match["den"] is not None:
            if int(match["den"]) == 0:
                continue
            number = int(match["num"]) / int(match["den"])
        else:
            number = float(match[0].lstrip("+-\u2212").replace(",", ""))
        if not math.isfinite(number):
            continue
        value = -number if match["sign"] in ("-", "\u2212") else number
    return value


def _numeric_metric(spec: MetricSpec) -> ScoreFn:
    def numeric(prediction: str, example: ExampleLike) -> float:
        got, want = extract_number(prediction), extract_number(example.target)
        if got is None or want is None:
            return 0.0
        return float(abs(got - want) <= spec.tolerance)

    return numeric


# ---------------------------------------------------------------------------------------------
# choice

# Ways an answer names an option by letter, strongest first. A bare "A" inside a sentence is an
# article, not an answer, so it is never read as a letter.
_BARE_LETTER_RE = re.compile(r"^\W*([A-Za-z])\W*$")  # the whole text: "B", "(b)", "B)", "**B**"
_LETTER_RES = (
    _BARE_LETTER_RE,
    re.compile(r"(?i:\banswer)\s*(?:(?i:is)\b)?\s*[:=]?\s*\(?([A-Z])\b"),  # "Answer: B"
    re.compile(r"(?<!\w)\(([A-Za-z])\)"),  # "(B)" anywhere
    re.compile(r"^\s*([A-Z])[).:]\s"),  # "B) positive", "B. positive"
)
# What may stand between two options an answer offers together: "positive/negative",
# "positive or negative", "**A** or **B**", "either A or B". A comma alone ("bad, not good")
# or any other word ("Negative, not positive") does not join them.
_FILLER = r"[\s,;*_\"'`()\[\]-]*"
_JOIN_RE = re.compile(
    rf"{_FILLER}(?:(?:[/|\\&+]|\b(?:and/or|or|and|nor|vs\.?|versus)\b){_FILLER})+", re.IGNORECASE
)
_LETTER_PAIR_RE = re.compile(
    r"\W*([A-Za-z])\W*(?:[/|\\&+]|\b(?:or|and|nor)\b)\W*([A-Za-z])\W*", re.IGNORECASE
)
_LETTER_AFTER_RE = re.compile(r"\(([A-Za-z])\)|([A-Z])(?!\w)")  # "(c)", "C"; not the article "a"


def _choice_metric(spec: MetricSpec) -> ScoreFn:
    def choice(prediction: str, example: ExampleLike) -> float:
        options = example.options if example.options else spec.choices or ()
        lettered = spec.letters if isinstance(spec.letters, bool) else None
        if lettered is None:
            lettered = bool(_BARE_LETTER_RE.match(example.target)) or shows_letters(
                example.input, options
            )
        return float(_picks(prediction, example.target, options, lettered=lettered))

    return choice


def shows_letters(text: str, options: Sequence[str]) -> bool:
    """Whether ``text`` lists every option after its letter: "(A) cat", "A) cat", "A. cat",
    "A: cat", "[A] cat" or "A - cat" (A for the first option, B for the second, ...)."""
    if not options or len(options) > 26:
        return False
    for index, option in enumerate(options):
        letter = chr(ord("A") + index)
        words = r"\s+".join(re.escape(word) for word in _trim(option).split())
        marker = rf"(?:\({letter}\)|\[{letter}\]|{letter}[).:\]]|{letter}\s+-)"
        if not re.search(rf"(?<!\w){marker}\s*{words}(?!\w)", text, re.IGNORECASE):
            return False
    return True


def _picks(prediction: str, target: str, options: Sequence[str], *, lettered: bool) -> bool:
    """Whether the prediction picks the target among ``options``.

    The target is an option's text (any case) or its letter ("B", "(B)"). When ``lettered``,
    the prediction may pick by letter ("B", "(B)", "B)", "Answer: B"); otherwise, and when no
    letter is found, it picks by text: the option found earliest, as whole words in any case,
    wins, and the longest wins a tie. An answer that offers two different options joined by
    "/", "or", "and", "|" ... picks none. With no options, a letter target is compared letter
    to letter and a text target is the only candidate (as ``contains``). A text target missing
    from the options is added as a candidate that has no letter.
    """
    candidates = [_trim(option) for option in options]
    bare = _BARE_LETTER_RE.match(target)
    target_letter = ord(bare[1].upper()) - ord("A") if bare else None
    folded = [option.casefold() for option in candidates]
    if _trim(target).casefold() in folded:
        want = folded.index(_trim(target).casefold())
    elif target_letter is not None and (target_letter < len(candidates) or not candidates):
        want = target_letter
    else:
        candidates.append(_trim(target))
        want = len(candidates) - 1
    if options:
        letters = len(options) if lettered else 0
    else:  # without options, letters count only against a letter target
        letters = 26 if target_letter is not None and want == target_letter else 0
    got = _letter_index(prediction, letters)
    if got is None:
        got = _earliest_option(prediction, candidates)
    return got == want


def _trim(text: str) -> str:
    """Option text as compared: whitespace collapsed, outer quotes and a final period dropped."""
    return " ".join(text.split()).strip("\"'").removesuffix(".").strip()


def _letter_index(text: str, count: int) -> int | None:
    """Option index named by a letter in ``text`` (A -> 0), if below ``count``; ``-1`` when the
    text offers two letters ("A or B", "(A)/(B)")."""
    if count <= 0:
        return None
    for pattern in _LETTER_RES:
        for match in pattern.finditer(text):
            index = ord(match.group(1).upper()) - ord("A")
            if index < count:
                return -1 if _offers_another_letter(text, match.end(), index, count) else index
    pair = _LETTER_PAIR_RE.fullmatch(text)  # "A or B", "A/B" as the whole answer
    if pair is not None:
        first, second = (ord(letter.upper()) - ord("A") for letter in pair.groups())
        if first < count and second < count:
            return first if first == second else -1
    return None


def _offers_another_letter(text: str, end: int, index: int, count: int) -> bool:
    join = _JOIN_RE.match(text, end)
    if join is None:
        return False
    other = _LETTER_AFTER_RE.match(text, join.end())
    if other is None:
        return False
    other_index = ord((other.group(1) or other.group(2)).upper()) - ord("A")
    return other_index != index and other_index < count


def _earliest_option(text: str, candidates: Sequence[str]) -> int | None:
    """Index of the candidate whose text starts earliest in ``text`` (ties go to the longest),
    or ``-1`` when the next option named right after it is a different one joined to it by
    "/", "or", "and", ... ("positive/negative")."""
    first = _next_mention(text, candidates, 0)
    if first is None:
        return None
    index, _, end = first
    join = _JOIN_RE.match(text, end)
    if join is not None:
        following = _next_mention(text, candidates, end)
        if following is not None and following[0] != index and following[1] <= join.end():
            return -1
    return index


def _next_mention(text: str, candidates: Sequence[str], start: int) -> tuple[int, int, int] | None:
    """(index, start, end) of the candidate found earliest at or after ``start``; the longest
    wins a tie."""
    best: tuple[int, int, int, int] | None = None  # (start, -length, index, end)
    for index, option in enumerate(candidates):
        match = _word_search(option, text, re.IGNORECASE, start) if option else None
        if match is not None:
            key = (match.start(), -len(option), index, match.end())
            if best is None or key < best:
                best = key
    return (best[2], best[0], best[3]) if best is not None else None


# ---------------------------------------------------------------------------------------------
# f1


def _squad_tokens(text: str) -> list[str]:
    text = _strip_punctuation(text.lower())
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def f1(prediction: str, target: str) -> float:
    """SQuAD token F1 of two texts; 1 when both have no tokens."""
    got, want = _squad_tokens(prediction), _squad_tokens(target)
    if not got or not want:
        return float(got == want)
    same = sum((Counter(got) & Counter(want)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(got), same / len(want)
    return 2 * precision * recall / (precision + recall)


# ---------------------------------------------------------------------------------------------
# json

_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)
_MISSING: Any = object()  # no value: an answer with no JSON, a field a value does not have
JSON_WHERE = "metric 'json'"


def extract_json(text: str) -> Any:
    """The JSON value an answer gives, or ``_MISSING``: the whole text if it is JSON, else the
    first fenced block that is, else the first object or array that parses in the text."""
    decoder = json.JSONDecoder()
    stripped = text.strip()
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python recurses
        pass
    for block in _FENCE_RE.finditer(text):
        try:
            return json.loads(block.group(1))
        except (ValueError, RecursionError):
            continue
    for match in re.finditer(r"[\[{]", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        except RecursionError:
            break  # so is every later start inside it: no answer nests this deep
        return value
    return _MISSING


def _json_metric(spec: MetricSpec) -> ScoreFn:
    validator = _load_schema(Path(spec.json_schema)) if spec.json_schema else None
    fields = [_path(field) for field in spec.fields] if spec.fields is not None else None

    def json_match(prediction: str, example: ExampleLike) -> float:
        want = _target_json(example)
        got = extract_json(prediction)
        if got is _MISSING:
            return 0.0
        if validator is not None and not _valid(validator, got, spec.json_schema, example):
            return 0.0
        if fields is None:
            return float(_same(got, want, spec))
        scores = [_field_score(_get(got, path), _get(want, path), spec) for path in fields]
        return math.fsum(scores) / len(scores)

    return json_match


def _load_schema(path: Path) -> Any:
    from jsonschema import SchemaError, validators

    where = f"{path}"
    hint = "metric.schema names a JSON Schema file, relative to the spec"
    if not path.is_file():
        raise MetricError(f"{where}: schema file not found", hint=hint)
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise MetricError(f"{where}: not UTF-8 text", hint="save the schema as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise MetricError(
            f"{where}:{exc.lineno}: not valid JSON ({exc.msg})", hint="fix the schema file"
        ) from None
    except OSError as exc:
        raise MetricError(f"{where}: cannot read ({exc.strerror})") from None
    if not isinstance(schema, dict | bool):
        raise MetricError(
            f"{where}: a JSON Schema is an object, not {type(schema).__name__}",
            hint='e.g. {"type": "object", "required": ["name"]}',
        )
    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        at = "/".join(str(part) for part in exc.path)
        raise MetricError(
            f"{where}: not a valid JSON Schema ({'at ' + at + ': ' if at else ''}{exc.message})",
            hint="fix the schema file",
        ) from None
    return cls(schema)


def _valid(validator: Any, value: Any, schema: str | None, example: ExampleLike) -> bool:
    from referencing.exceptions import Unresolvable

    try:
        return bool(validator.is_valid(value))
    except Unresolvable as exc:
        raise MetricError(
            f"{_on(JSON_WHERE, example.id)}: the schema {schema} refers to {exc}, which opro "
            "cannot resolve",
            hint="put the referenced schema inside the file; opro does not fetch schemas",
        ) from None


def _target_json(example: ExampleLike) -> Any:
    try:
        return json.loads(example.target)
    except ValueError:
        raise MetricError(
            f"{_on(JSON_WHERE, example.id)}: the target is not JSON "
            f"({_short_repr(example.target)})",
            hint='the target column must hold JSON, e.g. {"name": "Ada", "city": "London"}',
        ) from None


def _path(field: str) -> tuple[str, ...]:
    return tuple(field.split("."))


def _get(value: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path; a number indexes a list; ``_MISSING`` when there is none."""
    for part in path:
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
        if value is _MISSING:
            return value
    return value


def _field_score(got: Any, want: Any, spec: MetricSpec) -> float:
    if spec.field_match == "f1":
        return f1(_as_text(got), _as_text(want))
    return float(_same(got, want, spec))


def _same(got: Any, want: Any, spec: MetricSpec) -> bool:
    """JSON equality with the spec's text normalisation on strings and ``tolerance`` on numbers;
    a missing field equals null; true is not 1."""
    got = None if got is _MISSING else got
    want = None if want is _MISSING else want
    if isinstance(got, str) and isinstance(want, str):
        return normalize(got, spec) == normalize(want, spec)
    if isinstance(got, bool) or isinstance(want, bool):
        return isinstance(got, bool) and isinstance(want, bool) and got == want
    if isinstance(got, int | float) and isinstance(want, int | float):
        return abs(got - want) <= spec.tolerance
    if isinstance(got, dict) and isinstance(want, dict):
        keys = {k for k, v in got.items() if v is not None} | {
            k for k, v in want.items() if v is not None
        }
        return all(_same(got.get(k), want.get(k), spec) for k in keys)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(
            _same(g, w, spec) for g, w in zip(got, want, strict=True)
        )
    return got is None and want is None


def _as_text(value: Any) -> str:
    """A field's words for F1: strings as they are, lists and objects by their leaves."""
    if value is _MISSING or value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return " ".join(_as_text(v) for v in value.values())
    if isinstance(value, list):
        return " ".join(_as_text(v) for v in value)
    return json.dumps(value)


# ---------------------------------------------------------------------------------------------
# python: a user's function

_PARTS = ("example", "target", "input", "options", "id", "fields")


def _load_python(reference: str) -> Metric:
    file, _, name = reference.rpartition(":")
    path = Path(file)
    usage = USAGE.format(name=name)
    if not path.is_file():
        raise MetricError(f"{path}: file not found", hint="check metric.python: FILE.py:FUNCTION")
    module_name = "_opro_metric_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise MetricError(f"{path}: not a Python file", hint="give a .py file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up here
    try:
        loader_spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        where = f"{path}:{exc.lineno}" if exc.lineno else str(path)
        raise MetricError(f"{where}: syntax error ({exc.msg})", hint="fix the file") from None
    except (Exception, SystemExit) as exc:  # user code at import time can raise anything
        del sys.modules[module_name]
        problem = f"{path}: importing it raised {_one_line(exc)}"
        raise MetricError(problem, hint="fix the file") from None

    fn = getattr(module, name, None)
    where = f"{path}: function '{name}'"
    if fn is None:
        raise MetricError(f"{where} not found", hint=usage)
    if not callable(fn):
        raise MetricError(f"{where} is not callable (found {type(fn).__name__})", hint=usage)
    call = _binding(fn, where, usage)
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    )
    return Metric("python", where, call, is_async=is_async, user_code=True)


@dataclass(frozen=True)
class _Param:
    name: str
    source: str  # "prediction", one of _PARTS, or "column"
    positional: bool
    required: bool


def _binding(fn: Callable[..., Any], where: str, usage: str) -> ScoreFn:
    """How to call a user's function with one answer and its example.

    The parameter named ``prediction``, else the first positional one, gets the prediction.
    Every other parameter is filled by its name: ``example`` (a ``MetricExample``), ``target``,
    ``input``, ``options``, ``id``, ``fields`` (the row's columns), or a column of the row;
    one with a default keeps it when the row has no such column. One exception keeps
    ``def score(pred, gold)`` working: a second positional parameter with any other name gets
    the target. ``*args`` and ``**kwargs`` get nothing.
    """
    try:
        signature = inspect.signature(fn)
    except ValueError:  # no signature to inspect (some builtins): the old two-argument call
        return lambda prediction, example: fn(prediction, example.target)
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [
        p
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    names = [p.name for p in params]
    positional = [p for p in params if p.kind in kinds]
    if "prediction" in names:
        prediction = names.index("prediction")
    elif positional:
        prediction = names.index(positional[0].name)
    else:
        raise MetricError(f"{where} cannot take (prediction, target)", hint=usage)
    plan: list[_Param] = []
    for i, p in enumerate(params):
        if i == prediction:
            source = "prediction"
        elif p.name in _PARTS:
            source = p.name
        elif i == 1 and prediction == 0 and p.kind in kinds:
            source = "target"  # def score(pred, gold): the old call
        else:
            source = "column"
        required = p.default is inspect.Parameter.empty
        plan.append(_Param(p.name, source, p.kind in kinds, required))
    if not any(p.source in ("target", "example") for p in plan) and not any(
        p.source != "prediction" and p.required for p in plan
    ):
        # Only the prediction (def score(prediction)): a metric must see what is right.
        raise MetricError(f"{where} cannot take (prediction, target)", hint=usage)
    steps = tuple(plan)
    takes_example = any(p.source in ("example", "fields", "column") for p in steps)

    def call(prediction: str, example: ExampleLike) -> Any:
        view = MetricExample.of(example) if takes_example else None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        gap = False
        for step in steps:
            value = _fill(step, prediction, example, view)
            if value is _MISSING:
                if step.required:
                    raise MetricError(
                        f"{_on(where, example.id)}: parameter '{step.name}' is not "
                        f"prediction, {', '.join(_PARTS)} or a column of the row",
                        hint="rename the parameter, give it a default, or add the column",
                    )
                gap = gap or step.positional
                continue
            if step.positional and not gap:
                args.append(value)
            else:
                kwargs[step.name] = value
        return fn(*args, **kwargs)

    return call


def _fill(step: _Param, prediction: str, example: ExampleLike, view: MetricExample | None) -> Any:
    if step.source == "prediction":
        return prediction
    if step.source == "target":
        return example.target
    if step.source == "input":
        return example.input
    if step.source == "id":
        return example.id
    if step.source == "options":
        return tuple(example.options) if example.options is not None else None
    assert view is not None  # built for every source below
    if step.source == "example":
        return view
    if step.source == "fields":
        return view.fields
    return view.fields.get(step.name, _MISSING)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _describe(value: Any) -> str:
    if value is None:
        return "None (no return statement?)"
    return f"{type(value).__name__} {_short_repr(value)}"


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
