from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from opro_cli.data import Example
from opro_cli.errors import MetricError, SpecError
from opro_cli.metrics import (
    Metric,
    MetricExample,
    as_score,
    build_metric,
    extract_json,
    extract_number,
    normalize,
    shows_letters,
)
from opro_cli.spec import MetricSpec, load_spec, parse_spec

SENTIMENT = ["positive", "negative"]
ANIMALS = ["cat", "dog", "cow", "pig"]
LETTERED = "Which animal barks?\nOptions:\n(A) cat\n(B) dog\n(C) cow\n(D) pig"  # as trivia.yaml


@dataclass(frozen=True)
class Row:
    """An example with the row's other columns, as ``Example`` is proposed to carry them."""

    target: str
    input: str = ""
    options: tuple[str, ...] | None = None
    id: str = "e1"
    fields: Mapping[str, Any] = field(default_factory=dict)


def metric(name: str, **options: Any) -> Metric:
    return build_metric(MetricSpec(name=name, **options))


# ---------------------------------------------------------------------------------------------
# normalize, exact_match


def test_normalize_applies_every_flag() -> None:
    spec = MetricSpec(ignore_punctuation=True)
    assert normalize("  Hello,\t  World! \n", spec) == "hello world"
    assert normalize("\u201cYes\u201d", spec) == "yes"
    assert normalize("  Hello,  World! ", MetricSpec()) == "hello, world!"
    assert normalize(" A  b ", MetricSpec(ignore_case=False, ignore_whitespace=False)) == " A  b "


@pytest.mark.parametrize(
    ("prediction", "target", "flags", "expected"),
    [
        ("  Paris\n", "paris", {}, 1.0),
        ("New \t York", "new york", {}, 1.0),
        ("Paris.", "Paris", {}, 0.0),
        ('"Paris"', "Paris", {}, 0.0),
        ("Paris.", "Paris", {"ignore_punctuation": True}, 1.0),
        ("paris", "Paris", {"ignore_case": False}, 0.0),
        (" Paris", "Paris", {"ignore_whitespace": False}, 0.0),
        ("Paris is the capital", "Paris", {}, 0.0),
    ],
)
def test_exact_match(prediction: str, target: str, flags: dict[str, Any], expected: float) -> None:
    assert metric("exact_match", **flags)(prediction, target, None) == expected


# ---------------------------------------------------------------------------------------------
# contains


@pytest.mark.parametrize(
    ("prediction", "target", "expected"),
    [
        ("The answer is no.", "no", 1.0),
        ("I do not know", "no", 0.0),
        ("I know", "no", 0.0),
        ("nothing", "no", 0.0),
        ("No, never", "no", 1.0),
        ("in New   York city", "new york", 1.0),
        ("in New Yorkshire", "new york", 0.0),
        ("so the answer is (B)", "(B)", 1.0),
        ("Paris", "", 0.0),
        ("  ", "", 1.0),
    ],
)
def test_contains_matches_whole_words(prediction: str, target: str, expected: float) -> None:
    assert metric("contains")(prediction, target, None) == expected


def test_contains_respects_case_flag() -> None:
    assert metric("contains", ignore_case=False)("No way", "no", None) == 0.0
    assert metric("contains", ignore_case=False)("no way", "no", None) == 1.0


# ---------------------------------------------------------------------------------------------
# regex


def test_regex_uses_group_one_of_the_first_match() -> None:
    score = metric("regex", pattern=r"answer is (\w+)")
    assert score("I guess the answer is Paris. No, the answer is Rome.", "paris", None) == 1.0
    assert score("the answer is Rome", "paris", None) == 0.0
    assert score("Paris", "paris", None) == 0.0


def test_regex_without_groups_uses_the_whole_match() -> None:
    score = metric("regex", pattern=r"\d+")
    assert score("I have 12 and 13", "12", None) == 1.0
    assert score("I have 12 and 13", "13", None) == 0.0


def test_regex_group_that_did_not_take_part_is_no_match() -> None:
    assert metric("regex", pattern=r"(x)?y")("y", "", None) == 0.0


# ---------------------------------------------------------------------------------------------
# numeric


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The total is 1,234 apples", 1234.0),
        ("1,234,567.5", 1234567.5),
        ("x = -3.5", -3.5),
        ("it costs $12", 12.0),
        ("$-12", -12.0),
        ("12%", 12.0),
        ("1/2", 0.5),
        ("first 3, then 7", 7.0),
        ("pages 10-20", 20.0),
        ("1e3", 1000.0),
        (".5", 0.5),
        ("\u22124", -4.0),
        ("no number here", None),
        ("3/0", None),
        ("1e999", None),
    ],
)
def test_extract_number(text: str, expected: float | None) -> None:
    assert extract_number(text) == expected


@pytest.mark.parametrize(
    ("prediction", "target", "tolerance", "expected"),
    [
        ("The answer is 1,234.", "1234", 1e-6, 1.0),
        ("-3.5", "-3.50", 1e-6, 1.0),
        ("$12", "12 dollars", 1e-6, 1.0),
        ("first 3 then 7", "3", 1e-6, 0.0),
        ("3.14", "3.1416", 1e-6, 0.0),
        ("3.14", "3.1416", 0.01, 1.0),
        ("1000001", "1000000", 0.5, 0.0),
        ("no idea", "3", 1e-6, 0.0),
        ("5", "n/a", 1e-6, 0.0),
    ],
)
def test_numeric(prediction: str, target: str, tolerance: float, expected: float) -> None:
    assert metric("numeric", tolerance=tolerance)(prediction, target, None) == expected


# ---------------------------------------------------------------------------------------------
# choice


@pytest.mark.parametrize(
    ("prediction", "target", "expected"),
    [
        ("Negative, not positive", "negative", 1.0),
        ("Positive. Well, maybe negative", "negative", 0.0),
        ("NEGATIVE", "negative", 1.0),
        ("The sentiment is positive.", "Positive", 1.0),
        ("I am not sure", "positive", 0.0),
        ("", "positive", 0.0),
        # never lettered (the input shows no letters, the target is no letter): letters are no
        # answer, where they used to pick by position
        ("A", "positive", 0.0),
        ("B", "negative", 0.0),
        ("(b)", "negative", 0.0),
        ("Answer: A", "positive", 0.0),
        # a letter target: the options are lettered
        ("positive", "(B)", 0.0),
        ("negative", "(B)", 1.0),
        ("negative", "B", 1.0),
    ],
)
def test_choice_with_labels(prediction: str, target: str, expected: float) -> None:
    assert metric("choice")(prediction, target, SENTIMENT) == expected


@pytest.mark.parametrize(
    "prediction",
    ["B", "(B)", "B)", "B.", "**B**", " b ", "Answer: B", "The answer is (B).", "B) dog", "so (B)"],
)
def test_choice_reads_letters_where_the_input_shows_them(prediction: str) -> None:
    score = metric("choice").score
    assert score(prediction, Row("dog", LETTERED, tuple(ANIMALS))) == 1.0
    assert score(prediction, Row("(B)", LETTERED, tuple(ANIMALS))) == 1.0
    assert score(prediction, Row("cat", LETTERED, tuple(ANIMALS))) == 0.0
    # the three-argument call knows no input: a letter target still says "lettered"
    assert metric("choice")(prediction, "(B)", ANIMALS) == 1.0


@pytest.mark.parametrize("prediction", ["B", "(B)", "Answer: B", "The answer is (B)."])
def test_choice_reads_no_letters_where_the_input_shows_none(prediction: str) -> None:
    unlettered = Row("dog", "Which animal barks: cat, dog, cow or pig?", tuple(ANIMALS))
    assert metric("choice").score(prediction, unlettered) == 0.0
    assert metric("choice").score("dog", unlettered) == 1.0
    assert metric("choice")(prediction, "dog", ANIMALS) == 0.0


def test_quickstart_choices_are_not_lettered() -> None:
    score = metric("choice", choices=("positive", "negative"))
    review = Row("positive", "Reliable kettle with a clear water gauge. No complaints.")
    for letter in ("A", "(A)", "A)", "Answer: A"):
        assert score.score(letter, review) == 0.0
        assert score(letter, "positive", None) == 0.0
    assert score.score("Positive.", review) == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (LETTERED, True),
        ("A) cat\nB) dog\nC) cow\nD) pig", True),
        ("a. cat b. dog c. cow d. pig", True),
        ("A: cat\nB: dog\nC: Cow\nD: pig", True),
        ("[A] cat [B] dog [C] cow [D] pig", True),
        ("A - cat\nB - dog\nC - cow\nD - pig", True),
        ("(A) cat\n(B) dog\n(C) cow", False),  # one option not shown
        ("(A) dog\n(B) cat\n(C) cow\n(D) pig", False),  # other letters
        ("cat, dog, cow or pig", False),
        ("", False),
    ],
)
def test_shows_letters(text: str, expected: bool) -> None:
    assert shows_letters(text, ANIMALS) is expected


def test_choice_letters_flag_overrides_the_data() -> None:
    always = metric("choice", choices=("positive", "negative"), letters=True)
    assert always("A", "positive", None) == 1.0
    assert always("B", "positive", None) == 0.0
    never = metric("choice", letters=False)
    assert never.score("B", Row("(B)", LETTERED, tuple(ANIMALS))) == 0.0
    assert never.score("dog", Row("(B)", LETTERED, tuple(ANIMALS))) == 1.0


@pytest.mark.parametrize(
    ("prediction", "target", "expected"),
    [
        ("positive/negative", "positive", 0.0),
        ("positive/negative", "negative", 0.0),
        ("Positive or negative", "positive", 0.0),
        ("**positive** or **negative**", "positive", 0.0),
        ("either positive or negative", "negative", 0.0),
        ("neither positive nor negative", "positive", 0.0),
        ("positive | negative", "positive", 0.0),
        ("positive and negative", "positive", 0.0),
        ("It is positive (or negative).", "positive", 0.0),
        # one choice, named again or weighed against the other: a pick
        ("positive/positive", "positive", 1.0),
        ("Negative, not positive", "negative", 1.0),
        ("positive, negative", "positive", 1.0),
        ("Positive. Or is it negative? No: positive.", "positive", 1.0),
        ("Positive, and the seller was friendly", "positive", 1.0),
    ],
)
def test_choice_answer_offering_two_choices_is_wrong(
    prediction: str, target: str, expected: float
) -> None:
    assert metric("choice")(prediction, target, SENTIMENT) == expected


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        ("A or B", 0.0),
        ("(A)/(B)", 0.0),
        ("Answer: B or C", 0.0),
        ("The answer is (B) or (C).", 0.0),
        ("B/B", 1.0),
        ("Answer: B and a short reason", 1.0),  # "a" is an article
        ("(B) or maybe not", 1.0),
    ],
)
def test_choice_answer_offering_two_letters_is_wrong(prediction: str, expected: float) -> None:
    assert metric("choice").score(prediction, Row("(B)", LETTERED, tuple(ANIMALS))) == expected


def test_choice_does_not_read_an_article_as_a_letter() -> None:
    # With options [negative, positive], reading "A" as a letter would pick "negative".
    assert metric("choice")("A positive review.", "positive", ["negative", "positive"]) == 1.0


def test_choice_ignores_letters_beyond_the_options() -> None:
    assert metric("choice")("E", "cat", ANIMALS) == 0.0
    assert metric("choice")("(E) cat", "cat", ANIMALS) == 1.0


def test_choice_text_needs_whole_words_and_longest_wins_a_tie() -> None:
    score = metric("choice")
    assert score("I don't know", "no", ["yes", "no"]) == 0.0
    assert score("Nothing to say, yes", "yes", ["yes", "no"]) == 1.0
    options = ["not", "not bad", "bad"]
    assert score("not bad at all", "not bad", options) == 1.0
    assert score("not bad at all", "not", options) == 0.0
    assert score("it is bad, not good", "bad", options) == 1.0


def test_choice_falls_back_to_spec_choices_and_options_win() -> None:
    score = metric("choice", choices=("yes", "no"), letters=True)
    assert score("No.", "no", None) == 1.0
    assert score("B", "no", None) == 1.0
    assert score("A", "no", ["no", "yes"]) == 1.0
    assert score("A", "no", []) == 0.0


def test_choice_without_any_options() -> None:
    score = metric("choice")
    assert score("It is positive.", "Positive.", None) == 1.0
    assert score("It is negative.", "positive", None) == 0.0
    assert score("A", "positive", None) == 0.0
    assert score("The answer is (B)", "B", None) == 1.0
    assert score("(C)", "(B)", None) == 0.0
    assert score("x", "(C)", None) == 0.0


def test_choice_target_missing_from_options_is_still_a_candidate() -> None:
    score = metric("choice")
    assert score("a cow", "cow", ["cat", "dog"]) == 1.0
    assert score("A", "cow", ["cat", "dog"]) == 0.0


# ---------------------------------------------------------------------------------------------
# f1


@pytest.mark.parametrize(
    ("prediction", "target", "expected"),
    [
        ("Paris!", "paris", 1.0),
        # pred [cat, sat, on, mat], gold [cat, on, mat]: P = 3/4, R = 1, F1 = 6/7
        ("The cat sat on the mat.", "a cat on a mat", 6 / 7),
        # 2 shared of 3 and 3: P = R = 2/3
        ("New York City", "york new jersey", 2 / 3),
        # multiset overlap: cat min(2, 1) + dog min(1, 2) = 2 of 3 and 3
        ("cat cat dog", "cat dog dog", 2 / 3),
        # pred [barack, obama], gold [obama]: P = 1/2, R = 1, F1 = 2/3
        ("Barack Obama", "Obama", 2 / 3),
        ("red", "blue", 0.0),
        ("the", "", 1.0),
        ("", "an answer", 0.0),
    ],
)
def test_f1(prediction: str, target: str, expected: float) -> None:
    assert metric("f1")(prediction, target, None) == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------------------------------------
# python


def write(tmp_path: Path, body: str, name: str = "score.py") -> Path:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    return path


def custom(path: Path, function: str = "score") -> Metric:
    return build_metric(MetricSpec(python=f"{path}:{function}"))


USAGE = (
    "define def score(prediction, target) or def score(prediction, example): ... "
    "returning a number between 0 and 1"
)
RANGE = "return a number between 0 and 1 (or True/False)"


@pytest.mark.parametrize(
    ("returned", "expected"),
    [("True", 1.0), ("False", 0.0), ("1", 1.0), ("0", 0.0), ("0.25", 0.25)],
)
def test_python_metric_scores(tmp_path: Path, returned: str, expected: float) -> None:
    path = write(tmp_path, f"def score(prediction, target):\n    return {returned}\n")
    assert custom(path)("p", "t", ["ignored"]) == expected


def test_python_metric_gets_prediction_and_target(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "from dataclasses import dataclass\n\n"
        "@dataclass\nclass Pair:\n    a: str\n    b: str\n\n"
        "def score(prediction, target):\n"
        "    pair = Pair(prediction, target)\n"
        "    return pair.a.lower() == pair.b\n",
    )
    assert custom(path)("YES", "yes", None) == 1.0
    assert custom(path)("yes", "no", None) == 0.0


def test_python_metrics_with_one_name_in_two_files_stay_apart(tmp_path: Path) -> None:
    one = write(tmp_path, "def score(p, t):\n    return 1.0\n", "one.py")
    zero = write(tmp_path, "def score(p, t):\n    return 0.0\n", "zero.py")
    assert (custom(one)("", "", None), custom(zero)("", "", None)) == (1.0, 0.0)


def test_python_metric_accepts_numpy_scalars(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    path = write(
        tmp_path,
        "import numpy as np\n\n"
        "def score(prediction, target):\n"
        "    return np.float64(0.5) if prediction else np.bool_(True)\n",
    )
    assert custom(path)("x", "t", None) == 0.5
    assert custom(path)("", "t", None) == 1.0


def test_python_metric_file_missing(tmp_path: Path) -> None:
    path = tmp_path / "nope.py"
    with pytest.raises(MetricError) as err:
        custom(path)
    assert str(err.value) == f"{path}: file not found -> check metric.python: FILE.py:FUNCTION"


def test_python_metric_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x = 1\ndef score(prediction, target)\n    return 1\n")
    with pytest.raises(MetricError) as err:
        custom(path)
    message = str(err.value)
    assert message.startswith(f"{path}:2: syntax error (")
    assert message.endswith(") -> fix the file")
    assert "\n" not in message


def test_python_metric_import_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "raise RuntimeError('no\\nmodel here')\n")
    with pytest.raises(MetricError) as err:
        custom(path)
    assert str(err.value) == (
        f"{path}: importing it raised RuntimeError: no model here -> fix the file"
    )
    loaded = [getattr(module, "__file__", None) for module in list(sys.modules.values())]
    assert str(path) not in loaded


def test_python_metric_function_missing(tmp_path: Path) -> None:
    path = write(tmp_path, "def other(prediction, target):\n    return 1\n")
    with pytest.raises(MetricError) as err:
        custom(path)
    assert str(err.value) == f"{path}: function 'score' not found -> {USAGE}"


def test_python_metric_not_callable(tmp_path: Path) -> None:
    path = write(tmp_path, "score = 3\n")
    with pytest.raises(MetricError) as err:
        custom(path)
    assert str(err.value) == f"{path}: function 'score' is not callable (found int) -> {USAGE}"


def test_python_metric_wrong_signature(tmp_path: Path) -> None:
    path = write(tmp_path, "def score(prediction):\n    return 1\n")
    with pytest.raises(MetricError) as err:
        custom(path)
    assert str(err.value) == f"{path}: function 'score' cannot take (prediction, target) -> {USAGE}"


@pytest.mark.parametrize(
    ("returned", "described"),
    [
        ("'yes'", "str 'yes'"),
        ("None", "None (no return statement?)"),
        ("[1]", "list [1]"),
        ("1.5", "1.5, outside [0, 1]"),
        ("-0.1", "-0.1, outside [0, 1]"),
        ("float('nan')", "nan, outside [0, 1]"),
        ("2", "2, outside [0, 1]"),
    ],
)
def test_python_metric_bad_return(tmp_path: Path, returned: str, described: str) -> None:
    path = write(tmp_path, f"def score(prediction, target):\n    return {returned}\n")
    score = custom(path)
    with pytest.raises(MetricError) as err:
        score("p", "t", None)
    assert str(err.value) == f"{path}: function 'score' returned {described} -> {RANGE}"


def test_python_metric_function_raises(tmp_path: Path) -> None:
    path = write(tmp_path, "def score(prediction, target):\n    return {}[prediction]\n")
    score = custom(path)
    with pytest.raises(MetricError) as err:
        score("p", "t", None)
    assert str(err.value) == f"{path}: function 'score' raised KeyError: 'p' -> fix the function"
    assert isinstance(err.value.__cause__, KeyError)


# ---------------------------------------------------------------------------------------------
# every metric's score is checked, naming the metric and the example


def test_as_score_names_the_metric_and_the_example() -> None:
    assert as_score(True, "metric 'x'", "e7") == 1.0
    with pytest.raises(MetricError) as err:
        as_score(float("nan"), "metric 'x'", "e7")
    assert str(err.value) == f"metric 'x' on example 'e7' returned nan, outside [0, 1] -> {RANGE}"


@pytest.mark.parametrize(
    ("value", "described"),
    [(float("nan"), "nan, outside [0, 1]"), (1.5, "1.5, outside [0, 1]"), ("1", "str '1'")],
)
def test_a_built_in_metric_returning_nonsense_is_a_metric_error(value: Any, described: str) -> None:
    broken = Metric("choice", "metric 'choice'", lambda prediction, example: value)
    with pytest.raises(MetricError) as err:
        broken.score("p", Example("r7", "in", "t"))
    assert str(err.value) == f"metric 'choice' on example 'r7' returned {described} -> {RANGE}"


def test_metric_names_itself_as_a_function_would() -> None:
    assert build_metric(MetricSpec(name="choice")).__name__ == "choice"
    assert build_metric(MetricSpec(name="f1")).__name__ == "f1"


# ---------------------------------------------------------------------------------------------
# python metrics that see the example, async metrics, SystemExit


def test_python_metric_calls_are_recorded(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "import builtins\n"
        "def score(pred, gold, *, topic='none', weight=0.5):\n"
        "    builtins._opro_test_calls.append((pred, gold, topic, weight))\n"
        "    return 1\n"
        "def by_example(guess, example):\n"
        "    builtins._opro_test_calls.append(\n"
        "        (guess, type(example).__name__, example.id, example.input, example.target,\n"
        "         example.options, example.fields))\n"
        "    return 0\n"
        "def parts(prediction, target, input, options, id, fields, topic):\n"
        "    builtins._opro_test_calls.append((prediction, target, input, options, id,\n"
        "                                      dict(fields), topic))\n"
        "    return 1\n",
    )
    import builtins

    calls: list[Any] = []
    builtins._opro_test_calls = calls  # type: ignore[attr-defined]
    try:
        row = Row("t", "in", ("a", "b"), id="e3", fields={"topic": "sports"})
        assert custom(path).score("p", row) == 1.0
        assert custom(path, "by_example").score("g", row) == 0.0
        assert custom(path, "parts").score("p", row) == 1.0
        assert custom(path)("p", "t", None) == 1.0  # the three-argument call: no columns
    finally:
        del builtins._opro_test_calls  # type: ignore[attr-defined]
    assert calls == [
        ("p", "t", "sports", 0.5),
        ("g", "MetricExample", "e3", "in", "t", ("a", "b"), {"topic": "sports"}),
        ("p", "t", "in", ("a", "b"), "e3", {"topic": "sports"}, "sports"),
        ("p", "t", "none", 0.5),
    ]


def test_python_metric_parameter_without_a_value(tmp_path: Path) -> None:
    path = write(tmp_path, "def score(prediction, target, *, topic):\n    return 1\n")
    with pytest.raises(MetricError) as err:
        custom(path).score("p", Row("t", id="e3", fields={"other": 1}))
    assert str(err.value) == (
        f"{path}: function 'score' on example 'e3': parameter 'topic' is not prediction, "
        "example, target, input, options, id, fields or a column of the row -> rename the "
        "parameter, give it a default, or add the column"
    )


@pytest.mark.parametrize(
    ("body", "described"),
    [
        ("raise SystemExit(3)", "raised SystemExit: 3"),
        ("import sys; sys.exit()", "raised SystemExit"),
        ("return float('nan')", "returned nan, outside [0, 1]"),
        ("return -1", "returned -1, outside [0, 1]"),
        ("return 'high'", "returned str 'high'"),
    ],
)
def test_python_metric_failure_names_the_example(tmp_path: Path, body: str, described: str) -> None:
    path = write(tmp_path, f"def score(prediction, example):\n    {body}\n")
    with pytest.raises(MetricError) as err:
        custom(path).score("p", Example("r12", "in", "t"))
    hint = "fix the function" if described.startswith("raised") else RANGE
    assert str(err.value) == f"{path}: function 'score' on example 'r12' {described} -> {hint}"


def test_python_metric_system_exit_at_import_is_a_metric_error(tmp_path: Path) -> None:
    path = write(tmp_path, "import sys\nsys.exit(2)\n")
    with pytest.raises(MetricError) as err:
        custom(path)
    assert str(err.value) == f"{path}: importing it raised SystemExit: 2 -> fix the file"


def test_python_metric_keyboard_interrupt_stays_ctrl_c(tmp_path: Path) -> None:
    path = write(tmp_path, "def score(prediction, target):\n    raise KeyboardInterrupt\n")
    with pytest.raises(KeyboardInterrupt):
        custom(path).score("p", Example("r1", "in", "t"))


ASYNC_METRIC = (
    "import asyncio\n"
    "async def score(prediction, example):\n"
    "    await asyncio.sleep(0)\n"
    "    if prediction == 'boom':\n"
    "        raise ValueError('bad answer')\n"
    "    return 2 if prediction == 'two' else prediction == example.target\n"
)


def test_async_python_metric(tmp_path: Path) -> None:
    score = custom(write(tmp_path, ASYNC_METRIC))
    assert score.is_async
    row = Example("r5", "in", "yes")
    assert score.score("yes", row) == 1.0  # no event loop running: run here
    assert asyncio.run(score.ascore("no", row)) == 0.0

    async def inside_a_loop() -> float:
        return score("yes", "yes", None)  # the old sync call from a coroutine

    assert asyncio.run(inside_a_loop()) == 1.0
    with pytest.raises(MetricError) as err:
        asyncio.run(score.ascore("boom", row))
    assert str(err.value) == (
        f"{tmp_path / 'score.py'}: function 'score' on example 'r5' raised ValueError: bad "
        "answer -> fix the function"
    )
    with pytest.raises(MetricError) as err:
        score.score("two", row)
    assert str(err.value) == (
        f"{tmp_path / 'score.py'}: function 'score' on example 'r5' returned 2, outside "
        f"[0, 1] -> {RANGE}"
    )


def test_sync_function_returning_a_coroutine(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "async def _inner():\n    return 1\ndef score(prediction, target):\n    return _inner()\n",
    )
    with pytest.raises(MetricError) as err:
        custom(path).score("p", Example("r1", "in", "t"))
    assert str(err.value) == (
        f"{path}: function 'score' on example 'r1' returned an awaitable, not a number "
        "-> define the function with async def so opro awaits it"
    )


def test_sync_python_metric_runs_off_the_event_loop(tmp_path: Path) -> None:
    # Two calls that can only finish together: each waits at a barrier for the other. On the
    # event loop they would run one after the other and the barrier would break.
    path = write(
        tmp_path,
        "import threading\n"
        "barrier = threading.Barrier(2, timeout=10)\n"
        "def score(prediction, target):\n"
        "    barrier.wait()\n"
        "    return threading.current_thread() is not threading.main_thread()\n",
    )
    score = custom(path)

    async def both() -> list[float]:
        rows = [Example("a", "in", "t"), Example("b", "in", "t")]
        return list(await asyncio.gather(*(score.ascore("p", row) for row in rows)))

    assert asyncio.run(both()) == [1.0, 1.0]


def test_built_in_metrics_score_inline_in_ascore() -> None:
    score = metric("exact_match")
    assert asyncio.run(score.ascore("Paris", Example("c1", "France", "paris"))) == 1.0


def test_metric_example_carries_the_row() -> None:
    view = MetricExample.of(Row("t", "in", ("a",), id="e1", fields={"k": 1}))
    assert (view.id, view.input, view.target, view.options, dict(view.fields)) == (
        "e1",
        "in",
        "t",
        ("a",),
        {"k": 1},
    )
    with pytest.raises(TypeError):
        view.fields["k"] = 2  # type: ignore[index]
    assert dict(MetricExample.of(Example("e2", "in", "t")).fields) == {}


# ---------------------------------------------------------------------------------------------
# json


PERSON = {"name": "Ada Lovelace", "city": "London", "born": 1815, "tags": ["math", "poetry"]}
PERSON_TEXT = json.dumps(PERSON)


def json_metric(**options: Any) -> Metric:
    return build_metric(MetricSpec(name="json", **options))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        (" [1, 2] ", [1, 2]),
        ('"just text"', "just text"),
        ('Sure! Here it is:\n```json\n{"a": 1}\n```\nAnything else?', {"a": 1}),
        ('```\n{"a": 2}\n```', {"a": 2}),
        ('```json\n{broken\n```\nthen {"a": 3}', {"a": 3}),
        ('The answer is {"a": 1, "b": {"c": [1]}} and {"a": 2}.', {"a": 1, "b": {"c": [1]}}),
        ("Use {name} and then [1, 2]", [1, 2]),
    ],
)
def test_extract_json(text: str, expected: Any) -> None:
    assert extract_json(text) == expected


def test_extract_json_without_json() -> None:
    score = json_metric()
    deep = "[" * 5000 + "]" * 5000  # deeper than json.loads recurses
    for answer in ("Ada Lovelace, London", "{name: Ada}", "", "```json\n{oops}\n```", deep):
        assert score(answer, PERSON_TEXT, None) == 0.0


def test_json_metric_whole_object() -> None:
    score = json_metric()
    reordered = json.dumps(dict(reversed(list(PERSON.items()))))
    assert score(reordered, PERSON_TEXT, None) == 1.0
    assert score(f"```json\n{PERSON_TEXT}\n```", PERSON_TEXT, None) == 1.0
    assert score(PERSON_TEXT.replace("London", "london "), PERSON_TEXT, None) == 1.0
    assert score(PERSON_TEXT.replace("1815", "1815.0"), PERSON_TEXT, None) == 1.0
    assert score(PERSON_TEXT.replace("1815", "1816"), PERSON_TEXT, None) == 0.0
    assert score(PERSON_TEXT.replace('"math", ', ""), PERSON_TEXT, None) == 0.0
    assert score(json.dumps({**PERSON, "extra": 1}), PERSON_TEXT, None) == 0.0
    assert score(json.dumps({**PERSON, "extra": None}), PERSON_TEXT, None) == 1.0
    assert (
        json_metric(ignore_case=False)(PERSON_TEXT.replace("London", "london"), PERSON_TEXT, None)
        == 0.0
    )


def test_json_metric_types_are_not_mixed() -> None:
    score = json_metric()
    assert score('{"ok": 1}', '{"ok": true}', None) == 0.0
    assert score('{"n": "42"}', '{"n": 42}', None) == 0.0
    assert score('{"ok": true}', '{"ok": true}', None) == 1.0


def test_json_metric_per_field_exact() -> None:
    score = json_metric(fields=["name", "city", "born"])
    assert score('{"name": "Ada Lovelace", "city": "Paris", "born": 1815}', PERSON_TEXT, None) == (
        pytest.approx(2 / 3, abs=1e-12)
    )
    assert score('{"name": "ada lovelace"}', PERSON_TEXT, None) == pytest.approx(1 / 3, abs=1e-12)
    assert score("[1, 2]", PERSON_TEXT, None) == 0.0


def test_json_metric_per_field_f1() -> None:
    score = json_metric(fields=["name", "tags"], field_match="f1")
    # name: pred [ada], gold [ada, lovelace]: P = 1, R = 1/2, F1 = 2/3; tags: [math] of
    # [math, poetry]: 2/3 as well
    answer = '{"name": "Ada", "tags": ["math"]}'
    assert score(answer, PERSON_TEXT, None) == pytest.approx(2 / 3, abs=1e-12)
    assert score('{"name": "Ada Lovelace"}', PERSON_TEXT, None) == pytest.approx(0.5, abs=1e-12)


def test_json_metric_nested_fields() -> None:
    target = {"customer": {"name": "Ada", "email": None}, "items": [{"sku": "A1"}, {"sku": "B2"}]}
    score = json_metric(fields=["customer.name", "customer.email", "items.1.sku"])
    answer = {"customer": {"name": "Ada"}, "items": [{"sku": "A1"}, {"sku": "B2"}]}
    assert score(json.dumps(answer), json.dumps(target), None) == 1.0
    answer["items"] = [{"sku": "B2"}]  # items.1 missing
    assert score(json.dumps(answer), json.dumps(target), None) == pytest.approx(2 / 3, abs=1e-12)
    answer["customer"] = {"name": "Ada", "email": "ada@example.org"}
    assert score(json.dumps(answer), json.dumps(target), None) == pytest.approx(1 / 3, abs=1e-12)


def schema_file(tmp_path: Path, schema: Any, name: str = "schema.json") -> Path:
    path = tmp_path / name
    path.write_text(schema if isinstance(schema, str) else json.dumps(schema), encoding="utf-8")
    return path


PERSON_SCHEMA = {
    "type": "object",
    "required": ["name", "city"],
    "properties": {"name": {"type": "string"}, "born": {"type": "integer"}},
}


def test_json_metric_schema(tmp_path: Path) -> None:
    score = json_metric(schema=str(schema_file(tmp_path, PERSON_SCHEMA)), fields=["name"])
    assert score('{"name": "Ada Lovelace", "city": "X"}', PERSON_TEXT, None) == 1.0
    assert score('{"name": "Ada Lovelace"}', PERSON_TEXT, None) == 0.0  # city is required
    bad_type = '{"name": "Ada Lovelace", "city": "X", "born": "1815"}'
    assert score(bad_type, PERSON_TEXT, None) == 0.0
    assert score(f"Here:\n```json\n{PERSON_TEXT}\n```", PERSON_TEXT, None) == 1.0


def test_json_metric_target_is_its_own_best_answer(tmp_path: Path) -> None:
    # what opro checks before any call: the target scores 1 against itself
    schema = str(schema_file(tmp_path, PERSON_SCHEMA))
    for options in ({}, {"fields": ["name", "tags"]}, {"fields": ["city"], "field_match": "f1"}):
        assert json_metric(schema=schema, **options)(PERSON_TEXT, PERSON_TEXT, None) == 1.0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (
            None,
            "schema file not found -> metric.schema names a JSON Schema file, relative to the spec",
        ),
        (
            '{"type": "object",\n}',
            ":2: not valid JSON (Expecting property name enclosed in "
            "double quotes) -> fix the schema file",
        ),
        (
            "[1]",
            ": a JSON Schema is an object, not list -> e.g. "
            '{"type": "object", "required": ["name"]}',
        ),
        (
            '{"type": 5}',
            ": not a valid JSON Schema (at type: 5 is not valid under any of the "
            "given schemas) -> fix the schema file",
        ),
    ],
)
def test_json_metric_bad_schema_file(tmp_path: Path, content: str | None, problem: str) -> None:
    path = tmp_path / "schema.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(MetricError) as err:
        json_metric(schema=str(path))
    sep = ": " if content is None else ""
    assert str(err.value) == f"{path}{sep}{problem}"


def test_json_metric_unresolvable_reference(tmp_path: Path) -> None:
    path = schema_file(tmp_path, {"$ref": "https://example.org/person.json"})
    score = json_metric(schema=str(path))
    with pytest.raises(MetricError) as err:
        score.score("{}", Example("x1", "in", "{}"))
    assert str(err.value) == (
        f"metric 'json' on example 'x1': the schema {path} refers to "
        "Unresolvable: https://example.org/person.json, which opro cannot resolve "
        "-> put the referenced schema inside the file; opro does not fetch schemas"
    )


def test_json_metric_target_must_be_json() -> None:
    with pytest.raises(MetricError) as err:
        json_metric().score('{"a": 1}', Example("x2", "in", "Ada, London"))
    assert str(err.value) == (
        "metric 'json' on example 'x2': the target is not JSON ('Ada, London') -> the target "
        'column must hold JSON, e.g. {"name": "Ada", "city": "London"}'
    )


def test_json_schema_path_resolves_against_the_spec(tmp_path: Path) -> None:
    (tmp_path / "cfg").mkdir()
    schema = schema_file(tmp_path, PERSON_SCHEMA, "person.json")
    spec = tmp_path / "cfg" / "spec.yaml"
    spec.write_text(
        "name: x\ntask: t\nseed_prompts: [a]\ndataset: {path: d.jsonl, input: i, target: t}\n"
        "metric: {name: json, schema: ../person.json, fields: [name]}\n",
        encoding="utf-8",
    )
    loaded = load_spec(spec).metric
    assert loaded.json_schema == str(schema.resolve())
    assert build_metric(loaded)('{"name": "Ada", "city": "X"}', '{"name": "ada"}', None) == 1.0


@pytest.mark.parametrize(
    ("metric_yaml", "problem"),
    [
        (
            "{name: exact_match, fields: [a]}",
            "fields is an option of the json metric -> set name: json, or remove it",
        ),
        (
            "{name: f1, schema: s.json, fields: [a]}",
            "schema and fields are options of the json metric -> set name: json, or remove them",
        ),
        (
            "{name: json, field_match: f1}",
            "field_match: f1 needs fields -> list the fields to compare, e.g. fields: [name, city]",
        ),
        (
            "{name: json, fields: []}",
            "fields is empty -> list the fields to compare, or drop fields to compare the whole "
            "object",
        ),
        (
            "{name: json, fields: [a..b]}",
            "field 'a..b' is not a dotted path -> e.g. name, customer.email, items.0.sku",
        ),
        (
            "{name: exact_match, letters: true}",
            "letters is an option of the choice metric -> remove it",
        ),
        ("{name: choice, letters: maybe}", "letters: must be auto, true or false, not 'maybe'"),
    ],
)
def test_metric_spec_options_belong_to_their_metric(metric_yaml: str, problem: str) -> None:
    text = (
        "name: x\ntask: t\nseed_prompts: [a]\ndataset: {path: d.jsonl, input: i, target: t}\n"
        f"metric: {metric_yaml}\n"
    )
    with pytest.raises(SpecError) as err:
        parse_spec(text)
    where = "metric." if problem.startswith("letters:") else "metric: "
    assert str(err.value) == f"<spec>:5: {where}{problem}"


def test_metric_spec_json_keys_round_trip() -> None:
    spec = MetricSpec.model_validate({"name": "json", "schema": "s.json", "fields": ["a.b"]})
    dumped = spec.model_dump(mode="json")
    assert (dumped["schema"], dumped["fields"], dumped["field_match"]) == (
        "s.json",
        ["a.b"],
        "exact",
    )
    assert MetricSpec.model_validate(dumped) == spec
