"""A provider key missing from the environment fails the dry run (and a run) with exit 3 and one
line, before any call; LiteLLM says which variables a model needs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.errors import AuthenticationError
from opro_cli.models.base import CallParams
from opro_cli.models.litellm_client import missing_environment
from opro_cli.provider_keys import check_provider_keys
from opro_cli.spec import load_spec


@pytest.mark.parametrize(
    ("model", "api_base", "environment", "missing"),
    [
        ("openai/gpt-4o-mini", None, {}, ("OPENAI_API_KEY",)),
        ("openai/gpt-4o-mini", None, {"OPENAI_API_KEY": "sk-x"}, ()),
        # a self-hosted OpenAI-compatible server still needs some key (the SDK refuses none)
        ("openai/my-model", "http://127.0.0.1:8000/v1", {}, ("OPENAI_API_KEY",)),
        ("anthropic/claude-3-5-sonnet-20241022", None, {}, ("ANTHROPIC_API_KEY",)),
        ("gemini/gemini-1.5-flash", None, {"GEMINI_API_KEY": "x"}, ()),
        ("ollama/llama3.1", None, {}, ()),  # no key; the base URL defaults to localhost
        ("local/smollm2-135m-instruct", None, {}, ()),  # in process
        ("nosuchprovider/model", None, {}, ()),  # unknown: the first call will say
    ],
)
def test_litellm_says_which_keys_a_model_misses(
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    api_base: str | None,
    environment: dict[str, str],
    missing: tuple[str, ...],
) -> None:
    for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "OLLAMA_API_BASE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert missing_environment(CallParams(model=model, api_base=api_base)) == missing


def test_one_line_names_each_model_and_the_variable(parity_project) -> None:
    spec = load_spec(
        parity_project(
            scorer={"model": "openai/gpt-4o-mini"},
            optimizer={"model": "anthropic/claude-3-5-sonnet-20241022"},
        )
    )
    missing = {
        "openai/gpt-4o-mini": ("OPENAI_API_KEY",),
        "anthropic/claude-3-5-sonnet-20241022": (),
    }
    with pytest.raises(AuthenticationError) as caught:
        check_provider_keys(spec, lambda params: missing[params.model])
    assert caught.value.exit_code == 3
    assert str(caught.value) == (
        "scorer.model openai/gpt-4o-mini: LiteLLM finds no OPENAI_API_KEY in the environment "
        "-> export the key before running opro (in GitHub Actions, pass the secret in the job's "
        "env, e.g. OPENAI_API_KEY: ${{ secrets.OPENAI_API_KEY }})"
    )
    check_provider_keys(spec, lambda params: ())  # all set: nothing raised


def test_the_dry_run_prints_the_plan_then_fails_with_exit_3_and_one_line(
    parity_project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = parity_project(
        scorer={"model": "openai/gpt-4o-mini"}, optimizer={"model": "openai/gpt-4o"}
    )
    monkeypatch.delenv("OPENAI_API_KEY")
    result = CliRunner().invoke(app, ["run", str(spec), "--dry-run"])
    assert result.exit_code == 3
    lines = result.output.splitlines()
    assert lines[0].startswith("opro run parity: ")
    assert lines[1].startswith("planned model calls (at most): ")
    assert lines[-1] == (
        "error: scorer.model openai/gpt-4o-mini, optimizer.model openai/gpt-4o: LiteLLM finds no "
        "OPENAI_API_KEY in the environment -> export the key before running opro (in GitHub "
        "Actions, pass the secret in the job's env, e.g. OPENAI_API_KEY: "
        "${{ secrets.OPENAI_API_KEY }})"
    )
    # the plan (3 lines), what the test split detects, the small-test-split warning, the error:
    # no "fix:" line
    assert len(lines) == 6
    # a run stops the same way before any call, without a run directory
    result = CliRunner().invoke(app, ["run", str(spec)])
    assert result.exit_code == 3
    assert not (tmp_path / "runs").exists()

    monkeypatch.setenv("OPENAI_API_KEY", "sk-set-in-the-environment-0123")
    assert CliRunner().invoke(app, ["run", str(spec), "--dry-run"]).exit_code == 0
