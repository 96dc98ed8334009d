"""Options shared by the commands that read a spec: ``--set`` and ``--env-file``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import typer

SET_OPTION = typer.Option(
    None,
    "--set",
    metavar="KEY=VALUE",
    help="Change a spec value: path.to.key=value, the value read as YAML "
    "(--set budget.steps=3 --set scorer.model=openai/gpt-4o-mini); repeatable.",
)
ENV_FILE_OPTION = typer.Option(
    None,
    "--env-file",
    help="Load environment variables from this dotenv file first (variables already set "
    "win); repeatable. No .env file is ever read without it.",
)


def load_env_files(paths: Sequence[Path] | None) -> list[str]:
    """Load each file into this process's environment; the names set (never the values)."""
    from opro_cli.envfile import load_env_file

    loaded: list[str] = []
    for path in paths or ():
        loaded += load_env_file(path, os.environ)
    return loaded
