"""A corpus of bad inputs, each run through ``opro run``: exit 2, one short screen naming the file
(and the field where there is one), no traceback, and no run that looks completed. Errors found
before the run starts leave no run directory at all.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fakes
import pytest
import yaml
from conftest import parity_spec, write_jsonl
from typer.testing import CliRunner

from opro_cli.cli import app

MAX_LINES = 25
ROW = {"id": "a", "text": "item 1", "label": "odd"}


def jsonl_text(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # the file the message must name
    says: str  # what it must say about it
    where: str | None = None  # the spec field (or option) it must name, where there is one
    edit: Callable[[dict[str, Any]], Any] | None = None  # changes the good spec (a dict)
    raw: Callable[[str], bytes] | None = None  # or: the spec file's bytes, from the good YAML
    files: dict[str, str | bytes | None] = field(default_factory=dict)  # None: a folder
    spec_path: str = "spec.yaml"  # the spec given on the command line
    args: tuple[str, ...] = ()
    mid_run: bool = False  # found only while the run goes: the run is left marked failed


def update(section: str, **values: Any) -> Callable[[dict[str, Any]], None]:
    def edit(spec: dict[str, Any]) -> None:
        if isinstance(spec.get(section), dict):
            spec[section].update(values)
        else:
            spec[section] = values

    return edit


def setting(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.__setitem__(key, value)


def dropping(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.pop(key)


def metric_file(body: str) -> dict[str, str | bytes | None]:
    return {"m.py": body}


CUSTOM = setting("metric", {"python": "m.py:score"})

CASES = [
    # -- the YAML file itself
    Case(
        "broken-yaml",
        "spec.yaml:3",
        "malformed YAML",
        raw=lambda _: b"name: x\ntask: [unclosed\n",
    ),
    Case("tab-indent", "spec.yaml:2", "malformed YAML", raw=lambda _: b"name: x\n\ttask: y\n"),
    Case("empty-spec", "spec.yaml", "the spec is empty", raw=lambda _: b""),
    Case("spec-is-a-list", "spec.yaml", "must be a mapping", raw=lambda _: b"- name\n- task\n"),
    Case(
        "duplicate-key",
        "spec.yaml",
        "key given twice",
        where="name",
        raw=lambda good: (good + "name: other\n").encode(),
    ),
    Case(
        "non-utf8-yaml",
        "spec.yaml",
        "not UTF-8 text",
        raw=lambda good: good.encode() + "# caf\xe9\n".encode("latin-1"),
    ),
    Case("spec-not-found", "nope.yaml", "file not found", spec_path="nope.yaml"),
    Case("spec-is-a-folder", "specs", "is a folder", spec_path="specs", files={"specs": None}),
    # -- keys and values
    Case(
        "wrong-type",
        "spec.yaml",
        "valid integer",
        where="budget.steps",
        edit=update("budget", steps="many"),
    ),
    Case(
        "section-not-a-mapping",
        "spec.yaml",
        "must be a mapping",
        where="scorer",
        edit=setting("scorer", "gpt-4"),
    ),
    Case(
        "unknown-key",
        "spec.yaml",
        "unknown key",
        where="scorer.temprature",
        edit=update("scorer", temprature=0),
    ),
    Case(
        "missing-task", "spec.yaml", "required key is missing", where="task", edit=dropping("task")
    ),
    Case(
        "missing-dataset",
        "spec.yaml",
        "required key is missing",
        where="dataset",
        edit=dropping("dataset"),
    ),
    Case(
        "run-name-escapes",
        "spec.yaml",
        "no slashes",
        where="name",
        edit=setting("name", "../escape"),
    ),
    Case(
        "fractions-sum",
        "spec.yaml",
        "fractions add up to 1.5",
        where="dataset.split",
        edit=update("dataset", split={"train": 0.5, "val": 0.5, "test": 0.5}),
    ),
    Case(
        "negative-fraction",
        "spec.yaml",
        "must not be negative",
        where="dataset.split",
        edit=update("dataset", split={"train": 1.2, "val": -0.2, "test": 0}),
    ),
    Case(
        "negative-steps",
        "spec.yaml",
        "greater than or equal to 0",
        where="budget.steps",
        edit=update("budget", steps=-1),
    ),
    Case(
        "unknown-metric",
        "spec.yaml",
        "must be one of",
        where="metric.name",
        edit=setting("metric", "exactish"),
    ),
    Case(
        "unknown-instruction-position",
        "spec.yaml",
        "must be one of 'system', 'q_begin', 'q_end' or 'a_begin'",
        where="scorer.instruction_position",
        edit=update("scorer", instruction_position="middle"),
    ),
    Case(
        "temperature-too-high",
        "spec.yaml",
        "less than or equal to 2",
        where="optimizer.temperature",
        edit=update("optimizer", temperature=5),
    ),
    Case(
        "no-seed-prompts",
        "spec.yaml",
        "needs at least 1 item",
        where="seed_prompts",
        edit=setting("seed_prompts", []),
    ),
    Case(
        "template-does-not-parse",
        "spec.yaml",
        "template does not parse",
        where="dataset.input",
        edit=update("dataset", input="Q: {text"),
    ),
    Case(
        "bad-regex",
        "spec.yaml",
        "not a valid regular expression",
        where="metric",
        edit=setting("metric", {"name": "regex", "pattern": "(unclosed"}),
    ),
    Case(
        "secret-in-extra",
        "spec.yaml",
        "looks like a secret",
        where="scorer.extra",
        edit=update("scorer", extra={"api_key": "sk-123"}),
    ),
    # -- the dataset
    Case(
        "missing-dataset-file",
        "nope.jsonl",
        "dataset file not found",
        edit=update("dataset", path="nope.jsonl"),
    ),
    Case(
        "dataset-is-a-folder",
        "folder.jsonl",
        "is a folder",
        where="dataset.path",
        edit=update("dataset", path="folder.jsonl"),
        files={"folder.jsonl": None},
    ),
    Case(
        "missing-split-file",
        "val.jsonl",
        "dataset file not found",
        edit=update(
            "dataset",
            path=None,
            split={"train": "data.jsonl", "val": "val.jsonl", "test": "t.jsonl"},
        ),
    ),
    Case(
        "unsupported-file-type",
        "data.txt",
        "unsupported file type '.txt'",
        edit=update("dataset", path="data.txt"),
        files={"data.txt": "item 1, odd\n"},
    ),
    Case(
        "empty-dataset",
        "empty.jsonl",
        "the dataset is empty",
        edit=update("dataset", path="empty.jsonl"),
        files={"empty.jsonl": ""},
    ),
    Case(
        "one-row-dataset",
        "one.jsonl",
        "the val split is empty of 1 examples",
        where="dataset.split",
        edit=update("dataset", path="one.jsonl"),
        files={"one.jsonl": jsonl_text([ROW])},
    ),
    Case(
        "missing-column",
        "data.jsonl",
        "missing column(s) answer",
        where="dataset.input/target",
        edit=update("dataset", target="answer"),
    ),
    Case(
        "template-names-a-missing-field",
        "data.jsonl",
        "missing column(s) question",
        edit=update("dataset", input="Q: {question}"),
    ),
    Case(
        "csv-missing-column",
        "data.csv",
        "missing column(s) label",
        edit=update("dataset", path="data.csv"),
        files={"data.csv": "id,text\n1,item 1\n2,item 2\n"},
    ),
    Case(
        "non-utf8-dataset",
        "latin.jsonl",
        "not UTF-8 text",
        edit=update("dataset", path="latin.jsonl"),
        files={"latin.jsonl": '{"id": "a", "text": "caf\xe9", "label": "odd"}\n'.encode("latin-1")},
    ),
    Case(
        "invalid-json-line",
        "bad.jsonl:2",
        "not valid JSON",
        edit=update("dataset", path="bad.jsonl"),
        files={"bad.jsonl": jsonl_text([ROW]) + '{"id": "b", "text": \n'},
    ),
    Case(
        "json-not-a-list",
        "data.json",
        "expected a list of objects",
        edit=update("dataset", path="data.json"),
        files={"data.json": '{"rows": 3}'},
    ),
    Case(
        "empty-target",
        "blank.jsonl",
        "the target 'label' is empty",
        edit=update("dataset", path="blank.jsonl"),
        files={"blank.jsonl": jsonl_text([{**ROW, "label": " "}] * 3)},
    ),
    Case(
        "duplicate-ids",
        "dup.jsonl",
        "id 'a' repeats row 1",
        edit=update("dataset", path="dup.jsonl"),
        files={"dup.jsonl": jsonl_text([ROW] * 4)},
    ),
    # -- the metric
    Case(
        "metric-fails-its-own-target",
        "spec.yaml",
        "scores the target of example",
        where="metric",
        edit=setting("metric", {"name": "regex", "pattern": "zzz"}),
    ),
    Case(
        "custom-metric-raises",
        "m.py",
        "function 'score' on example 'e024' raised ValueError: boom",
        edit=CUSTOM,
        files=metric_file("def score(prediction, target):\n    raise ValueError('boom')\n"),
    ),
    Case(
        "custom-metric-raises-on-wrong-answers",
        "m.py",
        "it must score wrong answers too",
        where="metric",
        edit=CUSTOM,
        files=metric_file(
            "def score(prediction, target):\n"
            "    if prediction != target:\n"
            "        raise KeyError(prediction)\n"
            "    return 1.0\n"
        ),
    ),
    Case(
        "custom-metric-returns-text",
        "m.py",
        "returned str 'yes'",
        edit=CUSTOM,
        files=metric_file("def score(prediction, target):\n    return 'yes'\n"),
    ),
    Case(
        "custom-metric-returns-none",
        "m.py",
        "returned None (no return statement?)",
        edit=CUSTOM,
        files=metric_file("def score(prediction, target):\n    prediction == target\n"),
    ),
    Case(
        "custom-metric-out-of-range",
        "m.py",
        "returned 5, outside [0, 1]",
        edit=CUSTOM,
        files=metric_file("def score(prediction, target):\n    return 5\n"),
    ),
    Case(
        "custom-metric-file-missing",
        "nope.py",
        "file not found",
        where="metric.python",
        edit=setting("metric", {"python": "nope.py:score"}),
    ),
    Case(
        "custom-metric-function-missing",
        "m.py",
        "function 'nothere' not found",
        edit=setting("metric", {"python": "m.py:nothere"}),
        files=metric_file("def score(prediction, target):\n    return 1\n"),
    ),
    Case(
        "custom-metric-syntax-error",
        "m.py:1",
        "syntax error",
        edit=CUSTOM,
        files=metric_file("def score(prediction, target)\n    return 1\n"),
    ),
    Case(
        "custom-metric-import-raises",
        "m.py",
        "importing it raised ModuleNotFoundError",
        edit=CUSTOM,
        files=metric_file("import no_such_module_here\n"),
    ),
    Case(
        "custom-metric-breaks-during-the-run",
        "m.py",
        "raised RuntimeError: tired",
        edit=CUSTOM,
        files=metric_file(
            "calls = []\n\n"
            "def score(prediction, target):\n"
            "    calls.append(prediction)\n"
            "    if len(calls) > 30:\n"
            "        raise RuntimeError('tired')\n"
            "    return float(prediction == target)\n"
        ),
        mid_run=True,
    ),
    # -- the command line
    Case(
        "runs-dir-is-a-file",
        "taken",
        "--runs-dir is a file, not a folder",
        where="--runs-dir",
        args=("--runs-dir", "taken"),
        files={"taken": "not a folder\n"},
    ),
]


def write_case(case: Case, root: Path) -> None:
    write_jsonl(root / "data.jsonl", fakes.parity_rows(40))
    for name, content in case.files.items():
        path = root / name
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    spec = parity_spec()
    if case.edit is not None:
        case.edit(spec)
    good = yaml.safe_dump(spec, sort_keys=False)
    data = case.raw(good) if case.raw is not None else good.encode()
    (root / "spec.yaml").write_bytes(data)


def run_statuses(runs: Path) -> list[str]:
    return [json.loads(m.read_text())["status"] for m in runs.glob("*/manifest.json")]


def test_the_corpus_is_big_and_every_case_is_distinct() -> None:
    assert len(CASES) >= 20
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.usefixtures("test_models")  # cases that fail mid-run call the test models
@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_exits_2_with_a_short_message_and_no_finished_run(
    case: Case, tmp_path: Path
) -> None:
    write_case(case, tmp_path)
    args = ["run", case.spec_path, *(case.args or ("--runs-dir", "runs"))]

    result = CliRunner().invoke(app, args)

    output = result.output
    assert result.exit_code == 2, f"{output}\n{result.exception!r}"
    assert "Traceback" not in output
    lines = output.strip().splitlines()
    assert 1 <= len(lines) <= MAX_LINES, output
    assert lines[0].startswith("error: ") or case.mid_run, output
    assert case.file in output, output
    assert case.says in output, output
    if case.where is not None:
        assert case.where in output, output
    runs = tmp_path / "runs"
    if case.mid_run:
        assert run_statuses(runs) == ["failed"]
        assert "run directory (marked failed)" in output
    else:
        assert not runs.exists(), "an input error found before the run left a run directory"


def test_the_installed_command_reports_a_bad_input_the_same_way(tmp_path: Path) -> None:
    """Through ``python -m opro_cli`` (its own error handling, not CliRunner's)."""
    case = next(c for c in CASES if c.id == "dataset-is-a-folder")
    write_case(case, tmp_path)

    done = subprocess.run(
        [sys.executable, "-m", "opro_cli", "run", "spec.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith("error: ")
    assert "folder.jsonl: is a folder, not a dataset file" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "runs").exists()
