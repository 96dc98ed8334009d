"""The run directory's format: records round-trip, and a damaged file gets the same clear
message from every command (report, export, resume), never a crash (exit 70)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opro_cli import rundir
from opro_cli.cli import app
from opro_cli.rundir import (
    CandidateRecord,
    Evaluation,
    Manifest,
    MetaPromptRecord,
    Sample,
    StepRecord,
    Summary,
)

runner = CliRunner()
GARBAGE = b"\xff\xfe{not json at all\n"
DAMAGED = "the run directory was edited or damaged; start a new run, or restore the file"


def invoke(*args: str):
    return runner.invoke(app, list(args))


def unfinished(run: Path) -> Path:
    """A copy of a finished run as an interrupted run looks: no summary, status interrupted."""
    copy = run.with_name(run.name + "-cut")
    shutil.copytree(run, copy)
    (copy / rundir.SUMMARY).unlink()
    (copy / rundir.BEST_PROMPT).unlink()
    manifest = json.loads((copy / rundir.MANIFEST).read_text())
    manifest.update(status="interrupted", reason="stopped by Ctrl-C", ended_at=None)
    (copy / rundir.MANIFEST).write_text(json.dumps(manifest))
    return copy


def damage(path: Path) -> None:
    """Garbage instead of a JSON file; a garbage line in the middle of a JSONL file."""
    if path.suffix == ".jsonl":
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join([*lines[:1], GARBAGE, *lines[1:]]))
    else:
        path.write_bytes(GARBAGE)


def test_every_record_reads_back_what_was_written(finished: Path) -> None:
    for name, parse in (
        (rundir.CANDIDATES, CandidateRecord.from_json),
        (rundir.EVALUATIONS, Evaluation.from_json),
        (rundir.STEPS, StepRecord.from_json),
        (rundir.META_PROMPTS, MetaPromptRecord.from_json),
    ):
        lines = (finished / name).read_text().splitlines()
        records, warnings = rundir.read_jsonl(finished / name, parse)
        assert warnings == []
        assert [rundir.to_line(r) for r in records] == [line + "\n" for line in lines], name
    summary = json.loads((finished / rundir.SUMMARY).read_text())
    typed = rundir.read_summary(finished)
    assert isinstance(typed, Summary)
    assert typed.to_json() == summary
    manifest = json.loads((finished / rundir.MANIFEST).read_text())
    assert rundir.read_manifest(finished).to_json() == manifest
    metas, _ = rundir.read_meta_prompts(finished)
    assert all(isinstance(s, Sample) for m in metas for s in m.samples)


def test_a_run_from_a_newer_opro_is_refused_with_the_fix(finished: Path) -> None:
    manifest = json.loads((finished / rundir.MANIFEST).read_text())
    manifest["schema_version"] = rundir.SCHEMA_VERSION + 1
    (finished / rundir.MANIFEST).write_text(json.dumps(manifest))
    result = invoke("export", str(finished))
    assert result.exit_code == 2
    assert "written by a newer opro" in result.output
    assert "pip install -U opro-cli" in result.output


def test_manifest_round_trips_without_optional_parts() -> None:
    data = {"name": "x", "status": "running"}
    manifest = Manifest.from_json(data)
    assert manifest.name == "x" and manifest.status == "running"
    assert manifest.resumed_at == () and manifest.started is None


# For each file of a finished run: what report, export and resume do when it is damaged.
# (exit code, text the output must hold); resume runs on an unfinished copy of the run.
EXPECTED = {
    rundir.MANIFEST: {
        "report": (2, "manifest.json: damaged, not valid JSON"),
        "export": (2, "manifest.json: damaged, not valid JSON"),
        "resume": (2, "manifest.json: damaged, not valid JSON"),
    },
    rundir.SUMMARY: {
        "report": (0, "summary.json: damaged, not valid JSON"),  # a warning; shown without it
        "export": (2, "summary.json: damaged, not valid JSON"),
        "resume": None,  # an unfinished run has no summary
    },
    rundir.CONFIG: {
        "report": (0, ""),  # not read
        "export": (2, "config.yaml: damaged (not UTF-8 text)"),
        "resume": (2, "config.yaml: damaged (not UTF-8 text)"),
    },
    rundir.BEST_PROMPT: {"report": (0, ""), "export": (0, ""), "resume": None},
    rundir.EVALUATIONS: {
        "report": (0, "evaluations.jsonl:2: corrupt line skipped"),
        "export": (0, ""),
        "resume": (0, ""),  # the skipped call is made again
    },
    rundir.CANDIDATES: {
        "report": (0, "candidates.jsonl:2: corrupt line skipped"),
        "export": (0, ""),
        "resume": (0, ""),  # written again as the run replays
    },
    rundir.STEPS: {
        "report": (0, "steps.jsonl:2: corrupt line skipped"),
        "export": (0, ""),
        "resume": (0, ""),
    },
    rundir.META_PROMPTS: {"report": (0, ""), "export": (0, ""), "resume": (0, "")},
}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_a_damaged_file_gets_the_same_clear_message_everywhere(
    finished: Path, tmp_path: Path, name: str
) -> None:
    cut = unfinished(finished)
    damage(finished / name)
    if (cut / name).exists():
        damage(cut / name)
    for command, expected in EXPECTED[name].items():
        if expected is None:
            continue
        code, text = expected
        if command == "report":
            result = invoke("report", str(finished), "--runs-dir", str(tmp_path / "runs"))
        elif command == "export":
            result = invoke("export", str(finished))
        else:
            result = invoke("resume", str(cut), "--quiet", "--no-cache")
        assert result.exit_code == code, f"{command} {name}: {result.output}"
        assert "Traceback" not in result.output and "internal error" not in result.output
        assert text in result.output, f"{command} {name}: {result.output}"
        if code == 2:
            assert DAMAGED in result.output, f"{command} {name}: {result.output}"
