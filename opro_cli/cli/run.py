"""``opro run SPEC``: optimize a prompt, with a live leaderboard and a run directory."""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from opro_cli.cli.errors import print_warnings, report_errors
from opro_cli.cli.spec_options import ENV_FILE_OPTION, SET_OPTION, load_env_files
from opro_cli.errors import RunDirError, UsageError
from opro_cli.gates import Gates
from opro_cli.secrets import redact

if TYPE_CHECKING:
    from opro_cli.app import Prepared
    from opro_cli.core.calls import Prior
    from opro_cli.core.events import Listener
    from opro_cli.spec import RunSpec


@report_errors
def run_command(
    ctx: typer.Context,
    spec: Path | None = typer.Argument(None, help="The YAML run spec."),
    resume: Path | None = typer.Option(
        None, "--resume", help="Continue an interrupted or crashed run from its directory."
    ),
    runs_dir: Path = typer.Option(
        Path("runs"),
        "--runs-dir",
        envvar="OPRO_RUNS_DIR",
        help="Where run directories are created.",
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
        help="Exit 1 if the winner beats the best seed on test by less than this (0-1); it "
        "compares the point estimate: see --require-significant.",
    ),
    require_significant: bool = typer.Option(
        False,
        "--require-significant",
        help="Exit 1 unless the winner beats the best seed on test significantly (at "
        "selection.ci_level).",
    ),
    sets: list[str] | None = SET_OPTION,
    env_files: list[Path] | None = ENV_FILE_OPTION,
    mlflow: bool = typer.Option(
        False,
        "--mlflow",
        help="Log the run to MLflow: the spec's tracking.mlflow, else an experiment named "
        "after the spec (needs opro-cli with its mlflow extra).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Run the OPRO loop described by SPEC and write a run directory under --runs-dir."""
    from opro_cli.api import with_mlflow
    from opro_cli.app import prepare, prepare_resume

    if (spec is None) == (resume is None):
        raise UsageError("give either a run spec or --resume RUN_DIR (not both)")
    load_env_files(env_files)
    if resume is not None:
        if sets:
            raise UsageError(
                "--set does not go with --resume: a run continues with the spec it started with"
            )
        prepared, prior = prepare_resume(resume)
    else:
        assert spec is not None
        prepared, prior = prepare(spec, overrides=sets or ()), None
    if mlflow:
        prepared = with_mlflow(prepared)
    gates = Gates(fail_under, min_improvement, require_significant)
    options = RunOptions(quiet, json_out, dry_run, no_cache, gates)
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
    env_files: list[Path] | None = ENV_FILE_OPTION,
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Continue an interrupted or crashed run; calls already made are not made again."""
    from opro_cli.app import prepare_resume

    load_env_files(env_files)
    prepared, prior = prepare_resume(run_dir)
    options = RunOptions(quiet, json_out, False, no_cache)
    run_prepared(prepared, options, runs_dir=run_dir.parent, resume_dir=run_dir, prior=prior)


@dataclass(frozen=True)
class RunOptions:
    quiet: bool
    json_out: bool
    dry_run: bool
    no_cache: bool
    gates: Gates = Gates()


def run_prepared(
    prepared: Prepared,
    options: RunOptions,
    *,
    runs_dir: Path,
    resume_dir: Path | None,
    prior: Prior | None,
) -> None:
    from opro_cli.api import run
    from opro_cli.app import apply_gates
    from opro_cli.models.providers import is_in_process
    from opro_cli.pricing import describe_cost
    from opro_cli.provider_keys import check_provider_keys
    from opro_cli.ui.leaderboard import Board, LiveView, PlainView
    from opro_cli.ui.summary import render_summary

    if resume_dir is None and runs_dir.exists() and not runs_dir.is_dir():
        raise RunDirError(
            f"{runs_dir}: --runs-dir is a file, not a folder",
            hint="choose a folder with --runs-dir (it is created if missing)",
        )
    out = Console(highlight=False)
    progress = Console(stderr=options.json_out, highlight=False, soft_wrap=True)
    plan = prepared.planned_calls()
    cost = prepared.planned_cost()
    s = prepared.spec
    if not options.quiet or options.dry_run:
        what = f"resuming {resume_dir}" if resume_dir else f"opro run {s.name}"
        in_process = all(is_in_process(m) for m in (s.scorer.model, s.optimizer.model))
        progress.print(
            f"{what}: {len(prepared.splits.train)} train / "
            f"{len(prepared.splits.val)} val / {len(prepared.splits.test)} test examples\n"
            f"planned model calls (at most): {sum(plan.values())} "
            f"({', '.join(f'{k} {v}' for k, v in plan.items())})\n"
            f"planned cost: {describe_cost(cost, in_process=in_process)}",
            markup=False,
        )
        for line in deployment_lines(s):
            progress.print(line, markup=False)
    detectable = prepared.detectable_gain()
    warnings = list(prepared.splits.warnings)
    if not options.quiet or options.dry_run:
        progress.print(describe_power(len(prepared.splits.test), detectable), markup=False)
    if detectable is not None and detectable > 0.10:
        warnings.append(
            f"the test split ({len(prepared.splits.test)} examples) can only detect gains "
            f"above about {detectable * 100:.0f} points at 80% power: add test examples (about "
            "250 detect 10 points) or expect 'not significant'"
        )
    print_warnings(warnings)
    check_provider_keys(s)  # exit 3, in the dry run too: a missing secret fails before any call
    if options.dry_run:
        if options.json_out:
            typer.echo(
                json.dumps(
                    {
                        "name": s.name,
                        "planned_calls": plan,
                        "planned_cost_usd": cost.total_usd,
                        "unpriced_models": list(cost.unpriced),
                        "detectable_gain": detectable,
                    },
                    indent=2,
                )
            )
        return

    board = Board(name=s.name, steps=s.budget.steps)
    view: contextlib.AbstractContextManager[object]
    listeners: list[Listener] = []
    if options.quiet:
        view = contextlib.nullcontext()
    elif progress.is_terminal:
        live = LiveView(board, progress, time.monotonic)
        view, listeners = live, [live]
    else:
        plain = PlainView(board, progress, time.monotonic)
        view, listeners = plain, [plain]
    with view:
        finished = run(
            prepared,
            runs_dir=runs_dir,
            resume_dir=resume_dir,
            prior=prior,
            listeners=listeners,
            no_cache=options.no_cache,
            planned=cost,
        )
    print_warnings(finished.warnings)
    if finished.mlflow_run_id is not None and not options.quiet:
        progress.print(f"logged to MLflow: run {finished.mlflow_run_id}", markup=False)
    summary = finished.summary
    if options.json_out:
        typer.echo(redact(json.dumps(summary.to_json(), indent=2)))
    else:
        out.print(render_summary(summary))
    apply_gates(summary, options.gates, os.environ)


def describe_power(n_test: int, detectable: float | None) -> str:
    if n_test == 0:
        return "no test split: the winner is not compared with the seed on unseen examples"
    if detectable is None:
        return f"test split: {n_test} examples, too few to detect any gain"
    return (
        f"test split: {n_test} examples; at 80% power it detects gains of about "
        f"{detectable * 100:.0f} points"
    )


def deployment_lines(spec: RunSpec) -> list[str]:
    """One line per model with deployments: how its calls are spread, and their limits."""
    models = spec.models_by_role
    lines = []
    for role, names in spec.deployment_names().items():
        limit = models[role].call_params().parallel_limit
        at_once = f", at most {limit} calls at once" if limit is not None else ""
        lines.append(
            f"{role} {models[role].model}: spread over {len(names)} deployments "
            f"({', '.join(names)}){at_once}"
        )
    return lines
