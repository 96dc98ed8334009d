"""``opro export RUN``: the winning prompt as text, JSON, YAML or a promptfoo config."""

from __future__ import annotations

from pathlib import Path

import typer

from opro_cli.cli.errors import report_errors
from opro_cli.errors import UsageError


@report_errors
def export_command(
    ctx: typer.Context,
    run_dir: Path = typer.Argument(..., help="The run directory."),
    fmt: str = typer.Option("txt", "--format", "-f", help="txt, json, yaml or promptfoo."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Export the winning prompt of a finished run."""
    from opro_cli.export import FORMATS, export_run

    if fmt not in FORMATS:
        raise UsageError(
            f"--format: unknown format '{fmt}'", hint=f"use one of {', '.join(FORMATS)}"
        )
    text = export_run(run_dir, fmt)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
