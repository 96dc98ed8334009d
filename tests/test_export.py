from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fakes
import pytest
import yaml
from scripted_client import ScriptedClient
from typer.testing import CliRunner

from opro_cli.app import execute, prepare
from opro_cli.cli import app
from opro_cli.export import promptfoo_provider
from opro_cli.spec import ScorerSpec

runner = CliRunner()
WINNER = "Label the parity carefully in one word."


def finished_run(parity_project, tmp_path: Path, **overrides: Any) -> Path:
    return execute(
        prepare(parity_project(**overrides)),
        runs_dir=tmp_path / "runs",
        client=ScriptedClient(fakes.SCRIPTS),
    ).run_dir


def test_txt_json_yaml(parity_project, tmp_path: Path) -> None:
    run = finished_run(parity_project, tmp_path)
    assert runner.invoke(app, ["export", str(run)]).output == WINNER + "\n"
    record = json.loads(runner.invoke(app, ["export", str(run), "--format", "json"]).output)
    assert record["prompt"] == WINNER
    assert record["scores"] == {"train": 1.0, "val": 1.0, "test": 1.0}
    assert record["seed_prompt"]["text"] == "Answer."
    assert record["provenance"]["scorer"] == "openai/parity"
    assert len(record["provenance"]["dataset_sha256"]) == 64
    as_yaml = yaml.safe_load(runner.invoke(app, ["export", str(run), "-f", "yaml"]).output)
    assert as_yaml == record


def test_promptfoo_config_has_the_test_split_as_tests(parity_project, tmp_path: Path) -> None:
    run = finished_run(parity_project, tmp_path, scorer={"model": "scripted/parity"})
    out = tmp_path / "promptfooconfig.yaml"
    result = runner.invoke(app, ["export", str(run), "-f", "promptfoo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    # promptfoo has no scripted/ provider: the config says so at the top, in a YAML comment
    assert text.startswith(
        "# opro does not know promptfoo's name for the provider of scripted/parity"
    )
    config = yaml.safe_load(text)
    assert config["providers"] == [
        {"id": "scripted/parity", "config": {"temperature": 0.0, "max_tokens": 4}}
    ]
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
    assert "'docx' is not one of" in result.output  # the choices, checked by Typer
    (run / "summary.json").unlink()
    result = runner.invoke(app, ["export", str(run)])
    assert result.exit_code == 2
    assert "has no winner yet" in result.output
    result = runner.invoke(app, ["export", str(tmp_path / "nothing")])
    assert result.exit_code == 2
    assert "not a run directory" in result.output


@pytest.mark.parametrize(
    ("scorer", "provider_id", "base", "note"),
    [
        ({"model": "openai/gpt-4o-mini"}, "openai:gpt-4o-mini", None, None),
        (
            {"model": "anthropic/claude-3-5-haiku"},
            "anthropic:messages:claude-3-5-haiku",
            None,
            None,
        ),
        ({"model": "gemini/gemini-2.0-flash"}, "google:gemini-2.0-flash", None, None),
        (
            {"model": "openai/qwen2.5-7b", "api_base": "http://gpu-box:8000/v1"},
            "openai:chat:qwen2.5-7b",
            "http://gpu-box:8000/v1",
            None,
        ),
        (
            {"model": "local/smollm2-135m-instruct"},
            "openai:chat:smollm2-135m-instruct",
            "http://127.0.0.1:8080/v1",
            "llama-server -m ",
        ),
        (
            {"model": "local/models/my-model.Q4_K_M.gguf"},
            "openai:chat:my-model.Q4_K_M",
            "http://127.0.0.1:8080/v1",
            "llama-server -m models/my-model.Q4_K_M.gguf --port 8080",
        ),
        (
            {"model": "ollama/llama3", "api_base": "http://box:11434"},
            "ollama:llama3",
            None,
            "at http://box:11434: set that address",
        ),
        ({"model": "bedrock/titan"}, "bedrock/titan", None, "check the provider id"),
    ],
)
def test_promptfoo_provider_for_each_kind_of_model(
    scorer: dict, provider_id: str, base: str | None, note: str | None
) -> None:
    provider, said = promptfoo_provider(ScorerSpec(**scorer, max_tokens=16))
    assert provider["id"] == provider_id
    assert provider["config"].get("apiBaseUrl") == base
    assert provider["config"]["max_tokens"] == 16
    if note is None:
        assert said is None
    else:
        assert said is not None and note in said
