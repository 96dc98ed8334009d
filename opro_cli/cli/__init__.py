"""The ``opro`` command line: one module per command, errors turned into messages and exit codes.

Exit codes: 0 ok, 1 a CI gate was not met, 2 bad spec or input, 3 model provider or
authentication error, 70 internal error (a bug), 130 interrupted.
"""

from __future__ import annotations

import sys

import typer

from opro_cli import __version__
from opro_cli.cli import cache, doctor, export, init, promote, report, run, schema, validate
from opro_cli.interrupts import exit_on_ctrl_c

app = typer.Typer(
    name="opro",
    help="Optimize LLM prompts with OPRO: propose, score and keep better instructions.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"opro {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    ctx.obj = {"debug": debug}


app.command("init")(init.init_command)
app.command("run")(run.run_command)
app.command("resume")(run.resume_command)
app.command("validate")(validate.validate_command)
app.command("export")(export.export_command)
app.command("doctor")(doctor.doctor_command)
app.command("report")(report.report_command)
app.command("promote")(promote.promote_command)
app.command("schema")(schema.schema_command)
app.add_typer(cache.app, name="cache")


def main() -> None:
    try:
        app()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        exit_on_ctrl_c(code)
        raise
    except Exception as exc:  # a bug outside any command: a short message, traceback with --debug
        from opro_cli.cli.errors import INTERNAL_ERROR, debug_requested, print_internal_error

        if debug_requested():
            raise
        print_internal_error(exc)
        sys.exit(INTERNAL_ERROR)
