from __future__ import annotations

import random

import pytest

from opro_cli.core.parse import candidate_id, extract_instruction, normalize
from opro_cli.core.stats import paired_bootstrap


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("<INS>Answer in one word.</INS>", "Answer in one word."),
        ("Sure! Here it is:\n<INS> Think step by step. </INS>\nGood luck", "Think step by step."),
        ("<INS></INS><INS>Second one.</INS>", "Second one."),
        ("<ins>lower case tags</ins>", "lower case tags"),
        ("<INS>Unclosed tag runs to the end", "Unclosed tag runs to the end"),
        ('<INS>"Quoted instruction."</INS>', "Quoted instruction."),
        ("Here is a new instruction:\nInstruction: Be precise.", "Be precise."),
        ("- Classify the review.", "Classify the review."),
        ("", None),
        ("<INS>   </INS>", None),
    ],
)
def test_extract_instruction(output: str, expected: str | None) -> None:
    assert extract_instruction(output) == expected


def test_normalize_spots_duplicates() -> None:
    assert normalize("Answer  carefully.") == normalize("answer carefully")
    assert normalize("Answer carefully") != normalize("Answer quickly")


def test_candidate_id_is_a_content_hash() -> None:
    assert candidate_id("abc") == candidate_id("abc")
    assert candidate_id("abc") != candidate_id("abd")
    assert len(candidate_id("abc")) == 16


def test_paired_bootstrap() -> None:
    rng = random.Random(0)
    diff = paired_bootstrap([1, 1, 1, 0], [0, 1, 0, 0], samples=500, level=0.9, rng=rng)
    assert diff.delta == 0.5
    assert diff.n == 4
    assert diff.low is not None and diff.high is not None
    assert 0.0 <= diff.low <= 0.5 <= diff.high <= 1.0
    same = paired_bootstrap([1, 0], [1, 0], samples=100, level=0.95, rng=rng)
    assert (same.delta, same.low, same.high) == (0.0, 0.0, 0.0)
    assert paired_bootstrap([], [], samples=10, level=0.95, rng=rng).low is None
