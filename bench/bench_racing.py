"""Evaluation strategies side by side: ``full``, ``racing`` and ``racing`` + ``show_errors``.

Each case is one ``opro run`` (a subprocess, this checkout's code, ``--no-cache``) on the same
task, models, seed and number of steps; only the strategy differs. For every run it reports the
scorer calls (train, and all splits), the wall time, the best train score, the winner's test
score with a 95% interval, and for the racing strategies the winner's test score against the
``full`` run of the same task and seed (a paired bootstrap over the test examples).

Suites:

- ``wording``: the loopback server of ``bench/wording_server.py`` (started here, in a thread),
  several tasks and seeds; fast (no model) and the search has something to find;
- ``quickstart``: ``configs/quickstart.yaml`` with the embedded local model (minutes per run);
- ``bbh``: BIG-Bench Hard tasks from ``../shared/datasets/bbh/`` with the local model (read in
  place, never copied).

The strategies reach the run spec as ``evaluation: {strategy: racing, delta, margin}``
(``--delta``, ``--margin``) and ``optimizer: {show_errors: K}`` (``--show-errors``); ``--set``
passes any other spec change to every run (``--set optimizer.parse=strict``). The strategies of
one task and seed run one after another, so a changing load on a shared machine bends their
wall times alike; compare wall times only as ratios within one table.

    python bench/bench_racing.py --suite wording --seeds 0,1,2,3,4 --keep /tmp/b --out /tmp/b.jsonl
    python bench/bench_racing.py --suite quickstart --suite bbh --strategies full,racing
    python bench/bench_racing.py --render /tmp/b.jsonl [...]     # the tables again, from saved runs
    python bench/bench_racing.py --replay RUN_DIR [RUN_DIR ...]  # what racing would have cost

``--replay`` needs no new opro: it replays the races a ``full`` run's candidates would have run
against the best of their step (from its ``evaluations.jsonl``) and reports the train calls
racing would have used and how many candidates it would have dropped that were not worse.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from wording_server import TASKS, WordingServer, examples, p_right, write_dataset  # noqa: E402

from opro_cli.core.paired_graded import t_quantile  # noqa: E402
from opro_cli.core.racing import RacePlan, race_order  # noqa: E402
from opro_cli.core.significance import compare_paired  # noqa: E402

STRATEGIES = ("full", "racing", "racing+errors")
SHOW_ERRORS = 3
BBH_TASKS = {
    "sports_understanding": (
        "Decide whether a sentence about sports is plausible. Answer yes or no.",
        ["yes", "no"],
    ),
    "navigate": (
        "Decide whether following the instructions returns you to the starting point. "
        "Answer Yes or No.",
        ["Yes", "No"],
    ),
    "boolean_expressions": (
        "Evaluate a Boolean expression. Answer True or False.",
        ["True", "False"],
    ),
    "causal_judgement": ("Answer a question about causation with Yes or No.", ["Yes", "No"]),
    "web_of_lies": (
        "Decide whether the last person tells the truth. Answer Yes or No.",
        ["Yes", "No"],
    ),
}


@dataclass(frozen=True)
class Case:
    suite: str
    task: str
    seed: int
    strategy: str
    spec: dict[str, Any] = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        return f"{self.suite}/{self.task}/seed{self.seed}/{self.strategy}"

    @property
    def group(self) -> tuple[str, str, int]:
        return (self.suite, self.task, self.seed)


@dataclass(frozen=True)
class Result:
    suite: str
    task: str
    seed: int
    strategy: str
    run_dir: str
    wall_s: float
    calls: int
    optimizer_calls: int
    scorer_calls: dict[str, int]  # by split
    n_train: int
    best_train: float
    winner_test: float | None
    winner_test_ci: tuple[float, float] | None
    winner_text: str
    duration_s: float = 0.0  # the run's own duration (summary.json), without process start
    candidates: int = 0
    dropped: int = 0  # candidates racing stopped before the whole train split
    # wording suite: the winner's expected accuracy over all the task's examples, known to the
    # server (no sampling noise: two wordings with the same hidden sentences are equally good)
    winner_true: float | None = None
    vs_full: dict[str, float] | None = None  # test delta against full, with its interval

    @property
    def group(self) -> tuple[str, str, int]:
        return (self.suite, self.task, self.seed)


# -- specs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What the strategies set, and the spec changes every run gets (``--set``)."""

    delta: float = 0.05
    margin: float = 0.0
    show_errors: int = SHOW_ERRORS
    sets: tuple[str, ...] = ()


def with_strategy(spec: dict[str, Any], strategy: str, settings: Settings) -> dict[str, Any]:
    spec = json.loads(json.dumps(spec))  # a deep copy
    for assignment in settings.sets:
        set_key(spec, assignment)
    if strategy in ("racing", "racing+errors"):
        spec["evaluation"] = {
            "strategy": "racing",
            "delta": settings.delta,
            "margin": settings.margin,
        }
    if strategy == "racing+errors":
        spec.setdefault("optimizer", {})["show_errors"] = settings.show_errors
    return spec


def set_key(spec: dict[str, Any], assignment: str) -> None:
    """Apply ``path.to.key=value`` (the value read as YAML), as ``opro run --set`` does."""
    path, sep, raw = assignment.partition("=")
    if not sep or not path:
        raise SystemExit(f"bench_racing: --set {assignment!r}: write path.to.key=value")
    *parents, last = path.split(".")
    node = spec
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = yaml.safe_load(raw)


def wording_spec(task: str, seed: int, steps: int, data: Path, url: str) -> dict[str, Any]:
    t = TASKS[task]
    model = {"model": f"openai/{task}", "api_base": url, "max_retries": 0}
    return {
        "name": f"wording-{task}-s{seed}",
        "task": t.description,
        "seed_prompts": [""],
        "dataset": {
            "path": str(data / f"{task}.jsonl"),
            "input": "text",
            "target": "label",
            "id": "id",
            "split": {"train": 0.5, "val": 0.2, "test": 0.3},
            "seed": seed,
        },
        "metric": {"name": "choice", "choices": list(t.labels)},
        "scorer": {**model, "temperature": 0, "max_tokens": 8},
        "optimizer": {
            **model,
            "temperature": 1.0,
            "candidates_per_step": 8,
            "history_size": 20,
            "exemplars": 3,
        },
        "budget": {"steps": steps},
        "concurrency": 16,
        "seed": seed,
    }


def quickstart_spec(seed: int) -> dict[str, Any]:
    path = ROOT / "configs" / "quickstart.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    spec["dataset"]["path"] = str((path.parent / spec["dataset"]["path"]).resolve())
    spec["name"] = f"quickstart-s{seed}"
    spec["seed"] = seed
    return dict(spec)


def bbh_spec(task: str, seed: int, bbh_dir: Path, limit: int, steps: int) -> dict[str, Any]:
    description, choices = BBH_TASKS[task]
    local = {"model": "local/smollm2-135m-instruct"}
    return {
        "name": f"bbh-{task}-s{seed}",
        "task": description,
        "seed_prompts": [""],
        "dataset": {
            "path": str(bbh_dir / f"{task}.json"),
            "input": "input",
            "target": "target",
            "split": {"train": 0.4, "val": 0.2, "test": 0.4},
            "seed": seed,
            "limit": limit,
        },
        "metric": {"name": "choice", "choices": choices},
        "scorer": {**local, "temperature": 0, "max_tokens": 8, "instruction_position": "q_begin"},
        "optimizer": {
            **local,
            "temperature": 0.7,
            "max_tokens": 64,
            "max_instruction_chars": 200,
            "candidates_per_step": 4,
            "history_size": 10,
            "exemplars": 2,
        },
        "budget": {"steps": steps},
        "concurrency": 1,
        "seed": seed,
    }


# -- running -------------------------------------------------------------------------------------


def opro(*args: str) -> list[str]:
    return [sys.executable, "-m", "opro_cli", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("OPENAI_API_KEY", "sk-bench-dummy")  # the wording server ignores it
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env["LITELLM_MODE"] = "PRODUCTION"
    return env


def write_spec(case: Case, folder: Path) -> Path:
    path = folder / "specs" / f"{case.label.replace('/', '-')}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(case.spec, sort_keys=False), encoding="utf-8")
    return path


def preflight(cases: Sequence[Case], folder: Path, *, every: bool = False) -> None:
    """Validate one spec per strategy (``every``: all of them) before running anything."""
    checked: set[str] = set()
    for case in cases:
        if case.strategy in checked and not every:
            continue
        checked.add(case.strategy)
        spec = write_spec(case, folder)
        done = subprocess.run(
            opro("validate", str(spec)), capture_output=True, text=True, env=child_env(), cwd=ROOT
        )
        if done.returncode != 0:
            message = (done.stdout + done.stderr).strip()
            sys.exit(f"bench_racing: {spec} does not validate:\n{message}")


def run_case(case: Case, folder: Path) -> Result:
    spec = write_spec(case, folder)
    runs = folder / "runs"
    command = opro("run", str(spec), "--runs-dir", str(runs), "--no-cache", "--quiet", "--json")
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=child_env(), cwd=ROOT)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{case.label}: opro run exited {done.returncode}\n{done.stderr[-3000:]}"
        )
    summary = json.loads(done.stdout)
    return read_result(case, Path(summary["run_dir"]), wall)


# -- reading a run directory ---------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def read_result(case: Case, run_dir: Path, wall: float) -> Result:
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    evaluations = read_jsonl(run_dir / "evaluations.jsonl")
    scorer: dict[str, int] = defaultdict(int)
    for row in evaluations:
        if not row.get("cached"):
            scorer[row["split"]] += 1
    optimizer_calls = sum(len(m["samples"]) for m in read_jsonl(run_dir / "meta_prompts.jsonl"))
    steps = read_jsonl(run_dir / "steps.jsonl")
    candidates = read_jsonl(run_dir / "candidates.jsonl")
    best = summary["best"]
    test_scores = [
        float(row["score"])
        for row in evaluations
        if row["split"] == "test" and row["candidate_id"] == best["id"]
    ]
    n_train = len({row["example_id"] for row in evaluations if row["split"] == "train"})
    return Result(
        suite=case.suite,
        task=case.task,
        seed=case.seed,
        strategy=case.strategy,
        run_dir=str(run_dir),
        wall_s=round(wall, 2),
        calls=int(summary["usage"]["calls"]),
        optimizer_calls=optimizer_calls,
        scorer_calls=dict(scorer),
        n_train=n_train,
        best_train=float(steps[-1]["best_score"]) if steps else float(best["train"]),
        winner_test=best.get("test"),
        winner_test_ci=wilson(test_scores) if test_scores else None,
        winner_text=best["text"],
        duration_s=float(summary.get("duration_s") or 0.0),
        candidates=len(candidates),
        dropped=sum(1 for c in candidates if c.get("stopped")),
        winner_true=true_accuracy(case, best["text"]),
    )


def true_accuracy(case: Case, instruction: str) -> float | None:
    """For the wording suite: the instruction's expected accuracy over the task's examples."""
    if case.suite != "wording":
        return None
    task = TASKS[case.task]
    path = Path(case.spec["dataset"]["path"])
    size = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line)
    found = examples(task, size)
    return sum(p_right(task, instruction, e) for e in found) / len(found)


def drops_vs_truth(r: Result) -> tuple[int, int] | None:
    """Wording suite: of the proposals racing dropped, how many were truly better than the
    reference they were raced against (the best after the previous step), and how many truly
    as good (the same hidden sentences: a neutral sentence more or less), by the server's own
    expected accuracy. Dropping a truly better one is the harm to look for; an as-good one
    whose answers came out worse on the split is allowed."""
    if r.suite != "wording" or r.strategy == "full":
        return None
    run_dir = Path(r.run_dir)
    spec = yaml.safe_load((run_dir / "config.yaml").read_text(encoding="utf-8"))
    path = Path(spec["dataset"]["path"])
    task = TASKS[r.task]
    size = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line)
    found = examples(task, size)

    def truth(text: str) -> float:
        return sum(p_right(task, text, e) for e in found) / len(found)

    candidates = read_jsonl(run_dir / "candidates.jsonl")
    texts = {c["id"]: c["text"] for c in candidates}
    best_after = {row["step"]: row["best_id"] for row in read_jsonl(run_dir / "steps.jsonl")}
    better = same = 0
    for c in candidates:
        reference = best_after.get(c["step"] - 1)
        if not c.get("stopped") or reference is None:
            continue
        gap = truth(c["text"]) - truth(texts[reference])
        better += gap > 1e-9
        same += abs(gap) <= 1e-9
    return better, same


def per_example(run_dir: str, candidate_id: str, split: str) -> dict[str, float | None]:
    """One candidate's scores on a split by example id (None: the call failed)."""
    rows = read_jsonl(Path(run_dir) / "evaluations.jsonl")
    return {
        r["example_id"]: None if r["score"] is None else float(r["score"])
        for r in rows
        if r["split"] == split and r["candidate_id"] == candidate_id
    }


# -- statistics ----------------------------------------------------------------------------------


def wilson(scores: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """A 95% Wilson interval for a mean of 0/1 scores (graded scores: their mean as the rate)."""
    n = len(scores)
    p = sum(scores) / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return (round(centre - half, 4), round(centre + half, 4))


def test_pairs(mine: Result, full: Result) -> tuple[list[float | None], list[float | None]]:
    """Both winners' test scores on the test examples both runs have (the same split)."""
    a = per_example(mine.run_dir, _winner_id(mine.run_dir), "test")
    b = per_example(full.run_dir, _winner_id(full.run_dir), "test")
    shared = sorted(set(a) & set(b))
    return [a[k] for k in shared], [b[k] for k in shared]


def paired(a: Sequence[float | None], b: Sequence[float | None]) -> dict[str, float]:
    """The product's own paired test (``core.significance``: McNemar mid-p with Tango's
    interval for 0/1 scores, a bootstrap-t for graded ones) of ``a - b``, two-sided 95%."""
    c = compare_paired(a, b, level=0.95, rng=random.Random(0))
    return {
        "delta": round(c.delta, 4),
        "low": round(c.low if c.low is not None else 0.0, 4),
        "high": round(c.high if c.high is not None else 0.0, 4),
        "p": round(c.p_value, 4),
        "n": c.n,
        "wins": c.wins,
        "losses": c.losses,
    }


def compare_to_full(results: list[Result]) -> list[Result]:
    """Attach to each racing result its winner's test delta against the full run's winner."""
    full = {r.group: r for r in results if r.strategy == "full"}
    out = []
    for r in results:
        base = full.get(r.group)
        if r.strategy == "full" or base is None:
            out.append(r)
            continue
        out.append(Result(**{**asdict(r), "vs_full": paired(*test_pairs(r, base))}))
    return out


def pooled_vs_full(runs: Sequence[Result], full: dict[tuple[str, str, int], Result]) -> str:
    """One strategy's winners against full's over all seeds (the pairs of every seed pooled),
    and how many single runs were significantly worse or better."""
    a: list[float | None] = []
    b: list[float | None] = []
    worse = better = 0
    for r in runs:
        base = full.get(r.group)
        if base is None:
            continue
        x, y = test_pairs(r, base)
        a += x
        b += y
        if r.vs_full is not None and r.vs_full["high"] < 0:
            worse += 1
        if r.vs_full is not None and r.vs_full["low"] > 0:
            better += 1
    if not a:
        return "-"
    v = paired(a, b)
    return (
        f"{100 * v['delta']:+.1f} [{100 * v['low']:+.1f}, {100 * v['high']:+.1f}]; "
        f"worse {worse}, better {better}"
    )


def _winner_id(run_dir: str) -> str:
    summary = json.loads((Path(run_dir) / "summary.json").read_text(encoding="utf-8"))
    return str(summary["best"]["id"])


# -- replay: what racing would have cost a full run ----------------------------------------------


@dataclass(frozen=True)
class Replay:
    run_dir: str
    candidates: int
    train_calls_full: int
    train_calls_racing: int
    dropped: int
    dropped_not_worse: int  # dropped although at least as good as the reference on the split


def replay(run_dir: Path, *, delta: float = 0.05, binary: bool = True, seed: int = 0) -> Replay:
    """Race every optimizer candidate of a full run against the best candidate at the start of
    its step, on the run's own per-example train scores, in a seeded order per step."""
    rows = [r for r in read_jsonl(run_dir / "evaluations.jsonl") if r["split"] == "train"]
    scores: dict[str, dict[str, float | None]] = defaultdict(dict)
    for r in rows:
        scores[r["candidate_id"]][r["example_id"]] = None if r.get("error") else float(r["score"])
    candidates = read_jsonl(run_dir / "candidates.jsonl")
    example_ids = sorted({r["example_id"] for r in rows})
    plan = RacePlan(len(example_ids), delta=delta, binary=binary)
    full_calls = racing_calls = dropped = dropped_not_worse = 0
    best: dict[str, Any] | None = None
    for step in sorted({c["step"] for c in candidates}):
        this_step = [c for c in candidates if c["step"] == step]
        order = race_order(example_ids, random.Random(f"{seed}:race:{step}"))
        if best is not None:
            reference = [scores[best["id"]].get(e) for e in order]
            for c in this_step:
                candidate = [scores[c["id"]].get(e) for e in order]
                full_calls += len(order)
                for look in plan.looks():
                    decision = plan.decide(candidate[:look], reference)
                    if decision.drop or look == plan.n_train:
                        break
                racing_calls += decision.n
                if decision.drop:
                    dropped += 1
                    dropped_not_worse += c["train_score"] >= best["train_score"]
        for c in this_step:
            if best is None or c["train_score"] > best["train_score"]:
                best = c
    return Replay(
        str(run_dir), len(candidates), full_calls, racing_calls, dropped, dropped_not_worse
    )


# -- the table -----------------------------------------------------------------------------------


def _mean(values: Iterable[float]) -> float:
    found = list(values)
    return statistics.mean(found) if found else 0.0


def render(results: Sequence[Result]) -> str:
    """One Markdown row per (suite, task, strategy), averaged over seeds."""
    groups: dict[tuple[str, str, str], list[Result]] = defaultdict(list)
    for r in results:
        groups[(r.suite, r.task, r.strategy)].append(r)
    full = {r.group: r for r in results if r.strategy == "full"}
    lines = [
        "| suite | task | strategy | runs | train scorer calls | vs full | scorer calls, all "
        "splits | vs full | dropped / scored proposals (wording: truly better, as good) | "
        "run time vs full | best train | "
        "winner test (per seed) | winner test vs full, pooled [95% CI]; runs significantly "
        "worse, better | winner true accuracy |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---:|",
    ]
    for (suite, task, strategy), rs in sorted(groups.items(), key=_order):
        base = [full[r.group] for r in rs if r.group in full]
        train = _mean(r.scorer_calls.get("train", 0) for r in rs)
        scorer = _mean(sum(r.scorer_calls.values()) for r in rs)
        train_full = _mean(b.scorer_calls.get("train", 0) for b in base)
        scorer_full = _mean(sum(b.scorer_calls.values()) for b in base)
        # ratios of sums over the same seeds (a run's share weighs by its size)
        time_ratio = sum(r.duration_s for r in rs if r.group in full) / max(
            sum(b.duration_s for b in base), 1e-9
        )
        tests = [r.winner_test for r in rs if r.winner_test is not None]
        cis = [r.winner_test_ci for r in rs if r.winner_test_ci is not None]
        test = f"{100 * _mean(tests):.1f}" if tests else "-"
        if len(rs) == 1 and cis:
            test += f" [{100 * cis[0][0]:.1f}, {100 * cis[0][1]:.1f}]"
        elif tests:
            test += " (" + ", ".join(f"{100 * t:.0f}" for t in tests) + ")"
        proposals = sum(r.candidates for r in rs) - sum(_seeds(r) for r in rs)
        truths = [found for r in rs if (found := drops_vs_truth(r)) is not None]
        dropped = f"{sum(r.dropped for r in rs)} / {proposals}"
        if truths:
            dropped += f" ({sum(b for b, _ in truths)}, {sum(e for _, e in truths)})"
        lines.append(
            f"| {suite} | {task} | {strategy} | {len(rs)} | {train:,.0f} | "
            f"{_share(train, train_full)} | {scorer:,.0f} | {_share(scorer, scorer_full)} | "
            f"{dropped} | "
            f"{time_ratio:.2f} | {100 * _mean(r.best_train for r in rs):.1f} | {test} | "
            f"{'-' if strategy == 'full' else pooled_vs_full(rs, full)} | {_true(rs)} |"
        )
    return "\n".join(lines)


def _true(runs: Sequence[Result]) -> str:
    found = [r.winner_true for r in runs if r.winner_true is not None]
    if not found:
        return "-"
    text = f"{100 * _mean(found):.1f}"
    if len(found) > 1:
        text += " (" + ", ".join(f"{100 * t:.0f}" for t in found) + ")"
    return text


def _mean_true(runs: Sequence[Result]) -> str:
    found = [r.winner_true for r in runs if r.winner_true is not None]
    return f"{100 * _mean(found):.1f}" if found else "-"


def true_vs_full(runs: Sequence[Result], full: dict[tuple[str, str, int], Result]) -> str:
    """Wording suite: the winners' true accuracy minus full's winner's, paired by task and seed,
    with a 95% Student t interval over the runs and how many runs were lower, the same, higher.
    (Not the product's bootstrap-t: most differences are exactly 0, and a resample of zeros
    has no spread, so its interval would be the whole range.)"""
    pairs = [
        (r.winner_true, full[r.group].winner_true)
        for r in runs
        if r.group in full and r.winner_true is not None
    ]
    diffs = [a - b for a, b in pairs if b is not None]
    if len(diffs) < 2:
        return "-"
    mean = statistics.mean(diffs)
    half = t_quantile(0.975, len(diffs) - 1) * statistics.stdev(diffs) / len(diffs) ** 0.5
    lower = sum(1 for d in diffs if d < -1e-9)
    higher = sum(1 for d in diffs if d > 1e-9)
    return (
        f"{100 * mean:+.1f} [{100 * (mean - half):+.1f}, {100 * (mean + half):+.1f}]; "
        f"lower {lower}, same {len(diffs) - lower - higher}, higher {higher}"
    )


def render_totals(results: Sequence[Result]) -> str:
    """Per suite and strategy: calls as a share of full's over the same runs, and the pooled
    test comparison (every task and seed)."""
    full = {r.group: r for r in results if r.strategy == "full"}
    lines = [
        "| suite | strategy | runs | train scorer calls vs full | all scorer calls vs full | "
        "run time vs full | winner test vs full, pooled [95% CI]; runs worse, better | "
        "winner true accuracy | true accuracy vs full, per run [95% t CI]; runs |",
        "|---|---|---:|---:|---:|---:|---|---:|---|",
    ]
    suites = sorted({r.suite for r in results})
    for suite in suites:
        for strategy in STRATEGIES:
            rs = [r for r in results if r.suite == suite and r.strategy == strategy]
            rs = [r for r in rs if r.group in full]
            if not rs:
                continue
            base = [full[r.group] for r in rs]
            train = sum(r.scorer_calls.get("train", 0) for r in rs)
            train_full = sum(b.scorer_calls.get("train", 0) for b in base)
            scorer = sum(sum(r.scorer_calls.values()) for r in rs)
            scorer_full = sum(sum(b.scorer_calls.values()) for b in base)
            time_ratio = sum(r.duration_s for r in rs) / max(sum(b.duration_s for b in base), 1e-9)
            lines.append(
                f"| {suite} | {strategy} | {len(rs)} | {_share(train, train_full)} | "
                f"{_share(scorer, scorer_full)} | {time_ratio:.2f} | "
                f"{'-' if strategy == 'full' else pooled_vs_full(rs, full)} | "
                f"{_mean_true(rs)} | {'-' if strategy == 'full' else true_vs_full(rs, full)} |"
            )
    return "\n".join(lines)


def render_runs(results: Sequence[Result]) -> str:
    """One row per run: the paired test comparison of its winner with full's."""
    lines = [
        "| run | train calls | all scorer calls | dropped | run time | best train | winner test "
        "| vs full [95% CI] (p) | true accuracy | winner |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for r in sorted(results, key=lambda r: (r.suite, r.task, r.seed, STRATEGIES.index(r.strategy))):
        vs = r.vs_full
        vs_text = (
            f"{100 * vs['delta']:+.1f} [{100 * vs['low']:+.1f}, {100 * vs['high']:+.1f}] "
            f"(p={vs['p']:.2f})"
            if vs is not None
            else "-"
        )
        test = "-" if r.winner_test is None else f"{100 * r.winner_test:.1f}"
        winner = r.winner_text.replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {r.suite}/{r.task}/s{r.seed}/{r.strategy} | {r.scorer_calls.get('train', 0):,} | "
            f"{sum(r.scorer_calls.values()):,} | {r.dropped} | {r.duration_s:.0f} s | "
            f"{100 * r.best_train:.1f} | {test} | {vs_text} | {_mean_true([r])} | "
            f"{winner[:70] + ('...' if len(winner) > 70 else '')} |"
        )
    return "\n".join(lines)


def _share(value: float, base: float) -> str:
    return f"{value / base:.0%}" if base else "-"


def _seeds(r: Result) -> int:
    rows = read_jsonl(Path(r.run_dir) / "candidates.jsonl")
    return sum(1 for c in rows if c.get("origin") == "seed")


def _order(item: tuple[tuple[str, str, str], list[Result]]) -> tuple[str, str, int]:
    (suite, task, strategy), _ = item
    return (suite, task, STRATEGIES.index(strategy))


# -- main ----------------------------------------------------------------------------------------


def build_cases(
    args: argparse.Namespace, folder: Path, url: str | None, settings: Settings
) -> list[Case]:
    """Every run, the strategies of one (suite, task, seed) next to each other."""
    groups: list[tuple[str, str, int, dict[str, Any]]] = []
    for seed in args.seeds:
        if "wording" in args.suite:
            if url is None:
                raise RuntimeError("the wording suite needs the server's URL")
            for task in args.tasks:
                spec = wording_spec(task, seed, args.steps, folder / "data", url)
                groups.append(("wording", task, seed, spec))
        if "quickstart" in args.suite:
            groups.append(("quickstart", "reviews", seed, quickstart_spec(seed)))
        if "bbh" in args.suite:
            for task in args.bbh_tasks:
                spec = bbh_spec(task, seed, args.bbh_dir, args.bbh_limit, args.bbh_steps)
                groups.append(("bbh", task, seed, spec))
    return [
        Case(suite, task, seed, strategy, with_strategy(spec, strategy, settings))
        for suite, task, seed, spec in groups
        for strategy in args.strategies
    ]


def csv(kind: type, text: str) -> list[Any]:
    return [kind(part) for part in text.split(",") if part]


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--suite", action="append", choices=("wording", "quickstart", "bbh"), help="repeatable"
    )
    parser.add_argument("--strategies", type=lambda s: csv(str, s), default=list(STRATEGIES))
    parser.add_argument("--seeds", type=lambda s: csv(int, s), default=[0, 1, 2])
    parser.add_argument("--tasks", type=lambda s: csv(str, s), default=list(TASKS))
    parser.add_argument("--steps", type=int, default=6, help="steps of the wording runs")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="wording server latency")
    parser.add_argument("--examples", type=int, default=200, help="wording examples per task")
    parser.add_argument(
        "--bbh-tasks",
        type=lambda s: csv(str, s),
        default=["sports_understanding", "navigate", "boolean_expressions"],
    )
    parser.add_argument("--bbh-dir", type=Path, default=ROOT.parent / "shared/datasets/bbh")
    parser.add_argument("--bbh-limit", type=int, default=100, help="examples read per task")
    parser.add_argument("--bbh-steps", type=int, default=4)
    parser.add_argument("--delta", type=float, default=0.05, help="evaluation.delta of racing")
    parser.add_argument("--margin", type=float, default=0.0, help="evaluation.margin of racing")
    parser.add_argument(
        "--show-errors", type=int, default=SHOW_ERRORS, help="optimizer.show_errors (racing+errors)"
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change every run's spec (path.to.key=value, the value read as YAML); repeatable",
    )
    parser.add_argument(
        "--render", type=Path, nargs="+", help="print the tables from --out files (runs kept)"
    )
    parser.add_argument("--keep", type=Path, help="keep specs and runs here (default: a temp dir)")
    parser.add_argument("--out", type=Path, help="append one JSON line per run to this file")
    parser.add_argument("--replay", type=Path, nargs="+", help="replay races on full runs")
    parser.add_argument(
        "--validate-only", action="store_true", help="write and validate every spec, run nothing"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)

    if args.replay:
        for run_dir in args.replay:
            r = replay(run_dir)
            used = r.train_calls_racing / r.train_calls_full if r.train_calls_full else 1.0
            print(
                f"{run_dir}: {r.candidates} candidates; optimizer candidates' train calls "
                f"{r.train_calls_full:,} full -> {r.train_calls_racing:,} racing ({used:.0%}); "
                f"dropped {r.dropped}, of which not worse than the best: {r.dropped_not_worse}"
            )
        return

    if args.render:
        saved = [
            Result(**json.loads(line))
            for path in args.render
            for line in path.read_text(encoding="utf-8").splitlines()
            if line
        ]
        saved = [Result(**{**asdict(r), "winner_test_ci": _pair(r.winner_test_ci)}) for r in saved]
        print_tables(compare_to_full(saved))
        return

    args.suite = args.suite or ["wording"]
    unknown = [s for s in args.strategies if s not in STRATEGIES]
    if unknown:
        parser.error(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
    unknown = [t for t in args.tasks if t not in TASKS] + [
        t for t in args.bbh_tasks if t not in BBH_TASKS
    ]
    if unknown:
        parser.error(f"unknown tasks {unknown}")

    with tempfile.TemporaryDirectory(prefix="opro-bench-racing-") as tmp:
        folder = args.keep if args.keep else Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        server = None
        if "wording" in args.suite:
            for name in args.tasks:
                write_dataset(TASKS[name], folder / "data" / f"{name}.jsonl", args.examples)
            server = WordingServer(latency_s=args.latency_ms / 1000, size=args.examples).start()
        try:
            settings = Settings(args.delta, args.margin, args.show_errors, tuple(args.sets))
            cases = build_cases(args, folder, server.base_url if server else None, settings)
            preflight(cases, folder, every=args.validate_only)
            if args.validate_only:
                print(f"{len(cases)} specs validate (in {folder / 'specs'})")
                return
            results = []
            for case in cases:
                try:
                    result = run_case(case, folder)
                except RuntimeError as exc:  # one failed run must not lose the others
                    print(f"{case.label}: FAILED\n{exc}", flush=True)
                    continue
                results.append(result)
                print(
                    f"{case.label}: train calls {result.scorer_calls.get('train', 0):,}, "
                    f"dropped {result.dropped}/{result.candidates}, "
                    f"best train {100 * result.best_train:.1f}, test "
                    f"{100 * (result.winner_test or 0):.1f}, {result.duration_s:.0f} s",
                    flush=True,
                )
                if args.out:
                    with args.out.open("a", encoding="utf-8") as handle:
                        handle.write(json.dumps(asdict(result)) + "\n")
            results = compare_to_full(results)
        finally:
            if server is not None:
                server.stop()
        print_tables(results)
        replays = [(run, replay(Path(run.run_dir))) for run in results if run.strategy == "full"]
        if replays:
            print("\nracing replayed on the full runs (optimizer candidates' train calls):")
            for run, rp in replays:
                share = rp.train_calls_racing / rp.train_calls_full if rp.train_calls_full else 1
                print(
                    f"  {run.suite}/{run.task}/seed{run.seed}: {share:.0%} "
                    f"({rp.train_calls_racing:,} of {rp.train_calls_full:,}); dropped "
                    f"{rp.dropped}, not worse than the best: {rp.dropped_not_worse}"
                )
        if server is not None:
            print(f"\nwording server answered {server.counts()}")


def print_tables(results: Sequence[Result]) -> None:
    print()
    print(render(results))
    print()
    print(render_totals(results))
    print()
    print(render_runs(results))


def _pair(value: Any) -> tuple[float, float] | None:
    return None if value is None else (float(value[0]), float(value[1]))


if __name__ == "__main__":
    main()
