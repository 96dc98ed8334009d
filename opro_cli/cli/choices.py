"""Fixed choices of command-line options, as enums: Typer checks them, lists them in --help and
completes them in the shell."""

from __future__ import annotations

from enum import Enum


class ReportFormat(str, Enum):
    table = "table"
    md = "md"
    json = "json"
    html = "html"


class ExportFormat(str, Enum):
    txt = "txt"
    json = "json"
    yaml = "yaml"
    promptfoo = "promptfoo"


class ExportTarget(str, Enum):
    mlflow = "mlflow"
