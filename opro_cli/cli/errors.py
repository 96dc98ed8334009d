"""Turn opro's errors into a short message on stderr and an exit code (tracebacks with --debug)."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click
import typer
from rich.console import Console
from rich.markup import escape

from opro_cli.errors import OproError, RunInterrupted
from opro_cli.interrupts import ctrl_c_ignored
from opro_cli.secrets import redact

INTERNAL_ERROR = 70

F = TypeVar("F", bound=Callable[..., Any])


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def debug_requested() -> bool:
    """Whether ``--debug`` was given, before the command (``opro --debug run``) or after it
    (``opro run --debug``); outside a command, whether it is on the command line."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "--debug" in sys.argv[1:]
    while ctx is not None:
        if ctx.params.get("debug") or (isinstance(ctx.obj, dict) and ctx.obj.get("debug")):
            return True
        ctx = ctx.parent
    return False


def report_errors(func: F) -> F:
    """Run a command; print an expected failure as one short message and exit with its code;
    a bug as one short message and exit 70. ``--debug`` shows the traceback instead."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OproError as exc:
            if debug_requested():
                raise
            with ctrl_c_ignored():
                print_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            # A Ctrl-C outside a run's own handling (loading data, or a press that lands while an
            # interrupted run's message is on its way out): exit 130 like any interruption, not
            # click's "Aborted!" with exit 1, which a pipeline would read as a failed gate.
            if debug_requested():
                raise
            context = exc.__context__
            if isinstance(context, RunInterrupted):
                interrupted = context
            else:
                interrupted = RunInterrupted("interrupted")
            with ctrl_c_ignored():
                print_error(interrupted)
            raise typer.Exit(interrupted.exit_code) from None
        except (typer.Exit, typer.Abort, click.ClickException):
            raise
        except Exception as exc:  # a bug in opro: a short message, the traceback with --debug
            if debug_requested():
                raise
            print_internal_error(exc)
            raise typer.Exit(INTERNAL_ERROR) from None

    return wrapper  # type: ignore[return-value]


def print_internal_error(exc: Exception) -> None:
    stderr_console().print(
        f"internal error: {type(exc).__name__}: {redact(str(exc))}\n"
        "This is a bug in opro. Run the same command with --debug for the traceback "
        "and please report it.",
        markup=False,
    )


def print_error(exc: OproError) -> None:
    console = stderr_console()
    lines = redact(exc.message).splitlines() or [type(exc).__name__]
    console.print(f"[bold red]error:[/] {escape(lines[0])}", markup=True)
    for line in lines[1:]:
        console.print(f"  {line}", markup=False)
    if exc.hint:
        console.print(f"[bold]fix:[/] {escape(redact(exc.hint))}")
    if exc.run_dir is not None:
        console.print(f"run directory (marked failed): {exc.run_dir}", markup=False)


def print_warnings(warnings: Sequence[str]) -> None:
    """Each warning on stderr, whatever the output mode (a warning is never only in a log)."""
    console = stderr_console()
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}", markup=True)
