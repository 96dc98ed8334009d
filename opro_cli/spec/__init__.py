"""The YAML run spec: a frozen pydantic schema and ``load_spec(path) -> RunSpec``.

Every problem becomes one ``SpecError`` naming the file, the line (where YAML gives it), the field
and the fix. Relative paths resolve against the folder of the YAML file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from opro_cli.core.parse import ParseMode
from opro_cli.secrets import find_secret, redact_tree
from opro_cli.spec.interpolate import interpolate
from opro_cli.spec.metric import MetricName, MetricSpec
from opro_cli.spec.models import (
    Credential,
    JudgeSpec,
    ModelSpec,
    OptimizerSpec,
    ScorerSpec,
    credential_error,
    describe_finding,
    leaves,
)
from opro_cli.spec.overrides import apply_overrides, parse_override
from opro_cli.spec.sections import (
    DEFAULT_LOCAL_MODEL,
    NAME_RE,
    BudgetSpec,
    DatasetSpec,
    EvaluationSpec,
    Frozen,
    InstructionPosition,
    SelectionSpec,
    SplitSpec,
)
from opro_cli.spec.seeds import (
    SeedFile,
    SeedPrompt,
    check_production_flags,
    production_seed,
    read_seed_files,
    seed_text,
)
from opro_cli.spec.tracking import MlflowSpec, TrackingSpec, check_callbacks
from opro_cli.spec.yamlfile import parse_yaml, read_yaml, validation_error

__all__ = [
    "DEFAULT_LOCAL_MODEL",
    "BudgetSpec",
    "DatasetSpec",
    "EvaluationSpec",
    "InstructionPosition",
    "JudgeSpec",
    "MetricName",
    "MetricSpec",
    "MlflowSpec",
    "ModelSpec",
    "OptimizerSpec",
    "ParseMode",
    "RunSpec",
    "ScorerSpec",
    "SeedFile",
    "SelectionSpec",
    "SplitSpec",
    "TrackingSpec",
    "load_spec",
    "parse_spec",
    "resolve_paths",
    "spec_to_yaml",
]


class RunSpec(Frozen):
    name: str
    task: str = Field(min_length=1)
    seed_prompts: tuple[SeedPrompt, ...] = Field(min_length=1)
    dataset: DatasetSpec
    metric: MetricSpec = MetricSpec()
    scorer: ScorerSpec = ScorerSpec()
    optimizer: OptimizerSpec = OptimizerSpec()
    budget: BudgetSpec = BudgetSpec()
    selection: SelectionSpec = SelectionSpec()
    evaluation: EvaluationSpec = EvaluationSpec()
    concurrency: int = Field(default=8, ge=1, le=256)
    seed: int = 0
    tracking: TrackingSpec = TrackingSpec()
    callbacks: tuple[str, ...] = ()

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not NAME_RE.match(value):
            raise ValueError(
                "use letters, digits, '.', '_' or '-' (no slashes, no leading dot, at most 80)"
            )
        return value

    @field_validator("metric", mode="before", json_schema_input_type=MetricName | MetricSpec)
    @classmethod
    def _metric_short_form(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator(
        "seed_prompts",
        mode="before",
        json_schema_input_type=str
        | SeedFile
        | Annotated[list[str | SeedFile], Field(min_length=1)],
    )
    @classmethod
    def _seed_short_form(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | dict) else value

    @field_validator("seed_prompts")
    @classmethod
    def _one_production_seed(cls, value: tuple[str | SeedFile, ...]) -> tuple[str | SeedFile, ...]:
        check_production_flags(value)
        return value

    @property
    def seed_texts(self) -> tuple[str, ...]:
        """The seed prompts' texts, in order (a file seed's as read from its file)."""
        return tuple(seed_text(s) for s in self.seed_prompts)

    @property
    def production_seed(self) -> SeedFile | None:
        """The seed the product runs today: the file seed marked ``production: true``, else
        the first file seed; None when every seed is a plain text."""
        return production_seed(self.seed_prompts)

    @property
    def models_by_role(self) -> dict[str, ModelSpec]:
        """The scorer, the optimizer and (with the judge metric) the judge, by role."""
        judge = self.metric.judge
        return {
            "scorer": self.scorer,
            "optimizer": self.optimizer,
            **({"judge": judge} if judge is not None else {}),
        }

    def deployment_names(self) -> dict[str, tuple[str, ...]]:
        """Each role's deployment names, for the roles whose model has deployments."""
        return {
            role: tuple(d.deployment().name for d in model.deployments)
            for role, model in self.models_by_role.items()
            if model.deployments
        }

    @field_validator("callbacks")
    @classmethod
    def _callback_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_callbacks(value)

    @model_validator(mode="after")
    def _no_credentials_anywhere(self) -> RunSpec:
        """A credential written anywhere else in the spec (a seed prompt, the task, a path) is
        refused too: the spec is copied into every run directory and read back on resume, and
        prompts are sent to the models, so it can be neither kept nor masked."""
        problems = []
        for loc, _, item in leaves(self.model_dump(mode="python")):
            found = find_secret(item) if isinstance(item, str) else None
            if found is not None:
                fix = "remove it: the spec is copied into every run and prompts go to the models"
                problems.append(Credential(loc, describe_finding(found), fix))
        if problems:
            raise credential_error(problems)
        return self


# ---------------------------------------------------------------------------------------------
# Loading


def load_spec(
    path: str | Path,
    *,
    overrides: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> RunSpec:
    """Read, validate and resolve a run spec; raise ``SpecError`` with file, line and field.

    ``${VAR}`` / ``${VAR:-default}`` in values come from ``environ`` (default ``os.environ``;
    ``interpolate.py``), then each ``overrides`` item (``path.to.key=value``, ``overrides.py``)
    is applied. Relative paths resolve against the spec's folder, those given with --set too.
    """
    path = Path(path)
    changes = [parse_override(text) for text in overrides]
    raw, root = read_yaml(path)
    raw = interpolate(raw, os.environ if environ is None else environ, source=path, root=root)
    raw = apply_overrides(raw, changes)
    try:
        spec = RunSpec.model_validate(raw)
    except ValidationError as exc:
        paths = [change.path for change in changes]
        raise validation_error(path, root, exc, RunSpec, paths) from None
    spec = resolve_paths(spec, path.resolve().parent)
    return spec.model_copy(update={"seed_prompts": read_seed_files(spec.seed_prompts, path, root)})


def parse_spec(text: str, *, source: str = "<spec>", base_dir: Path | None = None) -> RunSpec:
    """Validate a spec given as YAML text (used when re-reading a run's ``config.yaml``)."""
    raw, root = parse_yaml(text, source)
    try:
        spec = RunSpec.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(Path(source), root, exc, RunSpec) from None
    return resolve_paths(spec, base_dir) if base_dir is not None else spec


def resolve_paths(spec: RunSpec, base_dir: Path) -> RunSpec:
    """Return a copy whose dataset, split-file, metric and seed-file paths are absolute."""

    def resolve(p: str) -> str:
        return str((base_dir / Path(p).expanduser()).resolve())

    split = spec.dataset.split
    if split.uses_files:
        split = split.model_copy(
            update={k: resolve(str(getattr(split, k))) for k in ("train", "val", "test")}
        )
    dataset = spec.dataset.model_copy(
        update={
            "path": resolve(spec.dataset.path) if spec.dataset.path else None,
            "split": split,
        }
    )
    metric = spec.metric
    if metric.python:
        file, _, func = metric.python.rpartition(":")
        metric = metric.model_copy(update={"python": f"{resolve(file)}:{func}"})
    if metric.json_schema:
        metric = metric.model_copy(update={"json_schema": resolve(metric.json_schema)})
    seeds = tuple(
        s.model_copy(update={"file": resolve(s.file)}) if isinstance(s, SeedFile) else s
        for s in spec.seed_prompts
    )
    return spec.model_copy(update={"dataset": dataset, "metric": metric, "seed_prompts": seeds})


def spec_to_yaml(spec: RunSpec, redactor: Callable[[str], str] | None = None) -> str:
    """The resolved spec as YAML, for the run directory's ``config.yaml`` (each text passed
    through ``redactor`` first, never the YAML: a bare mask would read as an alias)."""
    data = spec.model_dump(mode="json")
    if redactor is not None:
        data = redact_tree(data, redactor)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
