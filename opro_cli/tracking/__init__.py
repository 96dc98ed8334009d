"""Links to experiment tracking and prompt management: MLflow (the optional ``[mlflow]`` extra).

``mlflow_run.MlflowRun`` logs an opro run as an MLflow run while it goes (an event listener and an
end-of-run hook); ``mlflow_prompts.register_winner`` puts a finished run's winning prompt into
MLflow's Prompt Registry. Only these modules import mlflow, and only when used.
"""

from __future__ import annotations

from typing import Any

from opro_cli.errors import UsageError

INSTALL_HINT = "pip install 'opro-cli[mlflow]' (or pip install mlflow-skinny)"


def import_mlflow() -> Any:
    """The mlflow package, or ``UsageError`` saying how to install it."""
    try:
        import mlflow
    except ImportError:
        raise UsageError("MLflow tracking needs the mlflow package", hint=INSTALL_HINT) from None
    return mlflow
