"""``opro promote RUN --to FILE``: write the winner into the prompt file if it beat that prompt."""

from __future__ import annotations

from pathlib import Path

import typer

from opro_cli.cli.errors import report_errors
from opro_cli.gates import Gates
from opro_cli.secrets import redact


@report_errors
def promote_command(
    ctx: typer.Context,
    run_dir: Path = typer.Argument(..., help="The run directory."),
    to: Path = typer.Option(
        ...,
        "--to",
        help="The prompt file the run's seed was read from (seed_prompts: [{file: ...}]); "
        "the winner replaces its content.",
    ),
    fail_under: float | None = typer.Option(
        None, "--fail-under", help="Also require the winner's test score (0-1) to reach this."
    ),
    min_improvement: float | None = typer.Option(
        None,
        "--min-improvement",
        help="Also require the winner to beat the file's prompt on test by this much (0-1).",
    ),
    check: bool = typer.Option(
        False, "--check", help="Check the gates and print the body; write nothing."
    ),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Write the winner of RUN_DIR into --to when it beats the prompt in that file significantly
    on test (exit 1 and one line why otherwise; the file is left as it is), and print a
    Markdown body for a pull request."""
    from opro_cli.promote import check_promotion, promote
    from opro_cli.report.render_md import pull_request_markdown

    gates = Gates(fail_under, min_improvement)
    done = check_promotion(run_dir, to, gates) if check else promote(run_dir, to, gates)
    body = pull_request_markdown(
        done.summary,
        done.seed,
        done.improvement,
        target=str(to),
        scorer=done.manifest.scorer,
        optimizer=done.manifest.optimizer,
    )
    typer.echo(redact(body), nl=False)
    typer.echo(f"{'would write' if check else 'wrote'} the winner to {to}", err=True)
