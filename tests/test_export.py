from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from opro_cli.app import execute, prepare
from opro_cli.cli import app
from opro_cli.models.litellm_client import LiteLLMClient

runner = CliRunner()
WINNER = "Label the parity carefully in one word."


def finished_run(parity_project, tmp_path: Path) -> Path:
    return execute(
        prepare(parity_project()), runs_dir=tmp_path / "runs", client=LiteLLMClient(4)
    ).run_dir


def test_txt_json_yaml(parity_project, tmp_path: Path) -> None:
    run = finished_run(parity_project, tmp_path)
    assert runner.invoke(app, ["export", str(run)]).output == WINNER + "\n"
    record = json.loads(runner.invoke(app, ["export", str(run), "--format", "json"]).output)
    assert record["prompt"] == WINNER
    assert record["scores"] == {"train": 1.0, "val": 1.0, "test": 1.0}
    assert record["seed_prompt"]["text"] == "Answer."
    assert record["provenance"]["scorer"] == "fake/parity"
    assert len(record["provenance"]["dataset_sha256"]) == 64
    as_yaml = yaml.safe_load(runner.invoke(app, ["export", str(run), "-f", "yaml"]).output)
    assert as_yaml == record


def test_promptfoo_config_has_the_test_split_as_tests(parity_project, tmp_path: Path) -> None:
    run = finished_run(parity_project, tmp_path)
    out = tmp_path / "promptfooconfig.yaml"
    result = runner.invoke(app, ["export", str(run), "-f", "promptfoo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    config = yaml.safe_load(out.read_text())
    assert config["prompts"][0]["raw"] == WINNER + "\n{{input}}"
    assert len(config["tests"]) == 10
    first = config["tests"][0]
    assert first["vars"]["input"].startswith("item ")
    assert first["assert"][0]["type"] == "javascript"
    assert "toLowerCase" in first["assert"][0]["value"]


def test_unknown_format_and_unfinished_run_exit_2(parity_project, tmp_path: Path) -> None:
    run = finished_run(parity_project, tmp_path)
    result = runner.invoke(app, ["export", str(run), "-f", "docx"])
    assert result.exit_code == 2
    assert "unknown format 'docx'" in result.output
    (run / "summary.json").unlink()
    result = runner.invoke(app, ["export", str(run)])
    assert result.exit_code == 2
    assert "has no winner yet" in result.output
    result = runner.invoke(app, ["export", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "not a run directory" in result.output
