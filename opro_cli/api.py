"""opro from Python: what ``opro run`` does, as functions that return the typed summary.

    from opro_cli import load_spec, optimize

    summary = optimize("demo/opro.yaml", overrides=["budget.steps=2"])  # opro init demo
    print(summary.best.text, summary.best.test, summary.run_dir)

``optimize`` takes a spec file or a ``RunSpec`` (``load_spec`` reads one, with ``${VAR}``
interpolation and ``--set`` style overrides), writes the same run directory as the CLI, and
returns ``rundir.Summary``. Errors are ``opro_cli.errors.OproError`` subclasses with the message
the CLI would print. The CLI's ``run`` and ``resume`` commands go through ``run`` below.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from opro_cli.app import Prepared, build_client, execute, prepare, prepare_resume, prepare_spec
from opro_cli.core.calls import Prior
from opro_cli.core.events import Listener
from opro_cli.errors import OproError, RunInterrupted, UsageError
from opro_cli.models.base import ModelClient
from opro_cli.pricing import PlannedCost
from opro_cli.rundir import Summary
from opro_cli.spec import MlflowSpec, RunSpec, load_spec, resolve_paths

RUNS_DIR_ENV = "OPRO_RUNS_DIR"

__all__ = ["RunResult", "default_runs_dir", "load_spec", "optimize", "resume", "run"]


@dataclass(frozen=True)
class RunResult:
    """A finished run: its directory and summary, the MLflow run that logged it (if any), and
    warnings (a tracking call that failed while the run went on)."""

    run_dir: Path
    summary: Summary
    mlflow_run_id: str | None = None
    warnings: tuple[str, ...] = ()


def default_runs_dir(environ: Mapping[str, str] | None = None) -> Path:
    """``$OPRO_RUNS_DIR``, else ``runs`` (in the working folder)."""
    env = os.environ if environ is None else environ
    return Path(env[RUNS_DIR_ENV]) if env.get(RUNS_DIR_ENV) else Path("runs")


def optimize(
    spec: str | Path | RunSpec,
    *,
    overrides: Sequence[str] = (),
    runs_dir: str | Path | None = None,
    cache: bool = True,
    mlflow: bool = False,
    client: ModelClient | None = None,
    listeners: Sequence[Listener] = (),
) -> Summary:
    """Run the optimization a spec describes and return its summary.

    ``spec``: a YAML file, or a ``RunSpec`` (its relative paths are taken from the working
    folder). ``overrides``: ``path.to.key=value`` items, as ``--set`` (files only).
    ``runs_dir``: default ``$OPRO_RUNS_DIR`` or ``runs``. ``cache``: use the response cache.
    ``mlflow``: log to MLflow (experiment: the spec's, else its name). ``client``: a
    ``ModelClient`` instead of LiteLLM (tests, custom transports). ``listeners``: called with
    every ``core.events`` event.
    """
    if isinstance(spec, RunSpec):
        if overrides:
            raise UsageError(
                "optimize: overrides apply to spec files",
                hint="change a RunSpec with spec.model_copy(update={...})",
            )
        prepared = prepare_spec(resolve_paths(spec, Path.cwd()))
    else:
        prepared = prepare(Path(spec), overrides=overrides)
    if mlflow:
        prepared = with_mlflow(prepared)
    result = run(
        prepared,
        runs_dir=Path(runs_dir) if runs_dir is not None else default_runs_dir(),
        client=client,
        listeners=listeners,
        no_cache=not cache,
    )
    return result.summary


def resume(
    run_dir: str | Path,
    *,
    cache: bool = True,
    client: ModelClient | None = None,
    listeners: Sequence[Listener] = (),
) -> Summary:
    """Continue an interrupted or crashed run; the calls it already made are not made again."""
    path = Path(run_dir)
    prepared, prior = prepare_resume(path)
    result = run(
        prepared,
        runs_dir=path.parent,
        resume_dir=path,
        prior=prior,
        client=client,
        listeners=listeners,
        no_cache=not cache,
    )
    return result.summary


def with_mlflow(prepared: Prepared, experiment: str | None = None) -> Prepared:
    """Turn MLflow tracking on: the spec's own settings, else ``experiment`` or the spec's name
    (kept in the run's config.yaml, so a resumed run is logged too)."""
    spec = prepared.spec
    if spec.tracking.mlflow is not None and experiment is None:
        return prepared
    current = spec.tracking.mlflow
    settings = MlflowSpec(
        experiment=experiment if experiment is not None else spec.name,
        tracking_uri=current.tracking_uri if current is not None else None,
    )
    tracking = spec.tracking.model_copy(update={"mlflow": settings})
    return replace(prepared, spec=spec.model_copy(update={"tracking": tracking}))


def run(
    prepared: Prepared,
    *,
    runs_dir: Path,
    resume_dir: Path | None = None,
    prior: Prior | None = None,
    client: ModelClient | None = None,
    listeners: Sequence[Listener] = (),
    no_cache: bool = False,
    planned: PlannedCost | None = None,
) -> RunResult:
    """The engine of ``opro run``/``opro resume`` and of ``optimize``: the model client (with the
    spec's LiteLLM callbacks), MLflow tracking when the spec asks for it, then ``app.execute``."""
    spec = prepared.spec
    if client is None:
        from opro_cli.models.litellm_client import check_callbacks

        check_callbacks(spec.callbacks)
        client = build_client(spec.concurrency, no_cache=no_cache, callbacks=spec.callbacks)
    tracker = None
    if spec.tracking.mlflow is not None:
        from opro_cli.tracking.mlflow_run import MlflowRun

        tracker = MlflowRun(spec.tracking.mlflow, spec)
        listeners = [*listeners, tracker]
    try:
        finished = execute(
            prepared,
            runs_dir=runs_dir,
            resume_dir=resume_dir,
            prior=prior,
            client=client,
            listeners=listeners,
            planned=planned,
        )
    except OproError as exc:
        if tracker is not None:
            tracker.fail(
                "interrupted" if isinstance(exc, RunInterrupted) else "failed", exc.run_dir
            )
        raise
    except BaseException:
        if tracker is not None:
            tracker.fail("failed", None)
        raise
    if tracker is None:
        return RunResult(finished.run_dir, finished.summary)
    tracker.finish(finished.summary, finished.run_dir)
    return RunResult(finished.run_dir, finished.summary, tracker.run_id, tuple(tracker.warnings))
