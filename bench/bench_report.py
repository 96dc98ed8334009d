"""Benchmark ``opro report`` over 100 run directories (the target: under a second for the listing).

    python bench/bench_report.py                  # build 100 runs in a temporary folder, time
    python bench/bench_report.py --keep /tmp/runs # build them there once, reuse them next time
    python bench/bench_report.py --repeat 3       # fewer repetitions on a busy machine

Run from the repository root, with the package installed (``pip install -e .``). No network, no
API key: the runs are written by the real optimizer with the test suite's scripted client
(``tests/scripted_client.py``) answering with its parity scorer (``tests/fakes.py``) and the
optimizer below, then copied to 100 folders with distinct names and start times.

Three template runs, so the listing has what real ones have:

- ``parity``: completed, 10 steps of 8 candidates scored on 40 train examples (about 3,500 model
  calls, an ``evaluations.jsonl`` of about 0.8 MB);
- ``parity-small``: completed, 4 steps of 4 candidates, another seed;
- ``parity-cut``: a copy of ``parity`` cut after 5 steps and marked interrupted (no summary, so
  the listing reads its ``steps.jsonl``).

What is timed, each ``--repeat`` times, printing the median and the slowest:

- **subprocess**: the ``opro`` command as a user runs it (Python start-up and imports included),
  stdout to a pipe: the listing as ``table``, ``md``, ``json`` and ``html``, a filtered listing,
  and details for one run and for three runs side by side;
- **in-process**: ``collect_report`` + the renderer only (no start-up, no imports), the same
  listings;
- ``opro --version``: the start-up cost that every command pays.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 1.0
WORDS = ("carefully", "label", "one word", "parity", "briefly", "the item", "please", "exactly")


# ---------------------------------------------------------------------------------------------
# Building the runs


def varied_proposer(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """A scripted optimizer whose every proposal is new (the test suite's proposer repeats six), so
    a run has as many candidates as a real one; how many magic words a proposal holds, and so its
    score, depends on the call's seed."""
    seed = int(params.get("seed") or 0)
    words = [w for i, w in enumerate(WORDS) if seed >> i & 1]
    return f"My idea:\n<INS>Answer {' '.join(words)} (variant {seed % 100_000}).</INS>"


def spec_yaml(name: str, seed: int, steps: int, per_step: int) -> dict[str, Any]:
    return {
        "name": name,
        "task": "Say whether the item number is even or odd.",
        "seed_prompts": ["Answer.", "Reply with one word."],
        "dataset": {
            "path": "data.jsonl",
            "input": "text",
            "target": "label",
            "id": "id",
            "split": {"train": 0.5, "val": 0.25, "test": 0.25},
            "seed": 3,
        },
        "metric": "exact_match",
        "scorer": {"model": "openai/parity", "max_tokens": 4},
        "optimizer": {"model": "openai/varied", "candidates_per_step": per_step, "exemplars": 2},
        "budget": {"steps": steps},
        "concurrency": 8,
        "seed": seed,
    }


def build_templates(folder: Path) -> list[Path]:
    """The three template runs, written by the real optimizer with scripted models."""
    sys.path.insert(0, str(ROOT / "tests"))
    import yaml
    from fakes import parity_rows, parity_scorer
    from scripted_client import ScriptedClient

    from opro_cli.app import execute, prepare

    (folder / "data.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in parity_rows(80)), encoding="utf-8"
    )
    made = []
    for name, seed, steps, per_step in (("parity", 11, 10, 8), ("parity-small", 2, 4, 4)):
        spec = folder / f"{name}.yaml"
        spec.write_text(yaml.safe_dump(spec_yaml(name, seed, steps, per_step), sort_keys=False))
        client = ScriptedClient({"parity": parity_scorer, "varied": varied_proposer})
        made.append(execute(prepare(spec), runs_dir=folder / "templates", client=client).run_dir)
    cut = made[0].with_name(made[0].name.replace("-parity", "-parity-cut"))
    shutil.copytree(made[0], cut)
    interrupt(cut, keep_steps=6)
    return [*made, cut]


def interrupt(run: Path, keep_steps: int) -> None:
    """Make a finished run look stopped by Ctrl-C after ``keep_steps`` lines of steps."""
    steps = (run / "steps.jsonl").read_text().splitlines(keepends=True)[:keep_steps]
    (run / "steps.jsonl").write_text("".join(steps))
    candidates = [
        line
        for line in (run / "candidates.jsonl").read_text().splitlines(keepends=True)
        if json.loads(line)["step"] < keep_steps
    ]
    (run / "candidates.jsonl").write_text("".join(candidates))
    for name in ("summary.json", "best_prompt.txt"):
        (run / name).unlink()
    manifest = json.loads((run / "manifest.json").read_text())
    manifest.update(name="parity-cut", status="interrupted", reason="stopped by Ctrl-C")
    (run / "manifest.json").write_text(json.dumps(manifest))


def copy_runs(templates: list[Path], runs_dir: Path, count: int) -> None:
    """``count`` copies of the templates, round robin, one hour apart, newest first."""
    newest = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
    runs_dir.mkdir(parents=True)
    for index in range(count):
        template = templates[index % len(templates)]
        manifest = json.loads((template / "manifest.json").read_text())
        started = newest - timedelta(hours=index, seconds=index * 7)
        took = datetime.fromisoformat(manifest["ended_at"]) - datetime.fromisoformat(
            manifest["started_at"]
        )
        folder = runs_dir / f"{started:%Y%m%dT%H%M%SZ}-{manifest['name']}"
        shutil.copytree(template, folder)
        manifest.update(started_at=started.isoformat(), ended_at=(started + took).isoformat())
        (folder / "manifest.json").write_text(json.dumps(manifest))
        summary = folder / "summary.json"
        if summary.is_file():
            data = json.loads(summary.read_text())
            data["run_dir"] = str(folder)
            summary.write_text(json.dumps(data))


def ensure_runs(runs_dir: Path, count: int) -> None:
    if runs_dir.is_dir() and sum(1 for _ in runs_dir.iterdir()) >= count:
        print(f"reusing {runs_dir}")
        return
    if runs_dir.exists():
        raise SystemExit(f"{runs_dir}: exists but holds fewer than {count} runs; remove it")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="opro-bench-templates-") as tmp:
        templates = build_templates(Path(tmp))
        copy_runs(templates, runs_dir, count)
    size = sum(f.stat().st_size for f in runs_dir.rglob("*") if f.is_file())
    print(
        f"built {count} runs in {runs_dir} ({size / 1e6:.0f} MB) "
        f"in {time.perf_counter() - started:.1f} s"
    )


# ---------------------------------------------------------------------------------------------
# Timing


def opro_command() -> list[str]:
    """The ``opro`` console script next to this Python (not a version manager's shim), else
    ``python -m opro_cli``."""
    script = Path(sys.executable).parent / "opro"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "opro_cli"]


def timed(action: Callable[[], Any], repeat: int) -> list[float]:
    action()  # warm the file cache and, in-process, the imports
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


def line(label: str, times: list[float]) -> str:
    median, worst = statistics.median(times), max(times)
    mark = "" if worst < TARGET_S else "   over 1 s"
    return f"  {label:<44} median {median * 1000:7.0f} ms   max {worst * 1000:7.0f} ms{mark}"


def subprocess_runner(args: list[str]) -> Callable[[], None]:
    command = [*opro_command(), *args]
    env = {**os.environ, "COLUMNS": "160"}

    def run() -> None:
        result = subprocess.run(command, capture_output=True, env=env)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(args)}: exit {result.returncode}\n{result.stderr!r}")

    return run


def in_process_runner(runs_dir: Path, fmt: str) -> Callable[[], None]:
    from rich.console import Console

    from opro_cli.report.collect import collect_report
    from opro_cli.report.render_html import render_html
    from opro_cli.report.render_json import render_json
    from opro_cli.report.render_md import render_markdown
    from opro_cli.report.render_table import render_report

    def run() -> None:
        report = collect_report(runs_dir, charts=fmt == "html")
        if len(report.rows) == 0:
            raise SystemExit(f"{runs_dir}: no runs read")
        if fmt == "table":
            console = Console(file=io.StringIO(), width=160, color_system=None)
            console.print(render_report(report))
        elif fmt == "md":
            render_markdown(report)
        elif fmt == "json":
            render_json(report)
        else:
            render_html(report)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="how many run directories")
    parser.add_argument("--repeat", type=int, default=5, help="timed repetitions of each")
    parser.add_argument("--keep", type=Path, help="build the runs here (reused if present)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="opro-bench-") as tmp:
        runs_dir = args.keep if args.keep is not None else Path(tmp) / "runs"
        ensure_runs(runs_dir, args.runs)
        folders = sorted(p.name for p in runs_dir.iterdir())
        one = random.Random(0).choice([f for f in folders if f.endswith("-parity")])
        three = folders[-3:]
        base = ["report", "--runs-dir", str(runs_dir)]
        python, cpus = sys.version.split()[0], os.cpu_count() or 1
        print(
            f"{len(folders)} runs, {args.repeat} repetitions each, Python {python}, "
            f"{cpus} CPUs, load average {os.getloadavg()[0]:.1f}"
        )

        print("subprocess (`opro ...`, start-up included):")
        listing = ("table", "md", "json", "html")
        last = ["--last", "10"]
        cases: list[tuple[str, list[str]]] = [
            ("opro --version (start-up only)", ["--version"]),
            *((f"opro report --format {fmt}", [*base, "--format", fmt]) for fmt in listing),
            ("opro report --name 'parity-s*' --last 10", [*base, "--name", "parity-s*", *last]),
            ("opro report RUN (details of 1 run)", [*base, one]),
            ("opro report RUN RUN RUN --format html", [*base, *three, "--format", "html"]),
        ]
        slowest_listing = 0.0
        for label, command in cases:
            times = timed(subprocess_runner(command), args.repeat)
            print(line(label, times))
            if label.startswith("opro report --format"):
                slowest_listing = max(slowest_listing, max(times))

        print("in-process (collect_report + render, no start-up):")
        for fmt in listing:
            times = timed(in_process_runner(runs_dir, fmt), args.repeat)
            print(line(f"listing, {fmt}", times))

        load = os.getloadavg()[0]
        busy = " (more than the CPUs: other work slowed these numbers)" if load > cpus else ""
        print(f"load average now {load:.1f}{busy}")
        verdict = "under" if slowest_listing < TARGET_S else "OVER"
        print(f"slowest listing as a subprocess: {slowest_listing * 1000:.0f} ms ({verdict} 1 s)")


if __name__ == "__main__":
    main()
