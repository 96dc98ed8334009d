"""``opro init``: the starter files validate and plan a run as they are, for the local model and
for a hosted one, and nothing is replaced without --force."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.app import prepare
from opro_cli.cli import app
from opro_cli.scaffold import starter_spec, write_starter
from opro_cli.spec import DEFAULT_LOCAL_MODEL
from opro_cli.spec.schema import MODELINE, spec_schema

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_init_writes_a_spec_that_validates_and_plans(tmp_path: Path) -> None:
    result = invoke("init", "demo")
    assert result.exit_code == 0, result.output
    assert "wrote demo/opro.yaml, demo/data.jsonl, demo/opro.schema.json" in result.output
    assert "opro run demo/opro.yaml --dry-run" in result.output
    text = (tmp_path / "demo" / "opro.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == MODELINE
    schema = json.loads((tmp_path / "demo" / "opro.schema.json").read_text(encoding="utf-8"))
    assert schema == spec_schema()
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(text))) == []
    prepared = prepare(tmp_path / "demo" / "opro.yaml")
    assert prepared.spec.name == "demo"
    assert prepared.spec.scorer.model == prepared.spec.optimizer.model == DEFAULT_LOCAL_MODEL
    assert prepared.spec.concurrency == 1
    sizes = prepared.sizes
    assert (sizes.train, sizes.val, sizes.test) == (13, 7, 10)
    assert sum(prepared.planned_calls().values()) == 117
    dry = invoke("run", "demo/opro.yaml", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "planned cost: $0 (in-process models)" in dry.output


def test_init_with_a_hosted_model(tmp_path: Path) -> None:
    result = invoke("init", "hosted", "--model", "openai/gpt-4o-mini")
    assert result.exit_code == 0, result.output
    prepared = prepare(tmp_path / "hosted" / "opro.yaml")
    spec = prepared.spec
    assert spec.scorer.model == spec.optimizer.model == "openai/gpt-4o-mini"
    assert spec.concurrency == 8
    assert spec.budget.max_cost_usd is None  # valid for models nobody can price too
    text = (tmp_path / "hosted" / "opro.yaml").read_text(encoding="utf-8")
    assert "  # max_cost_usd: 0.50" in text
    assert "OPENAI_API_KEY" in text and "sk-" not in text


def test_init_in_the_current_folder_names_the_run_after_it(tmp_path: Path) -> None:
    assert invoke("init").exit_code == 0
    name = yaml.safe_load((tmp_path / "opro.yaml").read_text(encoding="utf-8"))["name"]
    assert name == tmp_path.name or name == "starter"


def test_init_never_replaces_files_without_force(tmp_path: Path) -> None:
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "opro.yaml").write_text("mine\n", encoding="utf-8")
    result = invoke("init", "demo")
    assert result.exit_code == 2
    assert "demo/opro.yaml: already there" in result.output
    assert (tmp_path / "demo" / "opro.yaml").read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "demo" / "data.jsonl").exists()
    assert invoke("init", "demo", "--force").exit_code == 0
    assert (tmp_path / "demo" / "opro.yaml").read_text(encoding="utf-8") != "mine\n"


@pytest.mark.parametrize("model", ["gpt-4o", "/"])
def test_init_refuses_a_model_without_provider(tmp_path: Path, model: str) -> None:
    result = invoke("init", "x", "--model", model)
    assert result.exit_code == 2
    assert "not a LiteLLM model string" in result.output
    assert not (tmp_path / "x").exists()


def test_every_line_of_the_starter_spec_is_filled_in() -> None:
    for model in (None, "anthropic/claude-3-5-haiku-latest"):
        text = starter_spec("s/opro.yaml", name="s", model=model)
        assert "@" not in text.replace("'opro-cli[local]'", "")
        assert "\n\n\n" not in text


def always_positive(messages: list[dict[str, str]], params: dict[str, object]) -> str:
    return "positive"


def test_the_starter_runs_on_the_test_models(test_models, tmp_path: Path) -> None:
    test_models.add("reviewer", always_positive)
    written = write_starter(tmp_path / "p", model="openai/reviewer")
    spec = yaml.safe_load(written.spec.read_text(encoding="utf-8"))
    assert spec["optimizer"]["model"] == "openai/reviewer"
    result = invoke(
        "run",
        str(written.spec),
        "--set",
        "optimizer.model=openai/proposer",
        "--runs-dir",
        "runs",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{\n") :])
    assert summary["status"] == "completed"
    assert summary["steps_completed"] == 2
    assert summary["best_seed"]["train"] == 9 / 13  # "positive" is right for 9 of 13
