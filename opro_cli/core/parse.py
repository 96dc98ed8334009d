"""Turn optimizer output into instructions: extract, clean, normalise, identify (pure).

``parse_instruction(output, mode=..., shown=...) -> Parsed`` reads one optimizer answer:

- text between ``<INS>`` and ``</INS>`` (an unclosed tag runs to the end, a second ``<INS>`` ends
  the first) is the instruction: status ``tagged``. Leading preamble lines inside the tags are
  dropped ("Here is the new instruction:"); the first tagged text that is an instruction wins,
  unless an exemplar copy comes before it (the answer is reciting the prompt).
- an answer without tags is ``untagged``. ``mode="strict"`` never admits it; ``"lenient"``
  admits its first line that is not a preamble.
- never admitted, tagged or not: a preamble (``preamble``: "Here is ...", "Okay, ...", "Sure",
  "Certainly", a line ending with ':', talk about "a new instruction" or "a higher score"), a
  copy of an exemplar the optimizer was shown (``exemplar_copy``), text that is only a score or
  a label (``score_or_label``), and nothing at all (``empty``).

Duplicates of earlier instructions are not judged here: the optimizer's ``normalize``-keyed set
of every instruction it has seen (history included) owns that.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

ParseMode = Literal["strict", "lenient"]
ParseStatus = Literal["tagged", "untagged", "preamble", "exemplar_copy", "score_or_label", "empty"]

_TAGGED = re.compile(r"<INS>(.*?)(?:</INS>|(?=<INS>)|$)", re.IGNORECASE | re.DOTALL)
_TAG_DEBRIS = re.compile(r"</?\s*INS[A-Z]*\s*>?", re.IGNORECASE)  # </INS>, <INSPECTOR>, "<INSP"
_LABEL = re.compile(
    r"^(?:(?:new|improved|better|revised|updated|final|my)\s+)?"
    r"(?:instruction|text|prompt)\s*:\s*",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^(?:[-*•>]|\d+[.)])\s+")
_QUOTES = "\"'`“”‘’"
_PREAMBLE_START = re.compile(
    r"^(?:here\s+(?:is|are)\b|here'?s\b|below\s+is\b|"
    r"(?:sure|okay|ok|certainly|of\s+course|absolutely|alright)\b|great\s*(?:[!,.:;]|$)|"
    r"i\s+(?:will|would|am|can)\b|i'(?:ll|d|m)\b|as\s+an\s+ai\b)",
    re.IGNORECASE,
)
# Talk about the optimizer's own task, not an instruction for the scorer.
_META_TALK = re.compile(
    r"\b(?:(?:an?|this|my|new|previous|above|better|improved|different|revised|original|"
    r"sample|concise|effective|following)\s+instructions?\b|higher\s+score|previous\s+scores?)",
    re.IGNORECASE,
)
_SCAFFOLD = re.compile(r"^(?:q|a|input|output|text|score|system|user|assistant)\s*:\s*", re.I)
_SCORE = re.compile(
    r"^(?:(?:the\s+)?(?:new\s+|final\s+|my\s+)?score\s*(?:[:=]|is\b|of\b|was\b|\d).*"
    r"|[-+]?\d+(?:[.,]\d+)?\s*%?(?:\s*/\s*\d+)?)$",
    re.IGNORECASE | re.DOTALL,
)
_MIN_COPY_WORDS = 3  # an exemplar input shorter than this is a copy only when it is all there is
_NEAR_WORDS = 5  # a near copy shares at least this many words, in order, with an input line
_NEAR_RATIO = 0.6  # and this difflib ratio
_RUN_WORDS = 6  # or this many words in a row


class Exemplar(Protocol):
    @property
    def input(self) -> str: ...

    @property
    def target(self) -> str: ...


@dataclass(frozen=True)
class Shown:
    """What the optimizer saw, so that an answer copying it can be told from an instruction:
    the exemplars as (input, target) and any other labels (e.g. a choice metric's choices)."""

    exemplars: tuple[tuple[str, str], ...] = ()
    labels: tuple[str, ...] = ()

    @classmethod
    def of(cls, exemplars: Iterable[Exemplar], labels: Sequence[str] = ()) -> Shown:
        return cls(tuple((e.input, e.target) for e in exemplars), tuple(labels))


@dataclass(frozen=True)
class Parsed:
    """One optimizer answer read: the instruction to admit (None when there is none) and why."""

    instruction: str | None
    status: ParseStatus
    tagged: bool  # the answer had <INS> tags

    @property
    def admitted(self) -> bool:
        return self.instruction is not None


def parse_instruction(
    output: str, *, mode: ParseMode = "lenient", shown: Shown | None = None
) -> Parsed:
    """Read one optimizer answer; see the module docstring for the rules."""
    shown = shown if shown is not None else Shown()
    if "<ins>" in output.lower():
        rejected: ParseStatus | None = None
        for match in _TAGGED.finditer(output):
            text, status = _judge_tagged(match.group(1), shown)
            if status == "tagged":
                return Parsed(text, "tagged", True)
            if status == "exemplar_copy":  # reciting the exemplars: what follows is more of it
                return Parsed(None, status, True)
            if rejected is None or (rejected == "empty" and status != "empty"):
                rejected = status
        return Parsed(None, rejected if rejected is not None else "empty", True)
    text, status = _judge_untagged(output, shown)
    if status == "untagged" and mode == "lenient":
        return Parsed(text, "untagged", False)
    return Parsed(None, status, False)


def extract_instruction(output: str) -> str | None:
    """The instruction in an optimizer's answer, or None: ``parse_instruction`` in lenient mode
    with nothing shown (kept for callers that want only the text)."""
    return parse_instruction(output).instruction


def _judge_tagged(raw: str, shown: Shown) -> tuple[str | None, ParseStatus]:
    lines = _TAG_DEBRIS.sub("", raw).splitlines()
    saw_preamble = False
    # Leading lines that introduce the instruction go; a line ending with ':' stays when more
    # follows ("Classify the ticket as one of:" / "billing, technical, ...").
    while lines and (not _clean(lines[0]) or _is_preamble(_clean(lines[0]), colon=False)):
        saw_preamble = saw_preamble or bool(lines[0].strip())
        lines.pop(0)
    text = _clean("\n".join(lines))
    if not text or ("\n" not in text and _is_preamble(text)):
        return None, "preamble" if saw_preamble or text else "empty"
    return text, _rejection(text, shown) or "tagged"


def _judge_untagged(output: str, shown: Shown) -> tuple[str | None, ParseStatus]:
    saw_preamble = False
    for raw in output.splitlines():
        line = _clean(_TAG_DEBRIS.sub("", raw))
        if not line or _is_preamble(line):
            saw_preamble = saw_preamble or bool(raw.strip())
            continue
        return line, _rejection(line, shown) or "untagged"
    return None, "preamble" if saw_preamble else "empty"


def _rejection(text: str, shown: Shown) -> ParseStatus | None:
    if _is_scaffold(text):
        return "preamble"
    if _is_score_or_label(text, shown):
        return "score_or_label"
    if _META_TALK.search(text):
        return "preamble"
    if _copies_an_exemplar(text, shown):
        return "exemplar_copy"
    return None


def _clean(text: str) -> str:
    text = text.strip()
    text = _BULLET.sub("", text)
    text = re.sub(r"^\*\*(.*)\*\*$", r"\1", text).strip()  # **Instruction:** bold lines
    text = _LABEL.sub("", text).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def _is_preamble(line: str, *, colon: bool = True) -> bool:
    """A line that introduces an answer instead of being one: an opening such as "Here is" or
    "Okay", or (with ``colon``) any line ending with ':'."""
    bare = line.strip().strip("*_#").strip()
    if not bare:
        return True
    if _SCORE.match(bare):
        return False  # a score, refused as one
    if colon and bare.endswith(":"):
        return True
    return bool(_PREAMBLE_START.match(bare))


def _is_scaffold(text: str) -> bool:
    """Only the meta-prompt's labels, with nothing after them ("input:\nUser:")."""
    return all(not _SCAFFOLD.sub("", line).strip(" :") for line in text.splitlines())


def _is_score_or_label(text: str, shown: Shown) -> bool:
    if _SCORE.match(text.strip()):
        return True
    labels = {_words(target) for _, target in shown.exemplars} | {_words(x) for x in shown.labels}
    labels.discard("")
    return _words(text) in labels


def _copies_an_exemplar(text: str, shown: Shown) -> bool:
    """Whether ``text`` copies an exemplar's input: holds all of it (a short input: is all of
    it), is a piece of it (at least a few words, as an answer cut off by ``max_tokens`` is), or
    one of its lines nearly matches a line of an input (``_RUN_WORDS`` words in a row, or at
    least ``_NEAR_WORDS`` words in common, in order, and a ``difflib`` ratio of
    ``_NEAR_RATIO``: "The language app makes daily practice fun and improves your skills."
    copies "The language app makes daily practice fun and I'm actually improving."). Lines
    that every exemplar shares are template text, not a copy; with one exemplar only the first
    rule applies, as nothing tells template from content."""
    lines = [_words(_SCAFFOLD.sub("", line)) for line in text.splitlines()]
    body = " ".join(line for line in lines if line)
    if not body:
        return False
    inputs = [example_input for example_input, _ in shown.exemplars]
    line_sets = [{_words(line) for line in x.splitlines()} - {""} for x in inputs]
    shared = set.intersection(*line_sets) if len(line_sets) > 1 else set()
    for example_input, input_lines in zip(inputs, line_sets, strict=True):
        whole = _words(example_input)
        if whole and (body == whole or _holds(body, whole)):
            return True
        if len(inputs) < 2:
            continue
        own = [piece for piece in input_lines if piece not in shared]
        if _holds(" ".join(own), body) or any(_near(a, b) for a in lines for b in own):
            return True
    return False


def _holds(body: str, piece: str) -> bool:
    return len(piece.split()) >= _MIN_COPY_WORDS and f" {piece} " in f" {body} "


def _near(line: str, piece: str) -> bool:
    a, b = line.split(), piece.split()
    if min(len(a), len(b)) < _NEAR_WORDS:
        return False
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    blocks = matcher.get_matching_blocks()
    if max(block.size for block in blocks) >= _RUN_WORDS:
        return True
    common = sum(block.size for block in blocks)
    return common >= _NEAR_WORDS and matcher.ratio() >= _NEAR_RATIO


def _words(text: str) -> str:
    """Lower-case words separated by single spaces: how copies are compared."""
    return " ".join(re.findall(r"\w+", text.lower()))


def normalize(text: str) -> str:
    """The form used to spot duplicates: lower case, single spaces, no edge punctuation."""
    text = re.sub(r"\s+", " ", text.lower()).strip()
    return text.strip(" .!?;:\"'`")


def candidate_id(text: str) -> str:
    """A candidate's identity: the sha256 of its text (first 16 hex digits)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
