"""Command-line conveniences: shell completion, choices as enums, OPRO_RUNS_DIR."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from opro_cli.cli import app

runner = CliRunner()


def test_shell_completion_is_offered() -> None:
    result = runner.invoke(app, ["--help"])
    assert "--install-completion" in result.output
    assert "--show-completion" in result.output


def test_format_choices_are_listed_and_checked() -> None:
    wide = {"COLUMNS": "200"}
    result = runner.invoke(app, ["export", "--help"], env=wide)
    assert "txt|json|yaml|promptfoo" in result.output
    assert "needs opro-cli with its mlflow extra" in result.output
    result = runner.invoke(app, ["report", "--help"], env=wide)
    assert "table|md|json|html" in result.output


def test_opro_runs_dir_is_the_default_runs_dir(parity_project, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPRO_RUNS_DIR", str(tmp_path / "all-runs"))
    result = runner.invoke(app, ["run", str(parity_project(budget={"steps": 0}))])
    assert result.exit_code == 0, result.output
    assert [p.parent for p in (tmp_path / "all-runs").iterdir()] == [tmp_path / "all-runs"]
    assert not Path("runs").exists()
    explicit = runner.invoke(
        app, ["run", str(parity_project(budget={"steps": 0})), "--runs-dir", "mine"]
    )
    assert explicit.exit_code == 0, explicit.output
    assert len(list((tmp_path / "mine").iterdir())) == 1
