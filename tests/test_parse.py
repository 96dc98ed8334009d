from __future__ import annotations

import random

import pytest

from opro_cli.core.parse import (
    Parsed,
    Shown,
    candidate_id,
    extract_instruction,
    normalize,
    parse_instruction,
)
from opro_cli.core.stats import paired_bootstrap
from opro_cli.data import Example
from opro_cli.errors import SpecError
from opro_cli.spec import OptimizerSpec, parse_spec


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


REVIEWS = Shown(
    exemplars=(
        ("The app crashes every time I try to upload a photo.", "negative"),
        ("The language app makes daily practice fun and I'm actually improving.", "positive"),
    ),
    labels=("positive", "negative"),
)


@pytest.mark.parametrize(
    ("output", "instruction", "status"),
    [
        ("<INS>Answer in one word.</INS>", "Answer in one word.", "tagged"),
        (
            "Okay, here's a better one:\n<INS>Answer in one word.</INS>",
            "Answer in one word.",
            "tagged",
        ),
        ("<INS>Improved instruction:\nAnswer in one word.</INS>", "Answer in one word.", "tagged"),
        ("<INS>Here is the new instruction:</INS>", None, "preamble"),
        ("<INS>Here is one:</INS><INS>Be brief.</INS>", "Be brief.", "tagged"),
        ("<INS>\n<INSPECTOR>\n<INSPECTOR>\n<INSP", None, "empty"),
        ("<INS>This is a new instruction.</INS>", None, "preamble"),
        ("<INS>85</INS>", None, "score_or_label"),
        ("<INS>positive</INS>", None, "score_or_label"),
        (
            "<INS>\nThe app crashes every time I try to upload a photo.\nA:\noutput:\nnegative",
            None,
            "exemplar_copy",
        ),
        # a near copy, and a copy cut off by max_tokens
        (
            "<INS>The language app makes daily practice fun and improves your skills.</INS>",
            None,
            "exemplar_copy",
        ),
        ("<INS>The language app makes", None, "exemplar_copy"),
        (
            "<INS>Classify the ticket as one of:\nbilling, technical or account.</INS>",
            "Classify the ticket as one of:\nbilling, technical or account.",
            "tagged",
        ),
        ("<INS>Improved prompt for sentiment:</INS>", None, "preamble"),
        # the meta-prompt's labels alone are no instruction (the quickstart's model wrote this)
        ("<INS>input:\nUser:", None, "preamble"),
        ("<INS>Q:\n\nA:</INS>", None, "preamble"),
        (
            "<INS>Output: say positive or negative.</INS>",
            "Output: say positive or negative.",
            "tagged",
        ),
        (
            "<INS>Great reviews are positive; say positive or negative.</INS>",
            "Great reviews are positive; say positive or negative.",
            "tagged",
        ),
        ("<INS>Great!\nSay positive or negative.</INS>", "Say positive or negative.", "tagged"),
        # the first admissible tagged text wins; else the first reason it was refused
        ("<INS>negative</INS><INS>Label the review.</INS>", "Label the review.", "tagged"),
        ("<INS></INS><INS>positive</INS><INS>Sure:</INS>", None, "score_or_label"),
        ("<INS>\n\n<INS>Label the review.\n", "Label the review.", "tagged"),
        ("<INS>Sure:<INS>Label it.<INS>negative", "Label it.", "tagged"),
        (
            "<INS>The app crashes every time I try to upload a photo.\nA:\nnegative\n"
            "<INS>The speaker is",
            None,
            "exemplar_copy",
        ),
    ],
)
def test_parse_tagged_answers(output: str, instruction: str | None, status: str) -> None:
    assert parse_instruction(output, shown=REVIEWS) == Parsed(instruction, status, True)  # type: ignore[arg-type]
    assert parse_instruction(output, mode="strict", shown=REVIEWS) == Parsed(
        instruction,
        status,  # type: ignore[arg-type]
        True,
    )


@pytest.mark.parametrize(
    ("output", "line", "status"),
    [
        (
            "Classify the review as positive or negative.",
            "Classify the review as positive or negative.",
            "untagged",
        ),
        ("Here is a new instruction:\nInstruction: Be precise.", "Be precise.", "untagged"),
        ("**Improved instruction:**\n\nAnswer with one word.", "Answer with one word.", "untagged"),
        (
            "Sure! Let's think step by step.\nLet's think step by step.",
            "Let's think step by step.",
            "untagged",
        ),
        ("Okay, here's a better one:", None, "preamble"),
        ("Okay, here's a better one:\n", None, "preamble"),
        ("Certainly.\nHere's a better one:", None, "preamble"),
        ("Please provide a new instruction.", None, "preamble"),
        ("The score is 98.1 for the previous instruction.", None, "score_or_label"),
        ("Score: 85\nAnswer briefly.", None, "score_or_label"),
        ("negative", None, "score_or_label"),
        ("The app crashes every time I try to upload a photo.", None, "exemplar_copy"),
        ("", None, "empty"),
        ("  \n\n", None, "empty"),
    ],
)
def test_parse_untagged_answers(output: str, line: str | None, status: str) -> None:
    lenient = parse_instruction(output, mode="lenient", shown=REVIEWS)
    strict = parse_instruction(output, mode="strict", shown=REVIEWS)
    assert lenient == Parsed(line if status == "untagged" else None, status, False)  # type: ignore[arg-type]
    assert strict == Parsed(None, status, False)  # type: ignore[arg-type]
    assert strict.admitted is False


def test_untagged_lines_before_the_first_instruction_line_are_skipped_only_if_preamble() -> None:
    # The first line that is not a preamble decides: a copy is not skipped to reach a later line.
    output = "The app crashes every time I try to upload a photo.\nClassify the review."
    assert parse_instruction(output, shown=REVIEWS).status == "exemplar_copy"
    assert parse_instruction(output).instruction == output.splitlines()[0]


def test_score_words_that_are_instructions_are_kept() -> None:
    assert parse_instruction("Score the review from 1 to 5.").instruction == (
        "Score the review from 1 to 5."
    )
    assert parse_instruction("Follow the instructions and answer.").status == "untagged"


def test_template_lines_shared_by_every_exemplar_are_not_copies() -> None:
    shown = Shown.of(
        [
            Example("a", "Is the sun hot?\nAnswer yes or no, in one word.", "yes"),
            Example("b", "Can fish fly?\nAnswer yes or no, in one word.", "no"),
        ]
    )
    assert parse_instruction("<INS>Answer yes or no, in one word.</INS>", shown=shown) == Parsed(
        "Answer yes or no, in one word.", "tagged", True
    )
    copy = "<INS>Is the sun hot?\nAnswer yes or no, in one word.</INS>"
    assert parse_instruction(copy, shown=shown).status == "exemplar_copy"
    assert parse_instruction("<INS>yes</INS>", shown=shown).status == "score_or_label"


def test_one_exemplar_counts_only_whole_copies() -> None:
    shown = Shown((("Review: great kettle, works well.\nIs it positive or negative?", "positive"),))
    text = "Is it positive or negative? Answer in one word."
    assert parse_instruction(f"<INS>{text}</INS>", shown=shown).instruction == text
    whole = "Review: great kettle, works well. Is it positive or negative?"
    assert parse_instruction(f"<INS>{whole}</INS>", shown=shown).status == "exemplar_copy"


def test_short_inputs_are_copies_only_when_they_are_the_whole_text() -> None:
    shown = Shown((("France", "Paris"), ("Peru", "Lima")))
    assert parse_instruction("<INS>France</INS>", shown=shown).status == "exemplar_copy"
    assert parse_instruction("<INS>Paris</INS>", shown=shown).status == "score_or_label"
    text = "Name the capital of the country, as for France."
    assert parse_instruction(f"<INS>{text}</INS>", shown=shown).instruction == text


def test_optimizer_parse_mode_in_the_spec() -> None:
    assert OptimizerSpec().parse == "lenient"
    assert OptimizerSpec(parse="strict").parse == "strict"
    base = (
        "name: t\ntask: x\nseed_prompts: [a]\n"
        "dataset: {path: d.jsonl, input: i, target: t}\noptimizer:\n  parse: MODE\n"
    )
    assert parse_spec(base.replace("MODE", "strict")).optimizer.parse == "strict"
    with pytest.raises(SpecError) as err:
        parse_spec(base.replace("MODE", "loose"))
    assert str(err.value) == ("<spec>:6: optimizer.parse: must be one of 'strict' or 'lenient'")


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
