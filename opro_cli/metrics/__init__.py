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

from collections.abc import Callable

from opro_cli.errors import MetricError
from opro_cli.metrics.base import (
    USAGE,
    ExampleLike,
    Metric,
    MetricExample,
    ScoreFn,
    as_score,
    normalize,
)
from opro_cli.metrics.choice import choice_metric, shows_letters
from opro_cli.metrics.custom import load_python
from opro_cli.metrics.structured import extract_json, json_metric
from opro_cli.metrics.text import (
    contains_metric,
    exact_match_metric,
    extract_number,
    f1,
    numeric_metric,
    regex_metric,
)
from opro_cli.spec import MetricSpec

__all__ = [
    "USAGE",
    "ExampleLike",
    "Metric",
    "MetricExample",
    "as_score",
    "build_metric",
    "extract_json",
    "extract_number",
    "f1",
    "normalize",
    "shows_letters",
]


def _judged_by_the_loop(prediction: str, example: ExampleLike) -> float:
    raise MetricError("metric 'judge': scored by the judge model in the loop, not here")


def build_metric(spec: MetricSpec) -> Metric:
    """Return the metric the spec names; a ``python`` metric is imported and a ``json``
    metric's schema is read here (``MetricError`` when they cannot be)."""
    if spec.name == "python":
        return load_python(spec.python or "")
    if spec.name == "judge":  # graded by a model, which the loop calls (core.judge)
        return Metric("judge", "metric 'judge'", _judged_by_the_loop)
    factories: dict[str, Callable[[MetricSpec], ScoreFn]] = {
        "exact_match": exact_match_metric,
        "contains": contains_metric,
        "regex": regex_metric,
        "numeric": numeric_metric,
        "choice": choice_metric,
        "f1": lambda _spec: lambda prediction, example: f1(prediction, example.target),
        "json": json_metric,
    }
    return Metric(spec.name, f"metric '{spec.name}'", factories[spec.name](spec))
