from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from opro_cli.errors import SpecError
from opro_cli.spec import DEFAULT_LOCAL_MODEL, load_spec

GOOD = """\
name: tickets
task: Classify a customer-support ticket as billing, technical, account or shipping.
seed_prompts: ["Classify the ticket."]
dataset: {path: data/tickets.jsonl, input: text, target: label,
          split: {train: 0.5, val: 0.2, test: 0.3}, seed: 7}
metric: exact_match
scorer: {model: openai/gpt-4o-mini, api_base: null, temperature: 0, max_tokens: 16,
         instruction_position: system}
optimizer: {model: openai/gpt-4o, temperature: 1.0, candidates_per_step: 8, history_size: 20,
            exemplars: 3}
budget: {steps: 10}
concurrency: 8
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, text))
    return str(info.value)


def test_the_issue_example_loads_with_paths_resolved(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec.name == "tickets"
    assert spec.dataset.path == str(tmp_path / "data" / "tickets.jsonl")
    assert spec.metric.name == "exact_match"
    assert spec.scorer.instruction_position == "system"
    assert spec.scorer.max_tokens == 16
    assert spec.optimizer.candidates_per_step == 8
    assert spec.budget.steps == 10


def test_defaults_use_the_local_model_and_paper_settings(tmp_path: Path) -> None:
    spec = load_spec(
        write(
            tmp_path,
            "name: x\ntask: t\nseed_prompts: ['']\ndataset: {path: d.csv, input: q, target: a}\n",
        )
    )
    assert spec.seed_prompts == ("",)
    assert spec.scorer.model == DEFAULT_LOCAL_MODEL
    assert spec.scorer.temperature == 0.0
    assert spec.optimizer.temperature == 1.0
    assert (spec.optimizer.candidates_per_step, spec.optimizer.history_size) == (8, 20)
    assert spec.optimizer.exemplars == 3
    assert spec.concurrency == 8


def test_metric_mapping_form_and_python_short_form(tmp_path: Path) -> None:
    text = GOOD.replace("metric: exact_match", "metric: {name: exact_match, ignore_case: false}")
    assert load_spec(write(tmp_path, text)).metric.ignore_case is False
    text = GOOD.replace("metric: exact_match", "metric: {python: m.py:score}")
    spec = load_spec(write(tmp_path, text))
    assert spec.metric.name == "python"
    assert spec.metric.python == f"{tmp_path / 'm.py'}:score"


def test_unknown_key_names_file_line_and_field(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("budget: {steps: 10}", "budget: {stepz: 10}"))
    assert f"{tmp_path / 'spec.yaml'}:11: budget.stepz: unknown key" in message


def test_malformed_yaml_gives_line(tmp_path: Path) -> None:
    message = error_of(tmp_path, "name: x\ntask: [unclosed\nseed_prompts: []\n")
    assert "malformed YAML" in message
    assert str(tmp_path / "spec.yaml") in message


def test_missing_required_key(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("task: Classify", "tusk: Classify"))
    assert "task: required key is missing" in message
    assert "tusk: unknown key" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("name: tickets", "name: ../evil", "name: use letters"),
        ("instruction_position: system", "instruction_position: middle", "must be one of"),
        ("temperature: 0,", "temperature: -1,", "scorer.temperature"),
        ("test: 0.3}", "test: 0.5}", "add up to 1.2"),
        ("candidates_per_step: 8", "candidates_per_step: 0", "optimizer.candidates_per_step"),
        ('seed_prompts: ["Classify the ticket."]', "seed_prompts: []", "seed_prompts"),
        ("metric: exact_match", "metric: {name: regex}", "regex needs a pattern"),
        ("metric: exact_match", "metric: bleu", "must be one of"),
        ("input: text", "input: '{}'", "template has an empty {}"),
        ("budget: {steps: 10}", "budget: {steps: ten}", "budget.steps"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    assert expected in error_of(tmp_path, GOOD.replace(old, new))


def test_prefill_on_and_off_unquoted_are_read_as_written(tmp_path: Path) -> None:
    """YAML 1.1 reads unquoted on/off as booleans: ``prefill: off`` is off, in the file and
    in --set, and only other values are refused."""
    text = GOOD.replace(
        "instruction_position: system}", "instruction_position: a_begin,\n prefill: off}"
    )
    spec = load_spec(write(tmp_path, text))
    assert (spec.scorer.prefill, spec.optimizer.prefill) == ("off", "auto")
    spec = load_spec(
        write(tmp_path, GOOD), overrides=["optimizer.prefill=on", "scorer.prefill=off"]
    )
    assert (spec.scorer.prefill, spec.optimizer.prefill) == ("off", "on")
    with pytest.raises(SpecError) as info:
        load_spec(write(tmp_path, GOOD), overrides=["optimizer.prefill=1"])
    assert info.value.message == "--set optimizer.prefill: must be one of 'auto', 'on' or 'off'"


def test_secret_looking_extra_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        "instruction_position: system", "instruction_position: system, extra: {api_key: x}"
    )
    assert "looks like a secret" in error_of(tmp_path, text)


def test_missing_file_empty_file_and_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="file not found"):
        load_spec(tmp_path / "nope.yaml")
    assert "the spec is empty" in error_of(tmp_path, "")
    assert "must be a mapping" in error_of(tmp_path, "- a\n- b\n")


def test_non_utf8_spec(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec(path)


def test_split_files_resolve(tmp_path: Path) -> None:
    data = yaml.safe_load(GOOD)
    data["dataset"] = {
        "input": "text",
        "target": "label",
        "split": {"train": "a.jsonl", "val": "b.jsonl", "test": "c.jsonl"},
    }
    spec = load_spec(write(tmp_path, yaml.safe_dump(data)))
    assert spec.dataset.split.train == str(tmp_path / "a.jsonl")
    assert spec.dataset.path is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "temperature: 0,",
            "temprature: 0,",
            "scorer.temprature: unknown key -> did you mean 'temperature'?",
        ),
        (
            "budget: {steps: 10}",
            "budgett: {steps: 10}",
            "budgett: unknown key -> did you mean 'budget'?",
        ),
        ("seed: 7}", "sed: 7}", "dataset.sed: unknown key -> did you mean 'seed'?"),
        ("metric: exact_match", "metric: exact_matc", "-> did you mean 'exact_match'?"),
        ("metric: exact_match", "metric: Exact_Match", "-> did you mean 'exact_match'?"),
        ("instruction_position: system", "instruction_position: sytem", "did you mean 'system'?"),
    ],
)
def test_a_misspelling_gets_the_nearest_name(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert old in GOOD
    assert expected in error_of(tmp_path, GOOD.replace(old, new))


def test_no_guess_where_nothing_is_close(tmp_path: Path) -> None:
    message = error_of(tmp_path, GOOD.replace("budget: {steps: 10}", "budget: {colour: red}"))
    assert "budget.colour: unknown key -> remove it or check its spelling" in message
    assert "did you mean" not in message
    message = error_of(tmp_path, GOOD.replace("metric: exact_match", "metric: bleu"))
    assert "did you mean" not in message
