"""The choice metric: which option an answer picks, by text or, where options are lettered,
by letter; an answer offering two options picks none (pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from opro_cli.metrics.base import ExampleLike, ScoreFn
from opro_cli.metrics.text import word_search
from opro_cli.spec import MetricSpec

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


def choice_metric(spec: MetricSpec) -> ScoreFn:
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
        match = word_search(option, text, re.IGNORECASE, start) if option else None
        if match is not None:
            key = (match.start(), -len(option), index, match.end())
            if best is None or key < best:
                best = key
    return (best[2], best[0], best[3]) if best is not None else None
