"""Turn opro's errors into a short message on stderr and an exit code (tracebacks with --debug)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from opro_cli.errors import OproError, RunInterrupted
from opro_cli.interrupts import ctrl_c_ignored

F = TypeVar("F", bound=Callable[..., Any])


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def is_debug(ctx: typer.Context | None, local: bool = False) -> bool:
    if local:
        return True
    return bool(ctx is not None and ctx.obj and ctx.obj.get("debug"))


def report_errors(func: F) -> F:
    """Run a command; print an expected failure as one short message and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx = next((v for v in kwargs.values() if isinstance(v, typer.Context)), None)
        debug = is_debug(ctx, bool(kwargs.get("debug")))
        try:
            return func(*args, **kwargs)
        except OproError as exc:
            if debug:
                raise
            with ctrl_c_ignored():
                print_error(exc)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt as exc:
            # A Ctrl-C outside a run's own handling (loading data, or a press that lands while an
            # interrupted run's message is on its way out): exit 130 like any interruption, not
            # click's "Aborted!" with exit 1, which a pipeline would read as a failed gate.
            if debug:
                raise
            context = exc.__context__
            if isinstance(context, RunInterrupted):
                interrupted = context
            else:
                interrupted = RunInterrupted("interrupted")
            with ctrl_c_ignored():
                print_error(interrupted)
            raise typer.Exit(interrupted.exit_code) from None

    return wrapper  # type: ignore[return-value]


def print_error(exc: OproError) -> None:
    console = stderr_console()
    lines = exc.message.splitlines() or [type(exc).__name__]
    console.print(f"[bold red]error:[/] {lines[0]}", markup=True)
    for line in lines[1:]:
        console.print(f"  {line}", markup=False)
    if exc.hint:
        console.print(f"[bold]fix:[/] {exc.hint}")
    if exc.run_dir is not None:
        console.print(f"run directory (marked failed): {exc.run_dir}", markup=False)
