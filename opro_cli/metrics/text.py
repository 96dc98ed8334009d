"""Metrics on text: exact_match, contains, regex, numeric and f1 (pure)."""

from __future__ import annotations

import math
import re
from collections import Counter

from opro_cli.metrics.base import ExampleLike, ScoreFn, normalize, strip_punctuation
from opro_cli.spec import MetricSpec

# exact_match, contains, regex


def exact_match_metric(spec: MetricSpec) -> ScoreFn:
    def exact_match(prediction: str, example: ExampleLike) -> float:
        return float(normalize(prediction, spec) == normalize(example.target, spec))

    return exact_match


def contains_metric(spec: MetricSpec) -> ScoreFn:
    def contains(prediction: str, example: ExampleLike) -> float:
        needle = normalize(example.target, spec)
        haystack = normalize(prediction, spec)
        if not needle:
            return float(not haystack)
        return float(word_search(needle, haystack) is not None)

    return contains


def word_search(phrase: str, text: str, flags: int = 0, start: int = 0) -> re.Match[str] | None:
    """The first whole-word occurrence of ``phrase`` in ``text`` at or after ``start`` (any
    whitespace between its words), or None."""
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", flags).search(text, start)


def regex_metric(spec: MetricSpec) -> ScoreFn:
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


def numeric_metric(spec: MetricSpec) -> ScoreFn:
    def numeric(prediction: str, example: ExampleLike) -> float:
        got, want = extract_number(prediction), extract_number(example.target)
        if got is None or want is None:
            return 0.0
        return float(abs(got - want) <= spec.tolerance)

    return numeric


# ---------------------------------------------------------------------------------------------
# ---------------------------------------------------------------------------------------------
# f1


def _squad_tokens(text: str) -> list[str]:
    text = strip_punctuation(text.lower())
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
