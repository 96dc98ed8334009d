"""Seed prompts read from files: relative to the spec, mixed with texts, kept in the run's
config.yaml, and named in summary.json (which one is in production)."""

from __future__ import annotations

import json
from pathlib import Path

import fakes
import pytest
from scripted_client import ScriptedClient

from opro_cli import rundir
from opro_cli.app import execute, prepare, prepare_resume
from opro_cli.errors import SpecError
from opro_cli.rundir import PromptScores, Summary
from opro_cli.spec import SeedFile, load_spec


def write_prompt(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "prompts" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run(spec: Path, tmp_path: Path) -> Path:
    client = ScriptedClient(fakes.SCRIPTS)
    return execute(prepare(spec), runs_dir=tmp_path / "runs", client=client).run_dir


def test_a_file_seed_is_read_relative_to_the_spec_and_mixed_with_texts(
    parity_project, tmp_path: Path
) -> None:
    prompt = write_prompt(tmp_path, "parity.txt", "  Label it.\n\n")
    spec = load_spec(parity_project(seed_prompts=["Answer.", {"file": "prompts/parity.txt"}]))
    assert spec.seed_texts == ("Answer.", "Label it.")
    assert spec.seed_prompts[1] == SeedFile(file=str(prompt), text="Label it.")
    assert spec.production_seed == spec.seed_prompts[1]


def test_the_run_keeps_the_seed_text_so_resume_scores_the_same_seed(
    parity_project, tmp_path: Path
) -> None:
    write_prompt(tmp_path, "parity.txt", "Label it.\n")
    run_dir = run(parity_project(seed_prompts=[{"file": "prompts/parity.txt"}]), tmp_path)
    # the file changes after the run (a promotion): the run's own spec still has the old seed
    write_prompt(tmp_path, "parity.txt", "Something else.\n")
    manifest = json.loads((run_dir / rundir.MANIFEST).read_text())
    manifest["status"] = "interrupted"
    (run_dir / rundir.MANIFEST).write_text(json.dumps(manifest))
    prepared, _ = prepare_resume(run_dir)
    assert prepared.spec.seed_texts == ("Label it.",)


def test_summary_names_the_seed_files_and_the_production_seed(
    parity_project, tmp_path: Path
) -> None:
    write_prompt(tmp_path, "a.txt", "Answer.")
    b = write_prompt(tmp_path, "b.txt", "Label it.")
    spec = parity_project(
        seed_prompts=[
            "Reply.",
            {"file": "prompts/a.txt"},
            {"file": "prompts/b.txt", "production": True},
        ],
        budget={"steps": 1},
    )
    run_dir = run(spec, tmp_path)
    data = json.loads((run_dir / rundir.SUMMARY).read_text())
    assert [(s["text"], s["file"], s["production"]) for s in data["seeds"]] == [
        ("Reply.", None, False),
        ("Answer.", str(tmp_path / "prompts" / "a.txt"), False),
        ("Label it.", str(b), True),
    ]
    summary = rundir.read_summary(run_dir)
    assert summary is not None and summary.production is not None
    assert summary.production.text == "Label it."


def test_without_a_production_flag_the_first_file_seed_is_production(
    parity_project, tmp_path: Path
) -> None:
    write_prompt(tmp_path, "a.txt", "Answer.")
    write_prompt(tmp_path, "b.txt", "Label it.")
    spec = parity_project(
        seed_prompts=["Reply.", {"file": "prompts/a.txt"}, {"file": "prompts/b.txt"}],
        budget={"steps": 0},
    )
    summary = rundir.read_summary(run(spec, tmp_path))
    assert summary is not None
    assert [s.production for s in summary.seeds] == [False, True, False]


def test_plain_text_seeds_have_no_production_seed(parity_project, tmp_path: Path) -> None:
    summary = rundir.read_summary(run(parity_project(budget={"steps": 0}), tmp_path))
    assert summary is not None
    assert summary.production is None
    assert [(s.file, s.production) for s in summary.seeds] == [(None, False)]


def test_a_summary_written_before_seed_files_still_reads() -> None:
    old = {"id": "x", "text": "Answer.", "step": 0, "origin": "seed", "train": 0.5}
    prompt = PromptScores.from_json(old)
    assert prompt == PromptScores("x", "Answer.", 0, "seed", 0.5, None, None, None, False)
    summary = Summary.from_json(
        {"status": "completed", "best": old, "best_seed": old, "seeds": [old]}
    )
    assert summary is not None and summary.production is None


@pytest.mark.parametrize(
    ("seeds", "files", "message"),
    [
        (
            [{"file": "prompts/missing.txt"}],
            {},
            "{spec}:4: seed_prompts.0.file: {tmp}/prompts/missing.txt: file not found -> the "
            "path is relative to the spec's folder; create the file with the prompt in production",
        ),
        (
            [{"file": "prompts/empty.txt"}],
            {"empty.txt": " \n"},
            "{spec}:4: seed_prompts.0.file: {tmp}/prompts/empty.txt: the file is empty -> write "
            'the prompt in it, or use seed_prompts: [""] for no instruction',
        ),
        (
            [
                {"file": "prompts/a.txt", "production": True},
                {"file": "prompts/b.txt", "production": True},
            ],
            {"a.txt": "A", "b.txt": "B"},
            "{spec}:3: seed_prompts: 2 seeds have production: true (prompts/a.txt, "
            "prompts/b.txt) -> mark only the prompt the product runs today",
        ),
        (
            [{"path": "prompts/a.txt"}],
            {"a.txt": "A"},
            "{spec}:4: seed_prompts.0.file: required key is missing",
        ),
    ],
)
def test_bad_seed_files_name_the_line_and_the_fix(
    parity_project, tmp_path: Path, seeds: list, files: dict, message: str
) -> None:
    for name, text in files.items():
        write_prompt(tmp_path, name, text)
    spec = parity_project(seed_prompts=seeds)
    with pytest.raises(SpecError) as caught:
        load_spec(spec)
    assert str(caught.value).startswith(message.format(spec=spec, tmp=tmp_path))


def test_a_credential_in_a_seed_file_is_refused(parity_project, tmp_path: Path) -> None:
    write_prompt(tmp_path, "leak.txt", "Use sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD.")
    with pytest.raises(SpecError, match=r"seed_prompts.0.file: .*leak.txt: holds an OpenAI"):
        load_spec(parity_project(seed_prompts=[{"file": "prompts/leak.txt"}]))
