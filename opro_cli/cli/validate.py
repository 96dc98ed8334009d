"""``opro validate SPEC``: check a run spec and its dataset without calling any model."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from opro_cli.cli.errors import print_warnings, report_errors
from opro_cli.cli.spec_options import ENV_FILE_OPTION, SET_OPTION, load_env_files


@report_errors
def validate_command(
    ctx: typer.Context,
    spec: Path = typer.Argument(..., help="The YAML run spec to check."),
    sets: list[str] | None = SET_OPTION,
    env_files: list[Path] | None = ENV_FILE_OPTION,
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Check a run spec, its dataset and its metric; makes no model call."""
    from opro_cli.app import prepare

    load_env_files(env_files)
    prepared = prepare(spec, overrides=sets or ())
    s, splits = prepared.spec, prepared.splits
    plan = prepared.planned_calls()
    console = Console(highlight=False)
    console.print(f"{spec}: ok", markup=False)
    console.print(
        f"  dataset: {len(splits.train)} train / {len(splits.val)} val / {len(splits.test)} test",
        markup=False,
    )
    console.print(f"  metric: {s.metric.name}   scorer: {s.scorer.model}", markup=False)
    console.print(
        f"  optimizer: {s.optimizer.model}   steps: {s.budget.steps} x "
        f"{s.optimizer.candidates_per_step} candidates",
        markup=False,
    )
    console.print(f"  planned model calls (at most): {sum(plan.values())}", markup=False)
    print_warnings(splits.warnings)
