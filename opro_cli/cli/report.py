"""``opro report [RUN ...]``: compare past runs as a table, Markdown, JSON or an HTML page."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from opro_cli.cli.choices import ReportFormat
from opro_cli.cli.errors import report_errors, stderr_console
from opro_cli.errors import RunDirError, UsageError

if TYPE_CHECKING:
    from opro_cli.report.compare import Report


@report_errors
def report_command(
    ctx: typer.Context,
    runs: list[str] | None = typer.Argument(
        None,
        help="Runs to show in detail: a run directory, a folder name under --runs-dir, or a "
        "unique prefix or suffix of one. Without any: list every run.",
        show_default=False,
    ),
    runs_dir: Path = typer.Option(
        Path("runs"),
        "--runs-dir",
        envvar="OPRO_RUNS_DIR",
        help="The folder that holds the run directories.",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Only runs whose name matches (a glob, e.g. 'tickets*')."
    ),
    since: str | None = typer.Option(
        None,
        "--since",
        help="Only runs started since a date (2025-01-31), a UTC time (2025-01-31T12:00) or "
        "an age (30m, 12h, 7d, 2w).",
    ),
    status: list[str] | None = typer.Option(
        None,
        "--status",
        help="Only runs with this status: running, completed, budget_exhausted, failed, "
        "interrupted (repeat or comma-separate).",
    ),
    last: int | None = typer.Option(None, "--last", help="Only the N newest runs (after filters)."),
    format_choice: ReportFormat = typer.Option(
        ReportFormat.table, "--format", "-f", help="What to write."
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the report to this file instead of stdout."
    ),
    top: int = typer.Option(5, "--top", help="How many top candidates to show per run."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Compare past runs: a table of every run, or details side by side for the RUNs given."""
    from opro_cli.cli.arguments import parse_since, parse_statuses, resolve_run
    from opro_cli.report.collect import collect_report
    from opro_cli.report.reader import RunFilter

    fmt = format_choice.value
    if last is not None and last < 1:
        raise UsageError("--last: must be 1 or more")
    if top < 0:
        raise UsageError("--top: must be 0 or more")
    run_filter = RunFilter(
        name=name,
        since=parse_since(since, datetime.now(timezone.utc)) if since is not None else None,
        statuses=parse_statuses(status or ()),
        last=last,
    )
    if runs and run_filter.active:
        raise UsageError(
            "--name, --since, --status and --last filter the listing, not the RUNs given",
            hint="drop the filters, or drop the RUN arguments",
        )
    paths = [resolve_run(arg, runs_dir) for arg in runs or ()]
    report = collect_report(runs_dir, paths, run_filter=run_filter, charts=fmt == "html", top=top)

    errors = stderr_console()
    for warning in report.warnings:
        errors.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)
    for note in report.notes:
        errors.print(f"note: {note}", markup=False)

    text = _render(report, fmt, output)
    if output is None:
        if text is not None:
            typer.echo(text, nl=False)
        return
    try:
        output.write_text(text or "", encoding="utf-8")
    except OSError as exc:
        raise RunDirError(
            f"{output}: cannot write the report ({exc.strerror})", hint="choose another --output"
        ) from None
    errors.print(f"wrote {output}", markup=False)


def _render(report: Report, fmt: str, output: Path | None) -> str | None:
    """The report as text; the table goes straight to the terminal when there is no --output."""
    if fmt == "md":
        from opro_cli.report.render_md import render_markdown

        return render_markdown(report)
    if fmt == "json":
        from opro_cli.report.render_json import render_json

        return render_json(report)
    if fmt == "html":
        from opro_cli.report.render_html import render_html

        return render_html(report)
    from opro_cli.report.render_table import render_report

    renderable = render_report(report)
    if output is None:
        Console(highlight=False).print(renderable)
        return None
    console = Console(record=True, width=160, color_system=None, file=io.StringIO())
    console.print(renderable)
    return console.export_text()
