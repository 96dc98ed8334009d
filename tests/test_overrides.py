"""``--set path=value``, ``${VAR}`` interpolation and ``--env-file``: what reaches the spec, what
reaches the run directory, and the messages when something is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli import rundir
from opro_cli.cli import app
from opro_cli.envfile import load_env_file, read_env_file
from opro_cli.errors import SpecError, UsageError
from opro_cli.spec import load_spec
from opro_cli.spec.overrides import apply_overrides, parse_override

runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def write_spec(tmp_path: Path, text: str) -> Path:
    (tmp_path / "data.jsonl").write_text('{"q": "1", "a": "one"}\n{"q": "2", "a": "two"}\n')
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    return path


BASE = """\
name: over
task: Say the number as a word.
seed_prompts: [Answer.]
dataset: {path: data.jsonl, input: q, target: a}
"""


# ---------------------------------------------------------------------------------------------
# --set


def test_overrides_are_yaml_typed_and_create_missing_sections() -> None:
    raw = {"budget": {"steps": 5}, "metric": "exact_match", "seed_prompts": ["a", "b"]}
    changes = [
        parse_override("budget.steps=3"),
        parse_override("selection.ci_level=0.9"),
        parse_override("metric.ignore_case=false"),
        parse_override("seed_prompts.1=Think first."),
        parse_override("scorer.api_base=null"),
        parse_override("tracking.mlflow.experiment=demo"),
    ]
    assert apply_overrides(raw, changes) == {
        "budget": {"steps": 3},
        "metric": {"name": "exact_match", "ignore_case": False},
        "seed_prompts": ["a", "Think first."],
        "selection": {"ci_level": 0.9},
        "scorer": {"api_base": None},
        "tracking": {"mlflow": {"experiment": "demo"}},
    }
    assert raw["budget"] == {"steps": 5}  # the input is not changed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("budget.steps", "--set budget.steps: expected path.to.key=value"),
        ("=3", "--set =3: expected path.to.key=value"),
        ("budget..steps=3", "expected path.to.key=value"),
        ("task=[unclosed", "--set task=[unclosed: the value is not valid YAML"),
    ],
)
def test_malformed_overrides_say_how_to_write_them(text: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_override(text)
    assert message in info.value.message


def test_overrides_into_a_value_or_past_a_list_are_refused() -> None:
    with pytest.raises(UsageError) as info:
        apply_overrides({"name": "x"}, [parse_override("name.first=y")])
    message = "--set name.first=y: name is a single value, not a section with keys"
    assert info.value.message == message
    with pytest.raises(UsageError) as info:
        apply_overrides({"seed_prompts": ["a"]}, [parse_override("seed_prompts.3=y")])
    assert "seed_prompts is a list of 1; '3' is not one of its positions" in info.value.message


def test_a_bad_overridden_value_is_blamed_on_set_not_the_file(tmp_path: Path) -> None:
    path = write_spec(tmp_path, BASE + "budget: {steps: 4}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path, overrides=["budget.steps=-1"])
    assert info.value.message == "--set budget.steps: input should be greater than or equal to 0"
    with pytest.raises(SpecError) as info:
        load_spec(path, overrides=["budget.stepz=3"])
    assert info.value.message == "--set budget.stepz: unknown key -> did you mean 'steps'?"


def test_set_on_validate_and_run_reaches_the_run_directory(parity_project, tmp_path) -> None:
    spec = parity_project()
    result = invoke("validate", str(spec), "--set", "budget.steps=1")
    assert result.exit_code == 0, result.output
    assert "steps: 1 x 3 candidates" in result.output
    result = invoke(
        "run", str(spec), "--set", "budget.steps=1", "--set", "seed=5", "--runs-dir", "runs"
    )
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    config = yaml.safe_load((run_dir / rundir.CONFIG).read_text(encoding="utf-8"))
    assert config["budget"]["steps"] == 1 and config["seed"] == 5
    assert rundir.read_summary(run_dir).steps_completed == 1


def test_set_on_dry_run_changes_the_plan(parity_project) -> None:
    spec = parity_project()
    full = invoke("run", str(spec), "--dry-run")
    short = invoke("run", str(spec), "--dry-run", "--set", "budget.steps=0")
    assert "planned model calls (at most): 269" in full.output
    assert "planned model calls (at most): 60" in short.output


def test_set_with_resume_is_refused(parity_project, tmp_path) -> None:
    result = invoke("run", "--resume", str(tmp_path), "--set", "budget.steps=1")
    assert result.exit_code == 2
    assert "--set does not go with --resume" in result.output


# ---------------------------------------------------------------------------------------------
# ${VAR}


def test_variables_and_defaults_are_interpolated_in_values(tmp_path: Path) -> None:
    path = write_spec(
        tmp_path,
        BASE + "scorer:\n"
        "  model: ${SCORER:-openai/gpt-4o-mini}\n"
        "  api_base: ${GATEWAY}/v1\n"
        "  extra: {extra_headers: {X-Team: '${TEAM:-}'}}\n"
        "budget: {steps: '${STEPS}'}\n",
    )
    env = {"GATEWAY": "http://10.0.0.5:4000", "STEPS": "2"}
    spec = load_spec(path, environ=env)
    assert spec.scorer.model == "openai/gpt-4o-mini"
    assert spec.scorer.api_base == "http://10.0.0.5:4000/v1"
    assert spec.scorer.extra == {"extra_headers": {"X-Team": ""}}
    assert spec.budget.steps == 2
    spec = load_spec(path, environ={**env, "SCORER": "ollama/llama3.1", "TEAM": "search"})
    assert spec.scorer.model == "ollama/llama3.1"
    assert spec.scorer.extra == {"extra_headers": {"X-Team": "search"}}


def test_dollar_escapes_and_lone_dollars_stay(tmp_path: Path) -> None:
    path = write_spec(tmp_path, BASE.replace("[Answer.]", "['Costs $5; write $${total} as is.']"))
    assert load_spec(path, environ={}).seed_prompts == ("Costs $5; write ${total} as is.",)


def test_an_unset_variable_names_file_line_and_key(tmp_path: Path) -> None:
    path = write_spec(tmp_path, BASE + "scorer:\n  api_base: ${GATEWAY}\n")
    with pytest.raises(SpecError) as info:
        load_spec(path, environ={})
    assert info.value.message == f"{path}:6: scorer.api_base: ${{GATEWAY}} is not set"
    assert "--env-file" in (info.value.hint or "")


@pytest.mark.parametrize("name", ["OPENAI_API_KEY", "HF_TOKEN", "DB_PASSWORD", "MY_VAR"])
def test_credential_variables_are_never_interpolated(tmp_path: Path, name: str) -> None:
    path = write_spec(tmp_path, BASE + f"scorer:\n  extra: {{user: '${{{name}}}'}}\n")
    env = {name: "sk-abcdefghijklmnopqrstuvwxyz012345", "OPRO_SECRET_ENV": "MY_VAR"}
    with pytest.raises(SpecError) as info:
        load_spec(path, environ=env)
    assert f"${{{name}}} names a credential variable" in info.value.message
    assert "sk-abc" not in str(info.value)


def test_the_run_directory_keeps_the_resolved_value_and_resume_needs_no_variable(
    parity_project, tmp_path, monkeypatch
) -> None:
    spec = parity_project(seed_prompts=["${GREETING:-Answer.}"], budget={"steps": "${STEPS}"})
    monkeypatch.setenv("STEPS", "1")
    result = invoke("run", str(spec), "--runs-dir", "runs")
    assert result.exit_code == 0, result.output
    (run_dir,) = (tmp_path / "runs").iterdir()
    config = (run_dir / rundir.CONFIG).read_text(encoding="utf-8")
    assert "${" not in config
    assert yaml.safe_load(config)["budget"]["steps"] == 1
    assert yaml.safe_load(config)["seed_prompts"] == ["Answer."]


# ---------------------------------------------------------------------------------------------
# --env-file


def test_env_file_syntax(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# comment\n"
        "\n"
        "PLAIN=value with spaces   # a comment\n"
        "export EXPORTED=yes\n"
        'DOUBLE="two\\nlines # not a comment"\n'
        "SINGLE='$literal \\n'\n"
        "EMPTY=\n"
        "URL=http://host:8000/v1#frag\n",
        encoding="utf-8",
    )
    assert read_env_file(path) == {
        "PLAIN": "value with spaces",
        "EXPORTED": "yes",
        "DOUBLE": "two\nlines # not a comment",
        "SINGLE": "$literal \\n",
        "EMPTY": "",
        "URL": "http://host:8000/v1#frag",
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("NO_EQUALS", "no '='"),
        ("1BAD=x", "'1BAD' is not a variable name"),
        ('OPEN="never closed', "the double quote is not closed"),
        ("OPEN='never closed", "the single quote is not closed"),
        ('TAIL="a" b', "text after the closing quote"),
    ],
)
def test_env_file_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / ".env"
    path.write_text(f"OK=1\n{line}\n", encoding="utf-8")
    with pytest.raises(UsageError) as info:
        read_env_file(path)
    assert info.value.message.startswith(f"{path}:2: ")
    assert message in info.value.message


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=from-file\nB=from-file\n", encoding="utf-8")
    environ = {"A": "from-env"}
    assert load_env_file(path, environ) == ["B"]
    assert environ == {"A": "from-env", "B": "from-file"}


def test_env_file_feeds_interpolation_and_no_dotenv_is_read_implicitly(
    parity_project, tmp_path, monkeypatch
) -> None:
    spec = parity_project(budget={"steps": "${STEPS}"})
    (tmp_path / ".env").write_text("STEPS=2\n", encoding="utf-8")
    monkeypatch.setenv("STEPS", "restored-to-unset-after-the-test")
    monkeypatch.delenv("STEPS")
    implicit = invoke("validate", str(spec))
    assert implicit.exit_code == 2
    assert "${STEPS} is not set" in implicit.output
    explicit = invoke("validate", str(spec), "--env-file", str(tmp_path / ".env"))
    assert explicit.exit_code == 0, explicit.output
    assert "steps: 2 x 3 candidates" in explicit.output


def test_a_missing_env_file_is_a_usage_error(parity_project) -> None:
    result = invoke("validate", str(parity_project()), "--env-file", "nope.env")
    assert result.exit_code == 2
    assert "--env-file nope.env: file not found" in result.output
