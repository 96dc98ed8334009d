from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.errors import BadRequestError
from opro_cli.secrets import redact, secret_names

PLANTED = "sk-planted-0123456789abcdefXYZ"


def test_redact_masks_environment_secrets_and_key_shapes() -> None:
    env = {"OPENAI_API_KEY": "abc123secret", "HOME": "/root"}
    assert redact("key=abc123secret home=/root", env) == "key=*** home=/root"
    assert redact("Bearer abcdefghijklmnop", {}) == "***"
    assert redact("sk-proj-abcdefghijkl", {}) == "***"
    assert secret_names(env) == ["OPENAI_API_KEY"]


def test_a_planted_key_lands_nowhere(
    parity_project, test_models, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-planted-998877")

    def leaky(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
        if "item 3" in messages[-1]["content"]:
            raise BadRequestError(f"bad key {PLANTED}")
        return f"odd, and my key is {PLANTED} tok-planted-998877"

    test_models.add("leaky", leaky)
    spec = parity_project(scorer={"model": "openai/leaky"}, budget={"steps": 1})
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    outputs = [
        runner.invoke(app, ["export", str(run), "-f", fmt]).output
        for fmt in ("txt", "json", "yaml", "promptfoo")
    ]
    reports = [
        runner.invoke(app, ["report", *names, "-f", fmt])
        for names in ([], [run.name])
        for fmt in ("table", "md", "json", "html")
    ]
    assert all(report.exit_code == 0 for report in reports)
    assert all(run.name in report.output for report in reports)
    outputs += [report.output for report in reports]
    files = [p for root in (tmp_path / "runs", tmp_path / "cache") for p in root.rglob("*")]
    assert any(p.name == "evaluations.jsonl" for p in files)
    assert any(p.name.startswith("responses.sqlite3") for p in files)
    for path in files:
        if path.is_file():
            data = path.read_bytes()
            assert PLANTED.encode() not in data, path
            assert b"tok-planted-998877" not in data, path
    for text in [result.output, *outputs]:
        assert PLANTED not in text
    assert "***" in (run / "evaluations.jsonl").read_text()


@pytest.mark.parametrize("key", ["api_key", "Authorization_token"])
def test_spec_refuses_secrets_in_extra(parity_project, key: str) -> None:
    spec = parity_project(scorer={"model": "openai/parity", "extra": {key: "x"}})
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "looks like a secret" in result.output
