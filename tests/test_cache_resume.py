"""The response cache, resume after a crash, and interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import fakes
import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.app import execute, prepare, prepare_resume
from opro_cli.cache import ResponseCache, cache_key, is_cacheable
from opro_cli.cli import app
from opro_cli.errors import RunDirError
from opro_cli.models.base import CallParams, Completion
from opro_cli.models.cached import CachedClient
from opro_cli.rundir import Summary

VOLATILE = ("run_dir", "duration_s")


class Counter:
    """Counts the calls that reach the test models."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def wrap(self, script: Any) -> Any:
        def counted(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
            with self._lock:
                self.calls += 1
            return script(messages, params)

        return counted


@pytest.fixture
def counted(parity_project, test_models) -> tuple[Counter, Any]:
    counter = Counter()
    test_models.add("counted-parity", counter.wrap(fakes.parity_scorer))
    test_models.add("counted-proposer", counter.wrap(fakes.proposer))

    def make(**overrides: Any) -> Path:
        return parity_project(
            scorer={"model": "openai/counted-parity"},
            optimizer={"model": "openai/counted-proposer"},
            **overrides,
        )

    return counter, make


def cached_client(test_models, tmp_path: Path) -> CachedClient:
    return CachedClient(test_models.client(), ResponseCache(tmp_path / "cache"))


def stable(summary: Summary | dict[str, Any]) -> dict[str, Any]:
    data = summary.to_json() if isinstance(summary, Summary) else summary
    out = {k: v for k, v in data.items() if k not in VOLATILE}
    out["usage"] = {"calls": data["usage"]["calls"]}
    return out


def test_cache_key_depends_on_everything_that_decides_the_answer() -> None:
    params = CallParams(model="m", temperature=0.0, max_tokens=8)
    messages = [{"role": "user", "content": "hi"}]
    key = cache_key(messages, params)
    assert key == cache_key(messages, CallParams(model="m", temperature=0.0, max_tokens=8))
    assert key != cache_key(messages, CallParams(model="m2", temperature=0.0, max_tokens=8))
    assert key != cache_key(messages, CallParams(model="m", temperature=0.0, max_tokens=9))
    assert key != cache_key([{"role": "user", "content": "ho"}], params)
    assert is_cacheable(params)
    assert not is_cacheable(CallParams(model="m", temperature=1.0))
    assert is_cacheable(CallParams(model="m", temperature=1.0, seed=3))


def test_identical_rerun_makes_zero_calls_and_reproduces_the_result(
    counted, test_models, tmp_path
) -> None:
    counter, make = counted
    spec = make()
    first = execute(
        prepare(spec), runs_dir=tmp_path / "runs", client=cached_client(test_models, tmp_path)
    )
    made = counter.calls
    assert made == first.summary.usage.calls == 169
    second = execute(
        prepare(spec), runs_dir=tmp_path / "runs", client=cached_client(test_models, tmp_path)
    )
    assert counter.calls == made  # not one more call
    assert second.summary.usage.calls == 0
    assert second.summary.usage.cache_hits == 169
    assert second.summary.best == first.summary.best
    assert second.summary.best_seed == first.summary.best_seed
    assert second.summary.improvement == first.summary.improvement


def test_errors_are_never_cached(parity_project, test_models, tmp_path: Path) -> None:
    from opro_cli.errors import BadRequestError

    state = {"fail": True}

    def sometimes(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
        odd = int(messages[-1]["content"].split("item ")[1]) % 2 == 1
        if state["fail"] and odd:  # every odd item fails the first time
            raise BadRequestError("flaky")
        return "even"

    test_models.add("sometimes", sometimes)
    spec = parity_project(scorer={"model": "openai/sometimes"}, budget={"steps": 0})
    client = cached_client(test_models, tmp_path)
    first = execute(prepare(spec), runs_dir=tmp_path / "runs", client=client)
    failed = first.summary.usage.failed_calls
    assert failed == first.summary.usage.calls // 2 > 0
    state["fail"] = False
    second = execute(prepare(spec), runs_dir=tmp_path / "runs", client=client)
    assert second.summary.usage.cache_hits == first.summary.usage.calls - failed
    assert second.summary.usage.calls == failed  # only the failed calls are made again
    assert second.summary.usage.failed_calls == 0


def test_two_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    caches = [ResponseCache(tmp_path / "shared"), ResponseCache(tmp_path / "shared")]

    def write(cache: ResponseCache, offset: int) -> None:
        for i in range(200):
            cache.put(f"k{offset + i}", "m", Completion(text=str(offset + i)))

    threads = [threading.Thread(target=write, args=(c, n * 1000)) for n, c in enumerate(caches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader = ResponseCache(tmp_path / "shared")
    assert reader.stats()["entries"] == 400
    assert reader.get("k1199") == Completion(text="1199")
    mode = reader._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_cache_commands(tmp_path: Path) -> None:
    cache = ResponseCache(Path(os.environ["OPRO_CACHE_DIR"]))
    cache.put("k", "fake/x", Completion(text="a"))
    runner = CliRunner()
    result = runner.invoke(app, ["cache", "stats"])
    assert result.exit_code == 0
    assert "entries: 1" in result.output
    assert "fake/x: 1" in result.output
    result = runner.invoke(app, ["cache", "clear"])
    assert "removed 1 cached responses" in result.output
    assert cache.stats()["entries"] == 0


def crash_at(run: Path, keep_evaluations: int) -> None:
    """Make a finished run look as if it had been killed after some evaluations."""
    lines = (run / "evaluations.jsonl").read_text().splitlines(keepends=True)
    half = lines[keep_evaluations][: len(lines[keep_evaluations]) // 2]  # a half-written line
    (run / "evaluations.jsonl").write_text("".join(lines[:keep_evaluations]) + half)
    for name in ("summary.json", "best_prompt.txt"):
        (run / name).unlink()
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.update(status="running", ended_at=None)
    (run / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("keep", [0, 7, 60, 130, 159])
def test_resume_after_a_crash_ends_like_an_uninterrupted_run(
    counted, test_models, tmp_path, keep
) -> None:
    counter, make = counted
    spec = make()
    uninterrupted = execute(prepare(spec), runs_dir=tmp_path / "runs", client=test_models.client())
    run = uninterrupted.run_dir
    evaluations_before = (run / "evaluations.jsonl").read_text().splitlines()
    crash_at(run, keep)

    counter.calls = 0
    prepared, prior = prepare_resume(run)
    assert len(prior.evaluations) == keep
    resumed = execute(prepared, resume_dir=run, prior=prior, client=test_models.client())
    assert stable(resumed.summary) == stable(uninterrupted.summary)
    assert counter.calls == 169 - keep - len(prior.samples)
    evaluations_after = (run / "evaluations.jsonl").read_text().splitlines()
    keys = [
        (e["candidate_id"], e["split"], e["example_id"]) for e in map(json.loads, evaluations_after)
    ]
    assert len(keys) == len(set(keys)) == len(evaluations_before)
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "completed"
    assert len(manifest["resumed_at"]) == 1


def test_resume_refuses_a_finished_run_and_a_changed_dataset(
    counted, test_models, tmp_path: Path
) -> None:
    counter, make = counted
    spec = make(budget={"steps": 0})
    run = execute(prepare(spec), runs_dir=tmp_path / "runs", client=test_models.client()).run_dir
    with pytest.raises(RunDirError, match="already completed"):
        prepare_resume(run)
    crash_at(run, 3)
    with (tmp_path / "data.jsonl").open("a") as handle:
        handle.write(json.dumps({"id": "new", "text": "item 99", "label": "odd"}) + "\n")
    with pytest.raises(RunDirError, match="changed since the run started"):
        prepare_resume(run)


def test_resume_command_via_cli(counted, test_models, tmp_path: Path) -> None:
    counter, make = counted
    run = execute(prepare(make()), runs_dir=tmp_path / "runs", client=test_models.client()).run_dir
    crash_at(run, 50)
    result = CliRunner().invoke(app, ["resume", str(run), "--quiet", "--no-cache"])
    assert result.exit_code == 0, result.output
    assert "Label the parity carefully in one word." in result.output
    assert json.loads((run / "manifest.json").read_text())["status"] == "completed"


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [3, 40, 150])
def test_sigkill_then_resume_gives_the_same_summary(
    test_models, tmp_path: Path, kill_after: int
) -> None:
    """A real process killed with SIGKILL mid-run (after ``kill_after`` evaluation lines: in the
    seed step, in a middle step, near the end), then resumed from its directory."""
    rows = fakes.parity_rows(40)
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from conftest import parity_spec

    spec = parity_spec(scorer={"model": "openai/slow-parity"}, concurrency=2)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    env = dict(os.environ)  # with the test models' OPENAI_API_BASE
    command = [sys.executable, "-m", "opro_cli", "run", "spec.yaml", "--quiet", "--no-cache"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env)
    runs = tmp_path / "runs"
    try:
        while process.poll() is None:
            found = list(runs.glob("*/evaluations.jsonl")) if runs.exists() else []
            if found and len(found[0].read_text().splitlines()) >= kill_after:
                break
            threading.Event().wait(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    (run,) = runs.iterdir()
    assert json.loads((run / "manifest.json").read_text())["status"] == "running"
    assert not (run / "summary.json").exists()

    resumed = subprocess.run(
        [sys.executable, "-m", "opro_cli", "resume", str(run), "--json", "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    fresh = subprocess.run(
        [*command[:-2], "--json", "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fresh.returncode == 0, fresh.stderr
    a, b = json.loads(resumed.stdout), json.loads(fresh.stdout)
    assert stable(a) == stable(b)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stop", "presses", "code"),
    [
        (signal.SIGINT, 1, 130),
        (signal.SIGINT, 2, 130),
        (signal.SIGTERM, 1, 143),
        (signal.SIGHUP, 1, 129),
    ],
)
def test_ctrl_c_marks_the_run_interrupted_and_prints_the_resume_command(
    test_models, tmp_path: Path, stop: int, presses: int, code: int
) -> None:
    """One Ctrl-C finishes the lines in flight; a second one right after exits at once.
    SIGTERM and SIGHUP stop a run like Ctrl-C (exit 143 and 129). Either way the run is marked
    interrupted, every line written is whole, and it resumes."""
    rows = fakes.parity_rows(40)
    (tmp_path / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    from conftest import parity_spec

    spec = parity_spec(scorer={"model": "openai/slow-parity"}, concurrency=2)
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    env = dict(os.environ)  # with the test models' OPENAI_API_BASE
    process = subprocess.Popen(
        [sys.executable, "-m", "opro_cli", "run", "spec.yaml", "--no-cache"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = tmp_path / "runs"
    try:
        while process.poll() is None:
            found = list(runs.glob("*/evaluations.jsonl")) if runs.exists() else []
            if found and len(found[0].read_text().splitlines()) >= 30:
                break
            threading.Event().wait(0.02)
        for _ in range(presses):
            process.send_signal(stop)
            threading.Event().wait(0.005)
        out, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == code, err
    (run,) = runs.iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert f"opro resume {run.relative_to(tmp_path)}" in err
    assert "Traceback" not in err
    for line in (run / "evaluations.jsonl").read_text().splitlines():
        json.loads(line)  # every line written is whole
    resumed = subprocess.run(
        [sys.executable, "-m", "opro_cli", "resume", str(run), "--json", "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["status"] == "completed"
