"""``opro run SPEC``: optimize a prompt, with a live leaderboard and a run directory."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from opro_cli.cli.errors import report_errors
from opro_cli.errors import GateError, RunDirError, UsageError

if TYPE_CHECKING:
    from opro_cli.app import PlannedCost, Prepared
    from opro_cli.core.optimizer import Prior
    from opro_cli.models.base import ModelClient


@report_errors
def run_command(
    ctx: typer.Context,
    spec: Path | None = typer.Argument(None, help="The YAML run spec."),
    resume: Path | None = typer.Option(
        None, "--resume", help="Continue an interrupted or crashed run from its directory."
    ),
    runs_dir: Path = typer.Option(
        Path("runs"), "--runs-dir", help="Where run directories are created."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the final summary."),
    json_out: bool = typer.Option(
        False, "--json", help="Print the summary as JSON on stdout; progress goes to stderr."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Check the spec and print the planned calls; call no model."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Neither read nor write the response cache."
    ),
    fail_under: float | None = typer.Option(
        None, "--fail-under", help="Exit 1 if the winner's test score (0-1) is below this."
    ),
    min_improvement: float | None = typer.Option(
        None,
        "--min-improvement",
        help="Exit 1 if the winner beats the best seed on test by less than this (0-1).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Run the OPRO loop described by SPEC and write a run directory under --runs-dir."""
    from opro_cli.app import prepare, prepare_resume

    if (spec is None) == (resume is None):
        raise UsageError("give either a run spec or --resume RUN_DIR (not both)")
    if resume is not None:
        prepared, prior = prepare_resume(resume)
    else:
        assert spec is not None
        prepared, prior = prepare(spec), None
    options = RunOptions(quiet, json_out, dry_run, no_cache, fail_under, min_improvement)
    run_prepared(prepared, options, runs_dir=runs_dir, resume_dir=resume, prior=prior)


@report_errors
def resume_command(
    ctx: typer.Context,
    run_dir: Path = typer.Argument(..., help="The directory of an unfinished run."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the final summary."),
    json_out: bool = typer.Option(
        False, "--json", help="Print the summary as JSON on stdout; progress goes to stderr."
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Neither read nor write the response cache."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Continue an interrupted or crashed run; calls already made are not made again."""
    from opro_cli.app import prepare_resume

    prepared, prior = prepare_resume(run_dir)
    options = RunOptions(quiet, json_out, False, no_cache, None, None)
    run_prepared(prepared, options, runs_dir=run_dir.parent, resume_dir=run_dir, prior=prior)


@dataclass(frozen=True)
class RunOptions:
    quiet: bool
    json_out: bool
    dry_run: bool
    no_cache: bool
    fail_under: float | None
    min_improvement: float | None


def run_prepared(
    prepared: Prepared,
    options: RunOptions,
    *,
    runs_dir: Path,
    resume_dir: Path | None,
    prior: Prior | None,
) -> None:
    from opro_cli.app import execute, planned_calls, planned_cost
    from opro_cli.ui.leaderboard import Board, LiveView, PlainView
    from opro_cli.ui.summary import render_summary

    if resume_dir is None and runs_dir.exists() and not runs_dir.is_dir():
        raise RunDirError(
            f"{runs_dir}: --runs-dir is a file, not a folder",
            hint="choose a folder with --runs-dir (it is created if missing)",
        )
    out = Console(highlight=False)
    progress = Console(stderr=options.json_out, highlight=False, soft_wrap=True)
    plan = planned_calls(prepared)
    cost = planned_cost(prepared)
    s = prepared.spec
    if not options.quiet or options.dry_run:
        what = f"resuming {resume_dir}" if resume_dir else f"opro run {s.name}"
        progress.print(
            f"{what}: {len(prepared.splits.train)} train / "
            f"{len(prepared.splits.val)} val / {len(prepared.splits.test)} test examples\n"
            f"planned model calls (at most): {sum(plan.values())} "
            f"({', '.join(f'{k} {v}' for k, v in plan.items())})\n"
            f"planned cost: {describe_cost(prepared, cost)}",
            markup=False,
        )
    if options.dry_run:
        if options.json_out:
            typer.echo(
                json.dumps(
                    {
                        "name": s.name,
                        "planned_calls": plan,
                        "planned_cost_usd": cost.total_usd,
                        "unpriced_models": list(cost.unpriced),
                    },
                    indent=2,
                )
            )
        return

    board = Board(name=s.name, steps=s.budget.steps)
    view: Any
    if options.quiet:
        view = contextlib.nullcontext()
        listeners = []
    elif progress.is_terminal:
        view = LiveView(board, progress, time.monotonic)
        listeners = [view]
    else:
        view = PlainView(board, progress)
        listeners = [view]
    client = _client(s.concurrency, options.no_cache)
    with view:
        finished = execute(
            prepared,
            runs_dir=runs_dir,
            resume_dir=resume_dir,
            prior=prior,
            client=client,
            listeners=listeners,
            planned=cost,
        )
    summary = finished.summary

    if options.json_out:
        typer.echo(json.dumps(summary, indent=2))
    else:
        out.print(render_summary(summary))
    gate = gate_failure(summary, options.fail_under, options.min_improvement)
    gates_set = options.fail_under is not None or options.min_improvement is not None
    _append_step_summary(summary, gate, gates_set)
    if gate is not None:
        raise GateError(gate)


def _client(concurrency: int, no_cache: bool) -> ModelClient:
    from opro_cli.cache import ResponseCache, cache_dir
    from opro_cli.models.cached import CachedClient
    from opro_cli.models.litellm_client import LiteLLMClient

    client = LiteLLMClient(concurrency)
    if no_cache:
        return client
    return CachedClient(client, ResponseCache(cache_dir()))


def describe_cost(prepared: Prepared, cost: PlannedCost) -> str:
    """The planned cost as the run's first lines show it."""
    from opro_cli.models.providers import is_in_process

    s = prepared.spec
    total = cost.total_usd
    if total == 0:
        local = all(is_in_process(m) for m in (s.scorer.model, s.optimizer.model))
        return "$0 (in-process models)" if local else "$0"
    if total is not None:
        tokens = cost.scorer_tokens + cost.optimizer_tokens
        return (
            f"about {format_usd(total)} (estimate for {tokens:,} tokens: "
            f"scorer {format_usd(cost.scorer_usd)}, optimizer {format_usd(cost.optimizer_usd)})"
        )
    known = [usd for usd in (cost.scorer_usd, cost.optimizer_usd) if usd]
    rest = f"; the rest about {format_usd(sum(known))}" if known else ""
    return f"unknown (litellm has no price for {', '.join(cost.unpriced)}){rest}"


def format_usd(value: float | None) -> str:
    if value is None:
        return "unknown"
    if value == 0:
        return "$0"
    if value < 0.0001:
        return "<$0.0001"
    return f"${value:.4f}" if value < 1 else f"${value:,.2f}"


def gate_failure(
    summary: dict[str, Any], fail_under: float | None, min_improvement: float | None
) -> str | None:
    """Why the run does not pass the CI gates, in one line; None when it does."""
    test = summary["best"]["test"]
    if fail_under is not None:
        if test is None:
            return "--fail-under: the run has no test split to check"
        if test < fail_under:
            return f"--fail-under: winner's test score {test:.3f} < {fail_under:.3f}"
    if min_improvement is not None:
        imp = summary.get("improvement")
        if imp is None:
            return "--min-improvement: the run has no test split to check"
        if imp["test_delta"] < min_improvement:
            return (
                f"--min-improvement: winner beats the best seed on test by "
                f"{imp['test_delta']:+.3f} < {min_improvement:.3f}"
            )
    return None


def _append_step_summary(summary: dict[str, Any], gate: str | None, gates_set: bool) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(step_summary_markdown(summary, gate, gates_set))


def step_summary_markdown(summary: dict[str, Any], gate: str | None, gates_set: bool) -> str:
    """The run as a GitHub job summary: scores, the improvement with its interval, the gates,
    what it cost, and the winning prompt."""
    best, seed = summary["best"], summary["best_seed"]

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{value * 100:.1f}"

    lines = [
        f"### opro: {summary['name']} ({summary['status']})",
        "",
        "| prompt | train | val | test |",
        "|---|---:|---:|---:|",
        f"| best | {pct(best['train'])} | {pct(best['val'])} | {pct(best['test'])} |",
        f"| seed | {pct(seed['train'])} | {pct(seed['val'])} | {pct(seed['test'])} |",
        "",
    ]
    imp = summary.get("improvement")
    if imp is not None:
        lines += [
            f"Test improvement over the seed: **{imp['test_delta'] * 100:+.1f} points**, "
            f"{imp['ci_level'] * 100:.0f}% CI [{imp['ci_low'] * 100:+.1f}, "
            f"{imp['ci_high'] * 100:+.1f}], n={imp['n']}",
            "",
        ]
    if gate is not None:
        lines += [f"**Gate not met:** {gate}", ""]
    elif gates_set:
        lines += ["Gates met.", ""]
    usage = summary.get("usage") or {}
    if usage:
        lines += [
            f"{usage.get('calls', 0):,} model calls ({usage.get('cache_hits', 0):,} answered "
            f"from the cache, {usage.get('failed_calls', 0):,} failed), "
            f"{usage.get('tokens', 0):,} tokens, cost {format_usd(usage.get('cost_usd'))}, "
            f"{summary.get('duration_s', 0):.0f} s; run directory `{summary.get('run_dir')}`",
            "",
        ]
    longest = max((len(run) for run in re.findall(r"`+", best["text"])), default=0)
    fence = "`" * max(3, longest + 1)  # a prompt holding ``` must not end the block
    lines += ["Best prompt:", "", fence, best["text"], fence, ""]
    return "\n".join(lines) + "\n"
