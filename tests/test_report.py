"""opro report: reading run directories (tolerant, read-only), comparisons and the command."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import fakes
import pytest
from scripted_client import Script, ScriptedClient
from typer.testing import CliRunner

from opro_cli.app import execute, prepare
from opro_cli.cli import app
from opro_cli.cli.arguments import parse_since, parse_statuses, resolve_run
from opro_cli.errors import AuthenticationError, RunDirError, UsageError
from opro_cli.report.collect import collect_report
from opro_cli.report.compare import changes_on_test, step_curve, word_diff
from opro_cli.report.reader import (
    Diagnostics,
    RunFilter,
    list_runs,
    load_detail,
    read_row,
)

runner = CliRunner()


def make_run(
    parity_project, tmp_path: Path, *, scripts: Mapping[str, Script] | None = None, **overrides: Any
) -> Path:
    """A real run directory written by the optimizer with the scripted test models."""
    spec = parity_project(**overrides)
    client = ScriptedClient({**fakes.SCRIPTS, **(scripts or {})})
    return execute(prepare(spec), runs_dir=tmp_path / "runs", client=client).run_dir


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def interrupt(run: Path, keep_steps: int) -> None:
    """Make a finished run look as if Ctrl-C stopped it after ``keep_steps`` steps."""
    steps = (run / "steps.jsonl").read_text().splitlines(keepends=True)[:keep_steps]
    (run / "steps.jsonl").write_text("".join(steps))
    kept = [c for c in lines(run / "candidates.jsonl") if c["step"] < keep_steps]
    (run / "candidates.jsonl").write_text("".join(json.dumps(c) + "\n" for c in kept))
    (run / "evaluations.jsonl").write_text("")
    for name in ("summary.json", "best_prompt.txt"):
        (run / name).unlink()
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.update(status="interrupted", reason="stopped by Ctrl-C")
    (run / "manifest.json").write_text(json.dumps(manifest))


def report(*args: str):
    return runner.invoke(app, ["report", *args], catch_exceptions=False)


# --- reading --------------------------------------------------------------------------------


def test_a_finished_run_reads_exactly_as_its_files_say(parity_project, tmp_path: Path) -> None:
    run = make_run(parity_project, tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    manifest = json.loads((run / "manifest.json").read_text())
    diag = Diagnostics()
    (row,) = list_runs(tmp_path / "runs", diag)
    assert diag.warnings == [] and diag.notes == []
    assert (row.folder, row.name, row.status) == (run.name, "parity", "completed")
    assert (row.scorer, row.optimizer) == ("openai/parity", "openai/proposer")
    assert row.started_at == datetime.fromisoformat(manifest["started_at"])
    assert (row.best.train, row.best.val, row.best.test) == (1.0, 1.0, 1.0)
    assert (row.seed.train, row.seed.val, row.seed.test) == (0.0, 0.0, 0.0)
    assert row.improvement is not None and row.improvement.test_delta == 1.0
    assert row.improvement.n == summary["improvement"]["n"] == 10
    assert row.steps == 3
    assert (row.calls, row.tokens) == (169, summary["usage"]["tokens"])
    assert row.cost_usd == 0.0
    assert row.duration_s == summary["duration_s"]
    assert row.has_summary

    detail = load_detail(row, diag)
    assert [(c.step, c.text, c.scores.train) for c in detail.candidates] == [
        (c["step"], c["text"], c["train_score"]) for c in lines(run / "candidates.jsonl")
    ]
    winner = next(c for c in detail.candidates if c.id == summary["best"]["id"])
    assert (winner.scores.val, winner.scores.test) == (1.0, 1.0)
    steps = lines(run / "steps.jsonl")
    curve = step_curve(detail)
    assert [(p.step, p.best) for p in curve] == [(s["step"], s["best_score"]) for s in steps]
    # a step that brought no new candidate has no mean (the file says 0.0)
    assert [p.mean for p in curve] == [
        None if s["new_candidates"] == 0 else s["mean_score"] for s in steps
    ]


def test_the_test_comparison_counts_fixed_and_broken_examples_from_the_evaluations(
    parity_project, tmp_path: Path
) -> None:
    run = make_run(parity_project, tmp_path, seed_prompts=["Label it."])
    summary = json.loads((run / "summary.json").read_text())
    tests = [e for e in lines(run / "evaluations.jsonl") if e["split"] == "test"]
    best = {e["example_id"]: e for e in tests if e["candidate_id"] == summary["best"]["id"]}
    seed = {e["example_id"]: e for e in tests if e["candidate_id"] == summary["best_seed"]["id"]}
    fixed = sorted(k for k in best if best[k]["score"] > seed[k]["score"])
    broken = sorted(k for k in best if best[k]["score"] < seed[k]["score"])
    assert fixed  # "Label it." scores 25 % on test, the winner 100 %

    diag = Diagnostics()
    (row,) = list_runs(tmp_path / "runs", diag)
    changes = changes_on_test(load_detail(row, diag))
    assert changes is not None
    assert changes.n == len(best) == 10
    assert sorted(c.example_id for c in changes.fixed) == fixed
    assert sorted(c.example_id for c in changes.broken) == broken
    assert changes.unchanged == 10 - len(fixed) - len(broken)
    first = changes.fixed[0]
    assert first.best_output == best[first.example_id]["output"]
    assert first.seed_output == seed[first.example_id]["output"]


def test_an_interrupted_run_shows_its_status_and_what_it_has(
    parity_project, tmp_path: Path
) -> None:
    run = make_run(parity_project, tmp_path)
    steps = lines(run / "steps.jsonl")
    interrupt(run, keep_steps=2)
    diag = Diagnostics()
    (row,) = list_runs(tmp_path / "runs", diag)
    assert (row.status, row.reason, row.has_summary) == (
        "interrupted",
        "stopped by Ctrl-C",
        False,
    )
    assert row.steps == 1
    assert row.best.train == steps[1]["best_score"] == 1.0
    assert (row.best.val, row.best.test, row.seed.test, row.improvement) == (None,) * 4
    assert (row.calls, row.tokens, row.cost_usd) == (
        steps[1]["calls"],
        steps[1]["tokens"],
        steps[1]["cost_usd"],
    )
    detail = load_detail(row, diag)
    assert detail.best is not None and detail.best.text == "Label the parity carefully in one word."
    assert detail.seed is not None and detail.seed.text == "Answer."
    assert changes_on_test(detail) is None
    assert diag.warnings == []


def test_a_failed_run_without_steps_is_listed_with_its_reason(
    parity_project, tmp_path: Path
) -> None:
    def denied(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
        raise AuthenticationError("invalid api key")

    with pytest.raises(AuthenticationError):
        make_run(
            parity_project, tmp_path, scripts={"denied": denied}, scorer={"model": "openai/denied"}
        )
    (row,) = list_runs(tmp_path / "runs", Diagnostics())
    assert row.status == "failed"
    assert row.reason is not None and "invalid api key" in row.reason
    assert (row.steps, row.best.train, row.calls, row.cost_usd) == (None, None, None, None)
    assert row.duration_s is not None  # from the manifest's start and end


def test_corrupt_lines_are_skipped_with_file_and_line(parity_project, tmp_path: Path) -> None:
    run = make_run(parity_project, tmp_path)
    interrupt(run, keep_steps=4)
    steps = (run / "steps.jsonl").read_text().splitlines(keepends=True)
    steps[2] = steps[2][:20] + "\n"
    (run / "steps.jsonl").write_text("".join(steps))
    candidates = (run / "candidates.jsonl").read_text()
    (run / "candidates.jsonl").write_text(candidates + '["not an object"]\n{"half": ')

    diag = Diagnostics()
    (row,) = list_runs(tmp_path / "runs", diag)
    assert diag.warnings == [f"{run / 'steps.jsonl'}:3: corrupt line skipped"]
    assert row.steps == 3
    detail = load_detail(row, diag)
    assert [p.step for p in step_curve(detail)] == [0, 1, 3]
    assert len(detail.candidates) == 5
    assert list(dict.fromkeys(diag.warnings))[1:] == [  # steps.jsonl is read twice
        f"{run / 'candidates.jsonl'}:6: not a valid record, skipped",
        f"{run / 'candidates.jsonl'}:7: corrupt line skipped",
    ]


def test_the_curve_is_rebuilt_from_candidates_when_steps_are_missing(
    parity_project, tmp_path: Path
) -> None:
    run = make_run(parity_project, tmp_path)
    (run / "steps.jsonl").unlink()
    diag = Diagnostics()
    row = read_row(run, diag)
    assert row is not None
    curve = step_curve(load_detail(row, diag))
    assert [(p.step, p.best) for p in curve] == [(0, 0.0), (1, 1.0), (2, 1.0), (3, 1.0)]
    assert curve[1].mean == pytest.approx((0.5 + 1.0) / 2)


def test_folders_that_are_not_runs_are_ignored_with_a_note(parity_project, tmp_path: Path) -> None:
    make_run(parity_project, tmp_path)
    runs = tmp_path / "runs"
    (runs / "scratch").mkdir()
    (runs / ".hidden").mkdir()
    (runs / "notes.txt").write_text("hello")
    broken = runs / "20200101T000000Z-broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{not json")
    diag = Diagnostics()
    rows = list_runs(runs, diag)
    assert [r.name for r in rows] == ["parity"]
    assert diag.notes == [f"{runs / 'scratch'}: not a run directory (no manifest.json), ignored"]
    (warning,) = diag.warnings
    assert warning.startswith(f"{broken / 'manifest.json'}: damaged, not valid JSON (")
    assert warning.endswith(
        "-> the run directory was edited or damaged; start a new run, or restore the file; "
        "run skipped"
    )


def test_the_listing_reads_only_manifest_and_summary_of_a_finished_run(
    parity_project, tmp_path: Path
) -> None:
    """What keeps `opro report` over 100 runs fast: for a finished run the listing never opens
    the JSONL files (corrupt ones here would each give a warning)."""
    run = make_run(parity_project, tmp_path)
    for name in ("steps.jsonl", "candidates.jsonl", "evaluations.jsonl", "meta_prompts.jsonl"):
        (run / name).write_text("{corrupt\n")
    diag = Diagnostics()
    (row,) = list_runs(tmp_path / "runs", diag)
    assert (row.steps, row.best.test, row.calls) == (3, 1.0, 169)
    assert diag.warnings == [] and diag.notes == []
    for fmt in ("table", "md", "json"):
        result = report("--runs-dir", str(tmp_path / "runs"), "--format", fmt)
        assert result.exit_code == 0
        assert "warning" not in result.stderr


def test_reading_changes_nothing_in_the_run_directory(parity_project, tmp_path: Path) -> None:
    run = make_run(parity_project, tmp_path)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.iterdir()}
    for fmt in ("table", "md", "json", "html"):
        assert report("--runs-dir", str(tmp_path / "runs"), "--format", fmt).exit_code == 0
        assert report(run.name, "--runs-dir", str(tmp_path / "runs"), "-f", fmt).exit_code == 0
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.iterdir()}
    assert after == before


# --- choosing runs --------------------------------------------------------------------------


def three_runs(parity_project, tmp_path: Path) -> list[Path]:
    first = make_run(parity_project, tmp_path, budget={"steps": 1})
    second = make_run(parity_project, tmp_path, name="tickets", budget={"steps": 1})
    third = make_run(parity_project, tmp_path, name="tickets-v2", budget={"steps": 1})
    interrupt(third, keep_steps=1)
    return [first, second, third]


def test_filters_and_newest_first(parity_project, tmp_path: Path) -> None:
    first, second, third = three_runs(parity_project, tmp_path)
    runs = tmp_path / "runs"

    def names(**kwargs: Any) -> list[str]:
        return [r.folder for r in list_runs(runs, Diagnostics(), RunFilter(**kwargs))]

    assert names() == [third.name, second.name, first.name]
    assert names(name="tickets*") == [third.name, second.name]
    assert names(name="tickets") == [second.name]
    assert names(statuses=("interrupted",)) == [third.name]
    assert names(statuses=("completed", "failed")) == [second.name, first.name]
    assert names(last=2) == [third.name, second.name]
    assert names(name="tickets*", last=1) == [third.name]
    started = json.loads((second / "manifest.json").read_text())["started_at"]
    assert names(since=datetime.fromisoformat(started)) == [third.name, second.name]
    assert names(since=datetime.now(timezone.utc) + timedelta(minutes=1)) == []


def test_since_and_status_parsing() -> None:
    now = datetime(2025, 3, 10, 12, 0, tzinfo=timezone.utc)
    assert parse_since("7d", now) == datetime(2025, 3, 3, 12, 0, tzinfo=timezone.utc)
    assert parse_since("30m", now) == datetime(2025, 3, 10, 11, 30, tzinfo=timezone.utc)
    assert parse_since("2025-03-01", now) == datetime(2025, 3, 1, tzinfo=timezone.utc)
    assert parse_since("2025-03-01T08:30", now) == datetime(2025, 3, 1, 8, 30, tzinfo=timezone.utc)
    with pytest.raises(UsageError, match="--since: cannot read 'yesterday'"):
        parse_since("yesterday", now)
    assert parse_statuses(["completed,failed", "failed"]) == ("completed", "failed")
    with pytest.raises(UsageError, match="--status: unknown status 'done'"):
        parse_statuses(["done"])


def test_runs_are_named_by_path_folder_or_unique_part(parity_project, tmp_path: Path) -> None:
    first, second, third = three_runs(parity_project, tmp_path)
    runs = tmp_path / "runs"
    assert resolve_run(str(second), runs) == second
    assert resolve_run(second.name, runs) == second
    assert resolve_run("-tickets-v2", runs) == third
    assert resolve_run("-parity", runs) == first
    assert resolve_run(first.name[:-1], runs) == first
    with pytest.raises(RunDirError, match="2: matches 3 runs under") as info:
        resolve_run("2", runs)
    assert info.value.hint == "give more of the folder name"
    with pytest.raises(RunDirError, match="nope: no run of that name under") as info:
        resolve_run("nope", runs)
    assert f"opro report --runs-dir {runs}" in str(info.value)
    with pytest.raises(RunDirError, match="not a run directory"):
        resolve_run(str(tmp_path), runs)


# --- the command ----------------------------------------------------------------------------


def test_missing_runs_dir_is_a_clear_error_exit_2(tmp_path: Path) -> None:
    result = report("--runs-dir", str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nowhere'}: no such folder of runs" in result.stderr
    assert "opro run SPEC" in result.stderr
    assert "Traceback" not in result.output


def test_unknown_run_exits_2_and_says_how_to_list_runs(parity_project, tmp_path: Path) -> None:
    make_run(parity_project, tmp_path)
    result = report("nope", "--runs-dir", str(tmp_path / "runs"))
    assert result.exit_code == 2
    assert "nope: no run of that name under" in result.stderr
    assert "opro report --runs-dir" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "pdf"], "'pdf' is not one of"),  # the choices, checked by Typer
        (["--status", "done"], "--status: unknown status 'done'"),
        (["--since", "soon"], "--since: cannot read 'soon'"),
        (["--last", "0"], "--last: must be 1 or more"),
        (["x", "--last", "2"], "filter the listing, not the RUNs given"),
    ],
)
def test_bad_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "runs").mkdir()
    result = report(*args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_warnings_and_notes_go_to_stderr_not_into_the_output(
    parity_project, tmp_path: Path
) -> None:
    run = make_run(parity_project, tmp_path)
    with (run / "candidates.jsonl").open("a") as handle:
        handle.write("{oops\n")
    (tmp_path / "runs" / "scratch").mkdir()
    result = report(run.name, "--format", "json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert document["warnings"] == [
        f"{Path('runs') / run.name / 'candidates.jsonl'}:6: corrupt line skipped"
    ]
    assert f"warning: {document['warnings'][0]}" in result.stderr
    listing = report("--format", "json")
    assert json.loads(listing.stdout)["notes"] == [
        "runs/scratch: not a run directory (no manifest.json), ignored"
    ]
    assert "note: runs/scratch: not a run directory" in listing.stderr


def test_output_writes_the_file(parity_project, tmp_path: Path) -> None:
    make_run(parity_project, tmp_path)
    for fmt, name in (("md", "r.md"), ("html", "r.html"), ("json", "r.json"), ("table", "r.txt")):
        result = report("--format", fmt, "--output", name)
        assert result.exit_code == 0, result.output
        assert result.stdout == ""
        assert f"wrote {name}" in result.stderr
        assert "parity" in (tmp_path / name).read_text()


def test_empty_runs_dir(tmp_path: Path) -> None:
    (tmp_path / "runs").mkdir()
    assert "no runs in runs" in report().stdout
    assert json.loads(report("-f", "json").stdout)["runs"] == []
    assert "_No runs._" in report("-f", "md").stdout


def test_a_listing_that_filters_out_every_run_says_so(parity_project, tmp_path: Path) -> None:
    make_run(parity_project, tmp_path, budget={"steps": 1})
    assert report("--status", "failed").stdout.strip() == "no runs in runs match the filters"
    assert "_No runs match the filters._" in report("--name", "x*", "-f", "md").stdout
    assert (
        "<p>No runs match the filters.</p>" in report("--since", "2999-01-01", "-f", "html").stdout
    )
    assert (
        json.loads(report("--last", "1", "--status", "failed", "-f", "json").stdout)["runs"] == []
    )


def test_the_same_run_named_twice_is_shown_once(parity_project, tmp_path: Path) -> None:
    run = make_run(parity_project, tmp_path)
    runs = tmp_path / "runs"
    named = [resolve_run(arg, runs) for arg in (run.name, str(run), "-parity")]
    rep = collect_report(runs, named)
    assert [r.folder for r in rep.rows] == [run.name]


# --- the word diff --------------------------------------------------------------------------


def test_word_diff_marks_removed_and_added_words_and_keeps_both_texts() -> None:
    seed = "Classify the  ticket.\nBe brief."
    best = "Classify the support ticket.\nBe brief & exact."
    ops = word_diff(seed, best)
    assert [(d.op, d.text) for d in ops] == [
        ("equal", "Classify the "),
        ("insert", "support "),
        ("equal", "ticket.\nBe "),
        ("delete", "brief."),
        ("insert", "brief & exact."),
    ]
    assert "".join(d.text for d in ops if d.op != "delete") == best
    assert word_diff("", "") == ()
    assert [d.op for d in word_diff("Answer.", "Answer.")] == ["equal"]


def test_word_diff_of_a_long_prompt_shows_only_the_changed_word() -> None:
    """From 200 words on, difflib's autojunk heuristic would skip the frequent words and show
    half the prompt as removed and added again."""
    sentence = "Read the ticket and pick the label."
    seed = " ".join([sentence] * 40)
    best = " ".join([sentence] * 20 + [sentence.replace("ticket", "mail")] + [sentence] * 19)
    ops = word_diff(seed, best)
    assert [(d.op, d.text) for d in ops if d.op != "equal"] == [
        ("delete", "ticket "),
        ("insert", "mail "),
    ]
    assert "".join(d.text for d in ops if d.op != "delete") == best


def test_comparing_runs_tested_on_different_examples_warns(parity_project, tmp_path: Path) -> None:
    first = make_run(parity_project, tmp_path)
    second = make_run(parity_project, tmp_path, dataset={"seed": 4})
    result = runner.invoke(app, ["report", str(first), str(second)])
    assert result.exit_code == 0, result.output
    assert "the runs were tested on 2 different sets of examples" in result.stderr
    same = runner.invoke(app, ["report", str(first), str(first)])
    assert "different sets of examples" not in same.stderr
