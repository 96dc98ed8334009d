"""opro: optimize LLM prompts with OPRO (Optimization by PROmpting, Yang et al. 2023).

The Python API (``opro_cli.api``)::

    from opro_cli import optimize

    summary = optimize("opro.yaml", overrides=["budget.steps=2"])
    print(summary.best.text, summary.best.test)

Its names are loaded on first use, so ``import opro_cli`` (and every ``opro`` command) stays
fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from opro_cli.api import load_spec, optimize, resume
    from opro_cli.errors import OproError
    from opro_cli.rundir import Summary
    from opro_cli.spec import RunSpec

__all__ = ["OproError", "RunSpec", "Summary", "__version__", "load_spec", "optimize", "resume"]

_HOMES = {
    "optimize": "opro_cli.api",
    "resume": "opro_cli.api",
    "load_spec": "opro_cli.api",
    "RunSpec": "opro_cli.spec",
    "Summary": "opro_cli.rundir",
    "OproError": "opro_cli.errors",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'opro_cli' has no attribute {name!r}")
