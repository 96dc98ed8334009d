"""``opro cache stats|clear``: look at or empty the response cache."""

from __future__ import annotations

import typer
from rich.console import Console

from opro_cli.cli.errors import report_errors

app = typer.Typer(help="Inspect or clear the response cache.", no_args_is_help=True)


@app.command("stats")
@report_errors
def stats_command() -> None:
    """Where the cache is, how many responses it holds, and for which models."""
    from opro_cli.cache import ResponseCache, cache_dir

    cache = ResponseCache(cache_dir())
    info = cache.stats()
    cache.close()
    console = Console(highlight=False)
    console.print(f"cache: {info['path']}", markup=False)
    console.print(f"entries: {info['entries']}  size: {info['bytes'] / 1e6:.2f} MB", markup=False)
    for model, count in info["models"].items():
        console.print(f"  {model}: {count}", markup=False)


@app.command("clear")
@report_errors
def clear_command() -> None:
    """Delete every cached response."""
    from opro_cli.cache import ResponseCache, cache_dir

    cache = ResponseCache(cache_dir())
    removed = cache.clear()
    cache.close()
    Console(highlight=False).print(f"removed {removed} cached responses", markup=False)
