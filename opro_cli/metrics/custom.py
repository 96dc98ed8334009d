"""A custom metric: the user's Python function, loaded from a file, its parameters filled by
name from the example."""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opro_cli.errors import MetricError
from opro_cli.metrics.base import (
    MISSING,
    USAGE,
    ExampleLike,
    Metric,
    MetricExample,
    ScoreFn,
    on_example,
    one_line_error,
)

# ---------------------------------------------------------------------------------------------
# python: a user's function

_PARTS = ("example", "target", "input", "options", "id", "fields")


def load_python(reference: str) -> Metric:
    file, _, name = reference.rpartition(":")
    path = Path(file)
    usage = USAGE.format(name=name)
    if not path.is_file():
        raise MetricError(f"{path}: file not found", hint="check metric.python: FILE.py:FUNCTION")
    module_name = "_opro_metric_" + hashlib.sha256(str(path).encode()).hexdigest()[:16]
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise MetricError(f"{path}: not a Python file", hint="give a .py file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up here
    try:
        loader_spec.loader.exec_module(module)
    except SyntaxError as exc:
        del sys.modules[module_name]
        where = f"{path}:{exc.lineno}" if exc.lineno else str(path)
        raise MetricError(f"{where}: syntax error ({exc.msg})", hint="fix the file") from None
    except (Exception, SystemExit) as exc:  # user code at import time can raise anything
        del sys.modules[module_name]
        problem = f"{path}: importing it raised {one_line_error(exc)}"
        raise MetricError(problem, hint="fix the file") from None

    fn = getattr(module, name, None)
    where = f"{path}: function '{name}'"
    if fn is None:
        raise MetricError(f"{where} not found", hint=usage)
    if not callable(fn):
        raise MetricError(f"{where} is not callable (found {type(fn).__name__})", hint=usage)
    call = _binding(fn, where, usage)
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an object whose __call__ is async
    )
    return Metric("python", where, call, is_async=is_async, user_code=True)


@dataclass(frozen=True)
class _Param:
    name: str
    source: str  # "prediction", one of _PARTS, or "column"
    positional: bool
    required: bool


def _binding(fn: Callable[..., Any], where: str, usage: str) -> ScoreFn:
    """How to call a user's function with one answer and its example.

    The parameter named ``prediction``, else the first positional one, gets the prediction.
    Every other parameter is filled by its name: ``example`` (a ``MetricExample``), ``target``,
    ``input``, ``options``, ``id``, ``fields`` (the row's columns), or a column of the row;
    one with a default keeps it when the row has no such column. One exception keeps
    ``def score(pred, gold)`` working: a second positional parameter with any other name gets
    the target. ``*args`` and ``**kwargs`` get nothing.
    """
    try:
        signature = inspect.signature(fn)
    except ValueError:  # no signature to inspect (some builtins): the old two-argument call
        return lambda prediction, example: fn(prediction, example.target)
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [
        p
        for p in signature.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    names = [p.name for p in params]
    positional = [p for p in params if p.kind in kinds]
    if "prediction" in names:
        prediction = names.index("prediction")
    elif positional:
        prediction = names.index(positional[0].name)
    else:
        raise MetricError(f"{where} cannot take (prediction, target)", hint=usage)
    plan: list[_Param] = []
    for i, p in enumerate(params):
        if i == prediction:
            source = "prediction"
        elif p.name in _PARTS:
            source = p.name
        elif i == 1 and prediction == 0 and p.kind in kinds:
            source = "target"  # def score(pred, gold): the old call
        else:
            source = "column"
        required = p.default is inspect.Parameter.empty
        plan.append(_Param(p.name, source, p.kind in kinds, required))
    if not any(p.source in ("target", "example") for p in plan) and not any(
        p.source != "prediction" and p.required for p in plan
    ):
        # Only the prediction (def score(prediction)): a metric must see what is right.
        raise MetricError(f"{where} cannot take (prediction, target)", hint=usage)
    steps = tuple(plan)
    takes_example = any(p.source in ("example", "fields", "column") for p in steps)

    def call(prediction: str, example: ExampleLike) -> Any:
        view = MetricExample.of(example) if takes_example else None
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        gap = False
        for step in steps:
            value = _fill(step, prediction, example, view)
            if value is MISSING:
                if step.required:
                    raise MetricError(
                        f"{on_example(where, example.id)}: parameter '{step.name}' is not "
                        f"prediction, {', '.join(_PARTS)} or a column of the row",
                        hint="rename the parameter, give it a default, or add the column",
                    )
                gap = gap or step.positional
                continue
            if step.positional and not gap:
                args.append(value)
            else:
                kwargs[step.name] = value
        return fn(*args, **kwargs)

    return call


def _fill(step: _Param, prediction: str, example: ExampleLike, view: MetricExample | None) -> Any:
    if step.source == "prediction":
        return prediction
    if step.source == "target":
        return example.target
    if step.source == "input":
        return example.input
    if step.source == "id":
        return example.id
    if step.source == "options":
        return tuple(example.options) if example.options is not None else None
    assert view is not None  # built for every source below
    if step.source == "example":
        return view
    if step.source == "fields":
        return view.fields
    return view.fields.get(step.name, MISSING)
