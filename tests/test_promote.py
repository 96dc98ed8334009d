"""opro promote: the winner goes into the prompt file only when it significantly beats the
prompt read from that file; otherwise exit 1, one line why, and the file untouched."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import fakes
import pytest
from scripted_client import ScriptedClient
from typer.testing import CliRunner

from opro_cli import formatting, rundir
from opro_cli.app import execute, prepare
from opro_cli.cli import app
from opro_cli.core.outcome import improvement as to_improvement
from opro_cli.core.significance import compare_paired

WINNER = "Label the parity carefully in one word."


def make_run(parity_project, tmp_path: Path, seeds: list[Any] | None = None, **spec: Any) -> Path:
    prompts = tmp_path / "prompts"
    prompts.mkdir(exist_ok=True)
    (prompts / "parity.txt").write_text("Answer.\n", encoding="utf-8")
    path = parity_project(seed_prompts=seeds or [{"file": "prompts/parity.txt"}], **spec)
    client = ScriptedClient(fakes.SCRIPTS)
    return execute(prepare(path), runs_dir=tmp_path / "runs", client=client).run_dir


def answers(run_dir: Path) -> dict[str, dict[str, float | None]]:
    evaluations, _ = rundir.read_evaluations(run_dir)
    scores: dict[str, dict[str, float | None]] = {}
    for e in evaluations:
        if e.split == "test":
            scores.setdefault(e.candidate_id, {})[e.example_id] = None if e.error else e.score
    return scores


def edit_summary(run_dir: Path, **improvement: Any) -> dict[str, Any]:
    """Give summary.json the verdict the run would write (winner against the best seed, from
    its test answers), with ``improvement`` overriding parts of it."""
    path = run_dir / rundir.SUMMARY
    data = json.loads(path.read_text())
    scores = answers(run_dir)
    best, seed = scores[data["best"]["id"]], scores[data["best_seed"]["id"]]
    ids = sorted(best)
    c = compare_paired([best[i] for i in ids], [seed[i] for i in ids], rng=random.Random(0))
    data["improvement"] = {**to_improvement(c).to_json(), **improvement}
    path.write_text(json.dumps(data))
    return data


def promote(run_dir: Path, *args: str):
    return CliRunner().invoke(app, ["promote", str(run_dir), "--to", "prompts/parity.txt", *args])


def untouched(tmp_path: Path) -> tuple[bytes, int]:
    path = tmp_path / "prompts" / "parity.txt"
    return path.read_bytes(), os.stat(path).st_mtime_ns


def test_the_winner_is_written_when_it_significantly_beats_the_production_prompt(
    parity_project, tmp_path: Path
) -> None:
    run_dir = make_run(parity_project, tmp_path)
    data = edit_summary(run_dir)
    (tmp_path / "prompts" / "parity.txt").chmod(0o640)
    result = promote(run_dir)
    assert result.exit_code == 0, result.output
    target = tmp_path / "prompts" / "parity.txt"
    assert target.read_text() == WINNER + "\n"
    assert target.stat().st_mode & 0o777 == 0o640
    assert result.stderr == "wrote the winner to prompts/parity.txt\n"
    imp = rundir.Improvement.from_json(data["improvement"])
    body = result.stdout.splitlines()
    assert body[0] == "### opro: a better prompt for prompts/parity.txt"
    assert body[2] == (
        "**test: winner 100.0 vs production 0.0, +100.0 points (95% CI \\[+44.5, +100.0\\], "
        "n=10), significant at 95% (p \\< 0.001)**"
    )
    assert formatting.result_line(1.0, 0.0, imp, seed="production").startswith("test: winner 100.0")
    assert "| in production (prompts/parity.txt) | 0.0 | 0.0 | 0.0 |" in body
    assert "> ~~Answer.~~ **Label the parity carefully in one word.**" in body
    u = data["usage"]
    assert body[-1].startswith(f"{u['calls']:,} model calls (0 answered from the cache, 0 failed)")
    assert "cost $0, " in body[-1]


def test_a_winner_that_is_not_significant_is_not_written(parity_project, tmp_path: Path) -> None:
    run_dir = make_run(parity_project, tmp_path)
    edit_summary(
        run_dir,
        test_delta=0.1,
        ci_low=-0.05,
        ci_high=0.25,
        p_value=0.21,
        significant=False,
        detectable_gain=0.4,
    )
    before = untouched(tmp_path)
    result = promote(run_dir)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: not promoted: the winner beats the prompt in prompts/parity.txt on test by "
        "+10.0 points (95% CI [-5.0, +25.0]), n=10: not significant at 95% (p = 0.210): this "
        "test split detects gains of about 40 points\n"
    )
    assert untouched(tmp_path) == before


@pytest.mark.parametrize(
    ("improvement", "why"),
    [
        (
            {"significant": None, "p_value": None, "method": None},  # what runs wrote so far
            "the run has no significance verdict (written by an older opro) -> run it again "
            "with this opro (the response cache reuses its answers)",
        ),
        (
            {"missing": 2, "n": 8},
            "2 test example(s) have no answer from the winner or the prompt in "
            "prompts/parity.txt (failed calls) -> run it again when the provider answers",
        ),
    ],
)
def test_no_verdict_or_unanswered_test_examples_fail_the_gate(
    parity_project, tmp_path: Path, improvement: dict[str, Any], why: str
) -> None:
    run_dir = make_run(parity_project, tmp_path)
    edit_summary(run_dir, **improvement)
    before = untouched(tmp_path)
    result = promote(run_dir)
    assert (result.exit_code, result.stderr) == (1, f"error: not promoted: {why}\n")
    assert untouched(tmp_path) == before


def test_a_file_changed_since_the_run_is_not_replaced(parity_project, tmp_path: Path) -> None:
    run_dir = make_run(parity_project, tmp_path)
    edit_summary(run_dir)
    (tmp_path / "prompts" / "parity.txt").write_text("Someone edited it.\n")
    before = untouched(tmp_path)
    result = promote(run_dir)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: prompts/parity.txt: its prompt is not a seed of this run (was the file changed "
        "after the run?) -> run again with seed_prompts: [{file: prompts/parity.txt}]\n"
    )
    assert untouched(tmp_path) == before


def test_nothing_to_promote_when_the_production_prompt_won(parity_project, tmp_path: Path) -> None:
    run_dir = make_run(parity_project, tmp_path, budget={"steps": 0})
    result = promote(run_dir)
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the winner is the prompt already in prompts/parity.txt: nothing to promote\n"
    )


def test_against_a_production_seed_that_is_not_the_best_seed_the_test_answers_decide(
    parity_project, tmp_path: Path
) -> None:
    """A plain seed beat the file's prompt on validation; the summary's verdict is against that
    seed, so promote compares the winner with the file's prompt itself."""
    run_dir = make_run(
        parity_project, tmp_path, seeds=["Label the item.", {"file": "prompts/parity.txt"}]
    )
    data = edit_summary(run_dir)
    production = next(s for s in data["seeds"] if s["production"])
    assert data["best_seed"]["id"] != production["id"]
    scores = answers(run_dir)
    best, seed = scores[data["best"]["id"]], scores[production["id"]]
    ids = sorted(best)
    expected = compare_paired([best[i] for i in ids], [seed[i] for i in ids], rng=random.Random(0))
    result = promote(run_dir, "--check")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[2] == (
        f"**test: winner 100.0 vs production 0.0, +100.0 points (95% CI "
        f"\\[+{expected.low * 100:.1f}, +100.0\\], n={expected.n}), significant at 95% "
        "(p \\< 0.001)**"
    )
    assert expected.n == 10 and expected.significant
    # --check writes nothing
    assert (tmp_path / "prompts" / "parity.txt").read_text() == "Answer.\n"
    assert result.stderr == "would write the winner to prompts/parity.txt\n"


def test_the_run_gates_apply_too(parity_project, tmp_path: Path) -> None:
    run_dir = make_run(parity_project, tmp_path)
    edit_summary(run_dir)
    before = untouched(tmp_path)
    result = promote(run_dir, "--min-improvement", "1.5")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: not promoted: --min-improvement: winner beats the prompt in prompts/parity.txt "
        "on test by +1.000 "
        "< 1.500\n"
    )
    assert untouched(tmp_path) == before


def test_an_unfinished_run_is_not_promoted(parity_project, tmp_path: Path) -> None:
    run_dir = make_run(parity_project, tmp_path)
    (run_dir / rundir.SUMMARY).unlink()
    manifest = json.loads((run_dir / rundir.MANIFEST).read_text())
    manifest["status"] = "interrupted"
    (run_dir / rundir.MANIFEST).write_text(json.dumps(manifest))
    result = promote(run_dir)
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {run_dir}: the run has no result (status interrupted) -> finish it with "
        f"opro resume {run_dir}, then promote\n"
    )
