"""``opro run SPEC``: optimize a prompt, with a live leaderboard and a run directory."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from opro_cli.cli.errors import report_errors
from opro_cli.errors import GateError


@report_errors
def run_command(
    ctx: typer.Context,
    spec: Path = typer.Argument(..., help="The YAML run spec."),
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
    from opro_cli.app import execute, planned_calls, prepare
    from opro_cli.models.litellm_client import LiteLLMClient
    from opro_cli.ui.leaderboard import Board, LiveView, PlainView
    from opro_cli.ui.summary import render_summary

    out = Console(highlight=False)
    progress = Console(stderr=json_out, highlight=False, soft_wrap=True)
    prepared = prepare(spec)
    plan = planned_calls(prepared)
    s = prepared.spec
    if not quiet:
        progress.print(
            f"opro run {s.name}: {len(prepared.splits.train)} train / "
            f"{len(prepared.splits.val)} val / {len(prepared.splits.test)} test examples\n"
            f"planned model calls (at most): {sum(plan.values())} "
            f"({', '.join(f'{k} {v}' for k, v in plan.items())}); "
            f"cost: {_planned_cost(s.scorer.model, s.optimizer.model)}",
            markup=False,
        )
    if dry_run:
        return

    board = Board(name=s.name, steps=s.budget.steps)
    view: Any
    if quiet:
        view = None
    elif progress.is_terminal:
        view = LiveView(board, progress, time.monotonic)
    else:
        view = PlainView(board, progress)
    client = LiteLLMClient(s.concurrency)
    if view is None:
        finished = execute(prepared, runs_dir=runs_dir, client=client)
    else:
        with view:
            finished = execute(prepared, runs_dir=runs_dir, client=client, listeners=[view])
    summary = finished.summary

    if json_out:
        typer.echo(json.dumps(summary, indent=2))
    else:
        out.print(render_summary(summary))
    _append_step_summary(summary)
    _check_gates(summary, fail_under, min_improvement)


def _planned_cost(*models: str) -> str:
    from opro_cli.models.providers import is_in_process

    if all(is_in_process(m) for m in models):
        return "$0 (in-process models)"
    return "unknown before the run (tracked as it goes)"


def _check_gates(
    summary: dict[str, Any], fail_under: float | None, min_improvement: float | None
) -> None:
    test = summary["best"]["test"]
    if fail_under is not None:
        if test is None:
            raise GateError("--fail-under: the run has no test split to check")
        if test < fail_under:
            raise GateError(f"--fail-under: winner's test score {test:.3f} < {fail_under:.3f}")
    if min_improvement is not None:
        imp = summary.get("improvement")
        if imp is None:
            raise GateError("--min-improvement: the run has no test split to check")
        if imp["test_delta"] < min_improvement:
            raise GateError(
                f"--min-improvement: winner beats the best seed on test by "
                f"{imp['test_delta']:+.3f} < {min_improvement:.3f}"
            )


def _append_step_summary(summary: dict[str, Any]) -> None:
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
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
        "Best prompt:",
        "",
        "```",
        best["text"],
        "```",
        "",
    ]
    with open(target, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
