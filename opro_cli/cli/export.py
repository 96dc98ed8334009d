"""``opro export RUN``: the winning prompt as text, JSON, YAML or a promptfoo config, or into
MLflow's Prompt Registry (``--to mlflow``)."""

from __future__ import annotations

from pathlib import Path

import typer

from opro_cli.cli.choices import ExportFormat, ExportTarget
from opro_cli.cli.errors import report_errors
from opro_cli.errors import UsageError


@report_errors
def export_command(
    ctx: typer.Context,
    run_dir: Path = typer.Argument(..., help="The run directory."),
    fmt: ExportFormat = typer.Option(ExportFormat.txt, "--format", "-f", help="What to write."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
    to: ExportTarget | None = typer.Option(
        None,
        "--to",
        help="Register the prompt elsewhere instead: mlflow (its Prompt Registry, with the "
        "scores and run ids as tags; needs opro-cli with its mlflow extra).",
    ),
    name: str | None = typer.Option(
        None, "--name", help="With --to mlflow: the prompt's name (default: the spec's name)."
    ),
    mlflow_uri: str | None = typer.Option(
        None,
        "--mlflow-uri",
        help="With --to mlflow: the tracking URI (default: the run's tracking.mlflow."
        "tracking_uri, else MLFLOW_TRACKING_URI).",
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Export the winning prompt of a finished run."""
    if to is None:
        if name is not None or mlflow_uri is not None:
            raise UsageError("--name and --mlflow-uri go with --to mlflow")
        from opro_cli.export import export_run

        text = export_run(run_dir, fmt.value)
        if output is None:
            typer.echo(text, nl=False)
        else:
            output.write_text(text, encoding="utf-8")
            typer.echo(f"wrote {output}", err=True)
        return
    if output is not None:
        raise UsageError("--output does not go with --to mlflow (the prompt goes to MLflow)")
    from opro_cli.tracking.mlflow_prompts import register_winner

    registered = register_winner(run_dir, name=name, tracking_uri=mlflow_uri)
    linked = (
        f", linked to MLflow run {registered.mlflow_run_id}" if registered.mlflow_run_id else ""
    )
    typer.echo(
        f"registered {registered.uri} (prompt {registered.name}, version "
        f"{registered.version}{linked})"
    )
