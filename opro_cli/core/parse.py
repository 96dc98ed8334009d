"""Turn optimizer output into instructions: extract, clean, normalise, identify (pure)."""

from __future__ import annotations

import hashlib
import re

_TAGGED = re.compile(r"<INS>(.*?)(?:</INS>|<INS>|$)", re.IGNORECASE | re.DOTALL)
_LABEL = re.compile(r"^(?:new\s+)?(?:instruction|text|prompt)\s*:\s*", re.IGNORECASE)
_BULLET = re.compile(r"^(?:[-*•]|\d+[.)])\s+")
_QUOTES = "\"'`“”‘’"


def extract_instruction(output: str) -> str | None:
    """The instruction in an optimizer's answer, or None when there is none.

    Prefers the first non-empty text between ``<INS>`` and ``</INS>`` (an unclosed tag runs to
    the end); without tags, falls back to the first line that is not a preamble.
    """
    for match in _TAGGED.finditer(output):
        text = _clean(match.group(1))
        if text:
            return text
    if "<ins>" in output.lower():
        return None
    for line in output.splitlines():
        text = _clean(line)
        if text and not text.lower().startswith(("here is", "here's", "sure", "score")):
            return text
    return None


def _clean(text: str) -> str:
    text = text.replace("</INS>", "").replace("</ins>", "").strip()
    text = _BULLET.sub("", text)
    text = _LABEL.sub("", text).strip()
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] in _QUOTES:
        text = text[1:-1].strip()
    return text


def normalize(text: str) -> str:
    """The form used to spot duplicates: lower case, single spaces, no edge punctuation."""
    text = re.sub(r"\s+", " ", text.lower()).strip()
    return text.strip(" .!?;:\"'`")


def candidate_id(text: str) -> str:
    """A candidate's identity: the sha256 of its text (first 16 hex digits)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
