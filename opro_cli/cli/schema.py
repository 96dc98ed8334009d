"""``opro schema``: the run spec's JSON Schema, for editors (YAML language server) and tools."""

from __future__ import annotations

from pathlib import Path

import typer

from opro_cli.cli.errors import report_errors


@report_errors
def schema_command(
    ctx: typer.Context,
    output: Path | None = typer.Option(None, "--output", "-o", help="Write to this file."),
    debug: bool = typer.Option(False, "--debug", help="Show full tracebacks on errors."),
) -> None:
    """Print the JSON Schema of the run spec (every key described).

    Save it beside your specs (opro schema -o opro.schema.json) and start each spec with the
    line  # yaml-language-server: $schema=opro.schema.json  for completion and checks in the
    editor.
    """
    from opro_cli.spec.schema import spec_schema_text

    text = spec_schema_text()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {output}", err=True)
