from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from opro_cli.errors import MetricError
from opro_cli.metrics import Metric, build_metric, extract_number, normalize
from opro_cli.spec import MetricSpec

SENTIMENT = ["positive", "negative"]
ANIMALS = ["cat", "dog", "cow", "pig"]


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
        ("B", "negative", 1.0),
        ("(b)", "negative", 1.0),
        ("A", "negative", 0.0),
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
def test_choice_reads_letters(prediction: str) -> None:
    score = metric("choice")
    assert score(prediction, "dog", ANIMALS) == 1.0
    assert score(prediction, "(B)", ANIMALS) == 1.0
    assert score(prediction, "cat", ANIMALS) == 0.0


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
    score = metric("choice", choices=("yes", "no"))
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


USAGE = "define def score(prediction, target): ... returning a number between 0 and 1"
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
