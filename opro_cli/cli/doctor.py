"""``opro doctor``: what opro can use here: keys present (names only), local model, versions."""

from __future__ import annotations

import os
import platform

import typer
from rich.console import Console
from rich.table import Table

from opro_cli import __version__
from opro_cli.cli.errors import report_errors

PROVIDER_KEYS = {
    "OpenAI": "OPENAI_API_KEY",
    "Anthropic": "ANTHROPIC_API_KEY",
    "Gemini": "GEMINI_API_KEY",
    "Mistral": "MISTRAL_API_KEY",
    "Groq": "GROQ_API_KEY",
    "Together AI": "TOGETHERAI_API_KEY",
    "OpenRouter": "OPENROUTER_API_KEY",
    "Azure OpenAI": "AZURE_API_KEY",
    "Cohere": "COHERE_API_KEY",
    "DeepSeek": "DEEPSEEK_API_KEY",
}


@report_errors
def doctor_command(
    load: bool = typer.Option(True, "--load/--no-load", help="Load the local model once."),
) -> None:
    """Show which providers have keys (names only), whether the local model works, versions."""
    from opro_cli.models.local import local_model_status
    from opro_cli.store import package_version  # store imports pydantic/pandas: not at start-up

    console = Console(highlight=False)
    console.print(
        f"opro {__version__}, litellm {package_version('litellm') or 'not installed'}, "
        f"Python {platform.python_version()}",
        markup=False,
    )
    keys = Table(title="API keys in the environment (values never shown)", title_justify="left")
    keys.add_column("provider")
    keys.add_column("variable")
    keys.add_column("set")
    for provider, name in PROVIDER_KEYS.items():
        keys.add_row(provider, name, "yes" if os.environ.get(name) else "no")
    console.print(keys)
    status = local_model_status(load=load)
    local = Table(title="Embedded local model", title_justify="left", show_header=False)
    local.add_column("what")
    local.add_column("value")
    for key, value in status.items():
        local.add_row(str(key), str(value))
    console.print(local)
