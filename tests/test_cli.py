from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opro_cli.cli import app

runner = CliRunner()
LOCAL = "local/smollm2-135m-instruct"


def invoke(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_help_lists_commands() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "validate", "doctor"):
        assert command in result.output


def test_validate_ok(parity_project) -> None:
    result = invoke("validate", str(parity_project()))
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    assert "20 train / 10 val / 10 test" in result.output


def test_validate_bad_spec_exits_2_with_one_short_message(parity_project, tmp_path: Path) -> None:
    spec = parity_project(budget={"stepz": 3})
    result = invoke("validate", str(spec))
    assert result.exit_code == 2
    assert "budget.stepz: unknown key" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.splitlines()) <= 10


def test_missing_dataset_exits_2(parity_project, tmp_path: Path) -> None:
    spec = parity_project(dataset={"path": "nope.jsonl"})
    result = invoke("run", str(spec))
    assert result.exit_code == 2
    assert "nope.jsonl: dataset file not found" in result.output
    assert not (tmp_path / "runs").exists()


def test_run_plain_progress_and_summary(parity_project, tmp_path: Path) -> None:
    result = invoke("run", str(parity_project()), "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 0, result.output
    out = result.output
    assert "planned model calls (at most): 269" in out
    assert "seeds: best 0.0" in out
    assert "step 3/3: best 100.0" in out
    assert "Label the parity carefully in one word." in out
    assert "run directory:" in out


def test_run_quiet_prints_only_the_summary(parity_project, tmp_path: Path) -> None:
    result = invoke("run", str(parity_project()), "--quiet")
    assert result.exit_code == 0
    assert "step 1/3" not in result.output
    assert "best prompt" in result.output


def test_run_json_prints_only_json_on_stdout(parity_project) -> None:
    result = CliRunner().invoke(app, ["run", str(parity_project()), "--json"])
    assert result.exit_code == 0
    summary = json.loads(result.stdout)
    assert summary["best"]["text"] == "Label the parity carefully in one word."
    assert Path(summary["run_dir"]).is_dir()


def test_dry_run_calls_nothing_and_writes_nothing(parity_project, tmp_path: Path) -> None:
    result = invoke("run", str(parity_project()), "--dry-run")
    assert result.exit_code == 0
    assert "planned model calls" in result.output
    assert not (tmp_path / "runs").exists()


def test_gates_exit_1_with_the_reason(parity_project) -> None:
    spec = str(parity_project(budget={"steps": 0}))
    result = invoke("run", spec, "--quiet", "--fail-under", "0.9")
    assert result.exit_code == 1
    assert "--fail-under: winner's test score 0.000 < 0.900" in result.output
    result = invoke("run", spec, "--quiet", "--min-improvement", "0.1")
    assert result.exit_code == 1
    assert "--min-improvement" in result.output
    assert invoke("run", str(parity_project()), "--quiet", "--fail-under", "0.9").exit_code == 0


def test_provider_auth_error_exits_3_and_marks_run_failed(
    parity_project, test_models, tmp_path: Path
) -> None:
    from opro_cli.errors import AuthenticationError

    def denied(messages, params):
        raise AuthenticationError("invalid api key")

    test_models.add("denied-cli", denied)
    result = invoke("run", str(parity_project(scorer={"model": "openai/denied-cli"})))
    assert result.exit_code == 3
    assert "invalid api key" in result.output
    assert "marked failed" in result.output
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "manifest.json").read_text())["status"] == "failed"


def test_step_summary_is_appended_for_github(parity_project, tmp_path: Path, monkeypatch) -> None:
    target = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(target))
    assert invoke("run", str(parity_project()), "--quiet").exit_code == 0
    text = target.read_text()
    assert "| best | 100.0 | 100.0 | 100.0 |" in text
    assert "Label the parity carefully in one word." in text
    assert "**test: winner 100.0 vs seed 0.0, +100.0 points (95% CI \\[" in text
    assert "Gate" not in text

    # a second run appends; a gate that fails says so in the summary too, and exits 1
    no_steps = str(parity_project(budget={"steps": 0}))  # the seed wins: no improvement
    result = invoke("run", no_steps, "--quiet", "--min-improvement", "0.1")
    assert result.exit_code == 1
    text = target.read_text()
    assert text.count("### opro: parity (completed)") == 2
    assert "**Gate not met:** --min-improvement: winner beats the best seed on test by" in text
    result = invoke("run", str(parity_project()), "--quiet", "--fail-under", "0.5")
    assert result.exit_code == 0
    assert target.read_text().rstrip().count("Gates met.") == 1


def test_step_summary_fence_survives_backticks_in_the_prompt() -> None:
    from opro_cli.report.render_md import step_summary_markdown
    from opro_cli.rundir import PromptScores, Summary, Usage

    prompt = 'Answer in JSON:\n```json\n{"label": ...}\n```'
    scores = PromptScores("id", prompt, train=1.0, val=1.0, test=1.0)
    summary = Summary("completed", None, scores, scores, (scores,), None, 1, 1, Usage(), "x")
    text = step_summary_markdown(summary, None, False)
    assert f"````\n{prompt}\n````\n" in text


def test_every_example_config_validates() -> None:
    configs = sorted((Path(__file__).parent.parent / "configs").glob("*.yaml"))
    assert len(configs) >= 8
    for config in configs:
        result = invoke("validate", str(config))
        assert result.exit_code == 0, f"{config}: {result.output}"


def gpt_4o_mini_price(prompt_tokens: int, completion_tokens: int) -> float:
    from opro_cli.models.litellm_client import import_litellm

    price = import_litellm().model_cost["gpt-4o-mini"]
    assert price["input_cost_per_token"] > 0
    return (
        prompt_tokens * price["input_cost_per_token"]
        + completion_tokens * price["output_cost_per_token"]
    )


def test_dry_run_prices_the_whole_run_for_a_model_litellm_knows(parity_project) -> None:
    from opro_cli.formatting import usd as format_usd

    spec = parity_project(
        scorer={"model": "openai/gpt-4o-mini"}, optimizer={"model": "openai/gpt-4o-mini"}
    )
    result = invoke("run", str(spec), "--dry-run")  # no key, no server: it must call nothing
    assert result.exit_code == 0, result.output
    # 260 scorer calls: instruction (150 chars assumed) + input (6.75 on average) / 4 + 8 tokens,
    # answers of max_tokens 4; 9 optimizer calls: a meta-prompt of 700 + 43 (task) + 10 x 170
    # (history) + 2 x 70.25 (exemplars) chars / 4 + 8 tokens, answers of max_tokens 256
    scorer = gpt_4o_mini_price(260 * 48, 260 * 4)
    optimizer = gpt_4o_mini_price(9 * 654, 9 * 256)
    assert result.output.splitlines()[2] == (
        f"planned cost: about {format_usd(scorer + optimizer)} (estimate for 21,710 tokens: "
        f"scorer {format_usd(scorer)}, optimizer {format_usd(optimizer)})"
    )
    assert format_usd(scorer + optimizer).startswith("$0.00")

    result = CliRunner().invoke(app, ["run", str(spec), "--dry-run", "--json"])
    plan = json.loads(result.stdout)
    assert plan["planned_calls"] == {"seeds": 20, "steps": 189, "validation": 40, "test": 20}
    assert plan["planned_cost_usd"] == pytest.approx(scorer + optimizer)
    assert plan["unpriced_models"] == []


def test_dry_run_says_unknown_for_a_model_without_a_price(parity_project) -> None:
    spec = parity_project(
        scorer={"model": "openai/gpt-4o-mini"}, optimizer={"model": "openai/my-finetune"}
    )
    result = invoke("run", str(spec), "--dry-run", "--quiet")
    assert result.exit_code == 0, result.output
    assert (
        "planned cost: unknown (litellm has no price for openai/my-finetune); the rest about $0.0"
        in (result.output)
    )


@pytest.mark.parametrize(
    ("models", "said"),
    [
        ({"scorer": {"model": LOCAL}}, "planned cost: $0 (in-process models)"),
        ({"scorer": {"model": "ollama/llama3.1"}}, "planned cost: $0\n"),
    ],
)
def test_local_models_cost_nothing(parity_project, models, said: str) -> None:
    spec = parity_project(**models, optimizer={"model": LOCAL})
    result = invoke("run", str(spec), "--dry-run")
    assert result.exit_code == 0, result.output
    assert said in result.output
    assert "planned model calls (at most): 269" in result.output


def test_ctrl_c_before_the_run_starts_exits_130(parity_project, monkeypatch, tmp_path) -> None:
    import opro_cli.app

    def pressed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(opro_cli.app, "load_splits", pressed)
    result = invoke("run", str(parity_project()))
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output
    assert not (tmp_path / "runs").exists()
