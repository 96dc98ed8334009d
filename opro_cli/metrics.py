"""Scoring functions: ``build_metric(spec) -> Metric``, where a metric maps
``(prediction, target, options)`` to a score in [0, 1].

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
                 picks by letter ("B", "(B)", "Answer: B") or else by text, where the option that
                 appears first wins ("positive"/"negative" labels); see ``_picks``
    f1           SQuAD token F1: lowercase, drop punctuation and a/an/the, count shared tokens;
                 both empty -> 1
    python       ``python: /abs/path/file.py:function`` called as ``function(prediction, target)``;
                 True/False become 1/0, other numbers must lie in [0, 1]; every problem with the
                 file or its return value is a ``MetricError``

All metrics are pure except ``python``, which imports the user's file once, in ``build_metric``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import math
import numbers
import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from opro_cli.errors import MetricError
from opro_cli.spec import MetricSpec

Metric = Callable[[str, str, Sequence[str] | None], float]


def build_metric(spec: MetricSpec) -> Metric:
    """Return the scoring function the spec names; a ``python`` metric is loaded here."""
    factories: dict[str, Callable[[MetricSpec], Metric]] = {
        "exact_match": _exact_match_metric,
        "contains": _contains_metric,
        "regex": _regex_metric,
        "numeric": _numeric_metric,
        "choice": _choice_metric,
        "f1": lambda _spec: _f1,
        "python": lambda spec: _load_python(spec.python or ""),
    }
    return factories[spec.name](spec)


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
# exact_match, contains, regex


def _exact_match_metric(spec: MetricSpec) -> Metric:
    def exact_match(prediction: str, target: str, options: Sequence[str] | None = None) -> float:
        return float(normalize(prediction, spec) == normalize(target, spec))

    return exact_match


def _contains_metric(spec: MetricSpec) -> Metric:
    def contains(prediction: str, target: str, options: Sequence[str] | None = None) -> float:
        needle = normalize(target, spec)
        haystack = normalize(prediction, spec)
        if not needle:
            return float(not haystack)
        return float(_word_search(needle, haystack) is not None)

    return contains


def _word_search(phrase: str, text: str, flags: int = 0) -> int | None:
    """Start of the first whole-word occurrence of ``phrase`` in ``text`` (any whitespace between
    its words), or None."""
    body = r"\s+".join(re.escape(word) for word in phrase.split())
    match = re.search(rf"(?<!\w){body}(?!\w)", text, flags)
    return match.start() if match else None


def _regex_metric(spec: MetricSpec) -> Metric:
    pattern = re.compile(spec.pattern or "")

    def regex(prediction: str, target: str, options: Sequence[str] | None = None) -> float:
        match = pattern.search(prediction)
        found = match.group(1 if pattern.groups else 0) if match else None
        if found is None:
            return 0.0
        return float(normalize(found, spec) == normalize(target, spec))

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


def _numeric_metric(spec: MetricSpec) -> Metric:
    def numeric(prediction: str, target: str, options: Sequence[str] | None = None) -> float:
        got, want = extract_number(prediction), extract_number(target)
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


def _choice_metric(spec: MetricSpec) -> Metric:
    def choice(prediction: str, target: str, options: Sequence[str] | None = None) -> float:
        return float(_picks(prediction, target, options if options else spec.choices or ()))

    return choice


def _picks(prediction: str, target: str, options: Sequence[str]) -> bool:
    """Whether the prediction picks the target among ``options``.

    The target is an option's text (any case) or its letter ("B", "(B)"). The prediction picks by
    letter ("B", "(B)", "B)", "Answer: B") or else by text: the option found earliest, as whole
    words in any case, wins, and the longest wins a tie. With no options, a letter target is
    compared letter to letter and a text target is the only candidate (as ``contains``). A text
    target missing from the options is added as a candidate that has no letter.
    """
    candidates = [_trim(option) for option in options]
    lettered = len(candidates)
    bare = _BARE_LETTER_RE.match(target)
    target_letter = ord(bare[1].upper()) - ord("A") if bare else None
    folded = [option.casefold() for option in candidates]
    if _trim(target).casefold() in folded:
        want = folded.index(_trim(target).casefold())
    elif target_letter is not None and (target_letter < lettered or not lettered):
        want = target_letter
    else:
        candidates.append(_trim(target))
        want = len(candidates) - 1
    # Without options, letters count only against a letter target.
    got = _letter_index(prediction, lettered if lettered else (0 if candidates else 26))
    if got is None:
        got = _earliest_option(prediction, candidates)
    return got == want


def _trim(text: str) -> str:
    """Option text as compared: whitespace collapsed, outer quotes and a final period dropped."""
    return " ".join(text.split()).strip("\"'").removesuffix(".").strip()


def _letter_index(text: str, count: int) -> int | None:
    """Option index named by a letter in ``text`` (A -> 0), if below ``count``."""
    for pattern in _LETTER_RES:
        for match in pattern.finditer(text):
            index = ord(match.group(1).upper()) - ord("A")
            if index < count:
                return index
    return None


def _earliest_option(text: str, candidates: Sequence[str]) -> int | None:
    """Index of the candidate whose text starts earliest in ``text``; ties go to the longest."""
    best: tuple[int, int, int] | None = None  # (start, -length, index)
    for index, option in enumerate(candidates):
        start = _word_search(option, text, re.IGNORECASE) if option else None
        if start is not None and (best is None or (start, -len(option), index) < best):
            best = (start, -len(option), index)
    return best[2] if best is not None else None


# ---------------------------------------------------------------------------------------------
# f1


def _squad_tokens(text: str) -> list[str]:
    text = _strip_punctuation(text.lower())
    return re.sub(r"\b(a|an|the)\b", " ", text).split()


def _f1(prediction: str, target: str, options: Sequence[str] | None = None) -> float:
    got, want = _squad_tokens(prediction), _squad_tokens(target)
    if not got or not want:
        return float(got == want)
    same = sum((Counter(got) & Counter(want)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(got), same / len(want)
    return 2 * precision * recall / (precision + recall)


# ---------------------------------------------------------------------------------------------
# python: a user's function


def _load_python(reference: str) -> Metric:
    file, _, name = reference.rpartition(":")
    path = Path(file)
    usage = f"define def {name}(prediction, target): ... returning a number between 0 and 1"
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
    except Exception as exc:  # user code at import time can raise anything
        del sys.modules[module_name]
        problem = f"{path}: importing it raised {_one_line(exc)}"
        raise MetricError(problem, hint="fix the file") from None

    fn = getattr(module, name, None)
    where = f"{path}: function '{name}'"
    if fn is None:
        raise MetricError(f"{where} not found", hint=usage)
    if not callable(fn):
        raise MetricError(f"{where} is not callable (found {type(fn).__name__})", hint=usage)
    try:
        inspect.signature(fn).bind("prediction", "target")
    except TypeError:
        raise MetricError(f"{where} cannot take (prediction, target)", hint=usage) from None
    except ValueError:  # no signature to inspect (some builtins); find out on the first call
        pass

    def python(prediction: str, target: str, options: Sequence[str] | None = None) -> float:
        try:
            value = fn(prediction, target)
        except Exception as exc:  # the user's function can raise anything
            raise MetricError(f"{where} raised {_one_line(exc)}", hint="fix the function") from exc
        return _as_score(value, where)

    return python


def _as_score(value: Any, where: str) -> float:
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalars, np.bool_ included
    if isinstance(value, bool):
        return float(value)
    if not isinstance(value, numbers.Real):
        raise MetricError(
            f"{where} returned {_describe(value)}",
            hint="return a number between 0 and 1 (or True/False)",
        )
    score = float(value)
    if not 0.0 <= score <= 1.0:  # also catches nan and inf
        raise MetricError(
            f"{where} returned {_short_repr(value)}, outside [0, 1]",
            hint="return a number between 0 and 1 (or True/False)",
        )
    return score


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
