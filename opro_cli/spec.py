"""The YAML run spec: a frozen pydantic schema and ``load_spec(path) -> RunSpec``.

Every problem becomes one ``SpecError`` naming the file, the line (where YAML gives it), the field
and the fix. Relative paths resolve against the folder of the YAML file.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from opro_cli.core.placement import Position
from opro_cli.models.base import CallParams
from opro_cli.secrets import MASK, Finding, find_secret, is_credential_key, redact_tree
from opro_cli.specfile import parse_yaml, read_yaml, validation_error

DEFAULT_LOCAL_MODEL = "local/smollm2-135m-instruct"

InstructionPosition = Position
MetricName = Literal[
    "exact_match", "contains", "regex", "numeric", "choice", "f1", "json", "python"
]
ParseMode = Literal["strict", "lenient"]

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitSpec(_Frozen):
    """Either fractions of one file (``train: 0.5``) or one file per split (``train: a.jsonl``)."""

    train: float | str = 0.5
    val: float | str = 0.2
    test: float | str = 0.3
    stratify: bool = Field(
        default=False,
        description="exact label proportions in every split, at the cost of stability: with "
        "it, adding rows can move examples near a cut to the next split",
    )

    @model_validator(mode="after")
    def _one_kind(self) -> SplitSpec:
        values = [self.train, self.val, self.test]
        kinds = {isinstance(v, str) for v in values}
        if len(kinds) > 1:
            raise ValueError(
                "mix of fractions and file paths -> give three fractions or three file paths"
            )
        if not self.uses_files:
            fractions = [float(v) for v in values]
            if any(f < 0 for f in fractions):
                raise ValueError("fractions must not be negative")
            if float(self.train) <= 0:
                raise ValueError("train fraction must be above 0 -> e.g. train: 0.5")
            if abs(sum(fractions) - 1.0) > 1e-6:
                raise ValueError(
                    f"fractions add up to {sum(fractions):g}, not 1 -> e.g. "
                    "{train: 0.5, val: 0.2, test: 0.3}"
                )
        return self

    @property
    def uses_files(self) -> bool:
        return isinstance(self.train, str)


class DatasetSpec(_Frozen):
    path: str | None = None
    input: str = Field(min_length=1)
    target: str = Field(min_length=1)
    id: str | None = None
    options: str | None = None
    split: SplitSpec = SplitSpec()
    seed: int = 0
    limit: int | None = Field(default=None, ge=1)

    @field_validator("input")
    @classmethod
    def _template_parses(cls, value: str) -> str:
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(value) if f is not None]
        except ValueError as exc:
            raise ValueError(
                f"template does not parse ({exc}) -> write fields as {{column}} and double "
                "literal braces as {{{{ }}}}"
            ) from exc
        if any(not field for field in fields):
            raise ValueError("template has an empty {} -> name the column, as in {question}")
        return value

    @model_validator(mode="after")
    def _path_or_files(self) -> DatasetSpec:
        if self.path is None and not self.split.uses_files:
            raise ValueError(
                "no data -> give dataset.path, or split: {train: FILE, val: FILE, test: FILE}"
            )
        return self

    @property
    def template_fields(self) -> list[str]:
        """Columns the input template names; empty when ``input`` is a plain column name."""
        return [f for _, f, _, _ in string.Formatter().parse(self.input) if f]


class MetricSpec(_Frozen):
    """How answers are scored. Options other than ``name`` belong to one metric each:
    ``pattern`` (regex), ``tolerance`` (numeric and json numbers), ``choices`` and ``letters``
    (choice), ``schema``, ``fields`` and ``field_match`` (json), ``python`` (custom).

    ``letters``: whether an answer may pick an option by letter ("B", "(B)"): ``auto`` reads
    letters only when the example shows them (its target is a letter, or its input lists the
    options as "(A) ...", "A) ...", "A. ..." or "A: ..."); ``true`` always, ``false`` never.
    ``schema`` is a JSON Schema file (relative to the spec); ``fields`` are dotted paths
    (``customer.name``, ``items.0.sku``; a number indexes a list).
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True
    )

    name: MetricName = "exact_match"
    ignore_case: bool = True
    ignore_whitespace: bool = True
    ignore_punctuation: bool = False
    pattern: str | None = None
    tolerance: float = Field(default=1e-6, ge=0)
    choices: tuple[str, ...] | None = None
    letters: bool | Literal["auto"] = "auto"
    json_schema: str | None = Field(default=None, alias="schema")
    fields: tuple[str, ...] | None = None
    field_match: Literal["exact", "f1"] = "exact"
    python: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _python_short_form(cls, data: Any) -> Any:
        if isinstance(data, dict) and "python" in data and "name" not in data:
            return {**data, "name": "python"}
        return data

    @field_validator("letters", mode="before")
    @classmethod
    def _letters_value(cls, value: Any) -> Any:
        if isinstance(value, bool) or value == "auto":
            return value
        raise ValueError(f"must be auto, true or false, not {value!r}")

    @model_validator(mode="after")
    def _options_fit(self) -> MetricSpec:
        if self.name == "regex":
            if not self.pattern:
                raise ValueError(
                    "regex needs a pattern -> e.g. {name: regex, pattern: 'answer is (\\w+)'}"
                )
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        if self.name == "python" and (not self.python or ":" not in self.python):
            raise ValueError("custom metric needs python: path/to/file.py:function_name")
        if self.letters != "auto" and self.name != "choice":
            raise ValueError("letters is an option of the choice metric -> remove it")
        if self.name != "json":
            given = [
                key
                for key, value in (
                    ("schema", self.json_schema),
                    ("fields", self.fields),
                    ("field_match", None if self.field_match == "exact" else self.field_match),
                )
                if value is not None
            ]
            if given:
                are = "is an option" if len(given) == 1 else "are options"
                them = "it" if len(given) == 1 else "them"
                raise ValueError(
                    f"{' and '.join(given)} {are} of the json metric -> set name: json, "
                    f"or remove {them}"
                )
        if self.fields is not None:
            if not self.fields:
                raise ValueError(
                    "fields is empty -> list the fields to compare, or drop fields to compare "
                    "the whole object"
                )
            for path in self.fields:
                if not path or any(not part for part in path.split(".")):
                    raise ValueError(
                        f"field {path!r} is not a dotted path -> e.g. name, customer.email, "
                        "items.0.sku"
                    )
        if self.field_match == "f1" and self.fields is None:
            raise ValueError(
                "field_match: f1 needs fields -> list the fields to compare, e.g. "
                "fields: [name, city]"
            )
        return self


class ModelSpec(_Frozen):
    model: str = DEFAULT_LOCAL_MODEL
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    api_base: str | None = None
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    extra: dict[str, Any] = Field(default_factory=dict)

    def call_params(self) -> CallParams:
        """The model settings as the client takes them (the one place they are mapped)."""
        return CallParams(
            model=self.model,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            api_base=self.api_base,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            extra=self.extra,
        )

    @field_validator("model")
    @classmethod
    def _model_has_provider(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model is empty -> e.g. openai/gpt-4o-mini or " + DEFAULT_LOCAL_MODEL)
        return value

    @field_validator("extra")
    @classmethod
    def _no_secrets_in_extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Reject credentials in ``extra``, at any depth (``extra_headers`` too): a key that can
        only hold one (``api_key``, ``Authorization``, ...) whatever its value, and a value that
        holds one (a key shape, a credential value of the environment) whatever its key."""
        problems = []
        for loc, key, item in _leaves(value):
            found = find_secret(item) if isinstance(item, str) else None
            if key is not None and is_credential_key(key):
                env_name = found.env_name if found is not None else None
                what = "looks like a secret (this key only holds credentials)"
                problems.append(_Credential(loc, what, _keep_in_environment(env_name)))
            elif found is not None:
                fix = _keep_in_environment(found.env_name)
                problems.append(_Credential(loc, _describe(found), fix))
        if problems:
            raise _credential_error(problems)
        return value

    @field_validator("api_base")
    @classmethod
    def _no_secrets_in_api_base(cls, value: str | None) -> str | None:
        found = find_secret(value) if value is not None else None
        if found is None:
            return value
        fix = _keep_in_environment(found.env_name)
        if found.in_url:
            fix = "remove user:password@ from the URL and " + fix
        raise _credential_error([_Credential((), _describe(found), fix)])


@dataclass(frozen=True)
class _Credential:
    loc: tuple[str | int, ...]  # below the field being validated
    what: str
    fix: str


def _describe(found: Finding) -> str:
    exact = found.env_name_exact or found.in_url
    return f"holds {found.what}" if exact else f"looks like {found.what}"


def _keep_in_environment(env_name: str | None) -> str:
    name = env_name if env_name is not None else "e.g. OPENAI_API_KEY"
    return f"keep credentials in the environment ({name}); LiteLLM reads them from there"


def _leaves(
    value: Any, loc: tuple[str | int, ...] = (), key: str | None = None
) -> Iterator[tuple[tuple[str | int, ...], str | None, Any]]:
    """Every (location, key, value) of nested mappings and lists; a list item has no key."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*loc, str(k)), str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _leaves(v, (*loc, i), None)
    else:
        yield loc, key, value


def _credential_error(problems: list[_Credential]) -> ValidationError:
    """One error per credential, each at its own location, so the message names the key and its
    line (``spec.yaml:12: scorer.extra.api_key: ...``). Pydantic nests a ``ValidationError``
    raised by a validator under the field's location (tests/test_secrets.py checks it)."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("credential", f"{p.what} -> {p.fix}"), loc=p.loc, input=MASK
        )
        for p in problems
    ]
    return ValidationError.from_exception_data("credential", details)


class ScorerSpec(ModelSpec):
    max_tokens: int | None = Field(default=32, ge=1)
    instruction_position: InstructionPosition = "q_begin"


class OptimizerSpec(ModelSpec):
    temperature: float = Field(default=1.0, ge=0, le=2)
    max_tokens: int | None = Field(default=256, ge=1)
    candidates_per_step: int = Field(default=8, ge=1, le=64)
    history_size: int = Field(default=20, ge=1)
    exemplars: int = Field(default=3, ge=0)
    max_instruction_chars: int = Field(default=500, ge=1)
    score_buckets: int = Field(default=100, ge=2, le=1000)
    parse: ParseMode = "lenient"


class BudgetSpec(_Frozen):
    steps: int = Field(default=5, ge=0)
    max_calls: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_cost_usd: float | None = Field(default=None, gt=0)
    max_minutes: float | None = Field(default=None, gt=0)


class SelectionSpec(_Frozen):
    top_k: int = Field(default=3, ge=1, description="best train candidates scored on validation")
    bootstrap_samples: int = Field(default=1000, ge=0)
    ci_level: float = Field(default=0.95, gt=0, lt=1)


class RunSpec(_Frozen):
    name: str
    task: str = Field(min_length=1)
    seed_prompts: tuple[str, ...] = Field(min_length=1)
    dataset: DatasetSpec
    metric: MetricSpec = MetricSpec()
    scorer: ScorerSpec = ScorerSpec()
    optimizer: OptimizerSpec = OptimizerSpec()
    budget: BudgetSpec = BudgetSpec()
    selection: SelectionSpec = SelectionSpec()
    concurrency: int = Field(default=8, ge=1, le=256)
    seed: int = 0

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME_RE.match(value):
            raise ValueError(
                "use letters, digits, '.', '_' or '-' (no slashes, no leading dot, at most 80)"
            )
        return value

    @field_validator("metric", mode="before")
    @classmethod
    def _metric_short_form(cls, value: Any) -> Any:
        return {"name": value} if isinstance(value, str) else value

    @field_validator("seed_prompts", mode="before")
    @classmethod
    def _seed_short_form(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _no_credentials_anywhere(self) -> RunSpec:
        """A credential written anywhere else in the spec (a seed prompt, the task, a path) is
        refused too: the spec is copied into every run directory and read back on resume, and
        prompts are sent to the models, so it can be neither kept nor masked."""
        problems = []
        for loc, _, item in _leaves(self.model_dump(mode="python")):
            found = find_secret(item) if isinstance(item, str) else None
            if found is not None:
                fix = "remove it: the spec is copied into every run and prompts go to the models"
                problems.append(_Credential(loc, _describe(found), fix))
        if problems:
            raise _credential_error(problems)
        return self


# ---------------------------------------------------------------------------------------------
# Loading


def load_spec(path: str | Path) -> RunSpec:
    """Read, validate and resolve a run spec; raise ``SpecError`` with file, line and field."""
    path = Path(path)
    raw, root = read_yaml(path)
    try:
        spec = RunSpec.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(path, root, exc, RunSpec) from None
    return resolve_paths(spec, path.resolve().parent)


def parse_spec(text: str, *, source: str = "<spec>", base_dir: Path | None = None) -> RunSpec:
    """Validate a spec given as YAML text (used when re-reading a run's ``config.yaml``)."""
    raw, root = parse_yaml(text, source)
    try:
        spec = RunSpec.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(Path(source), root, exc, RunSpec) from None
    return resolve_paths(spec, base_dir) if base_dir is not None else spec


def resolve_paths(spec: RunSpec, base_dir: Path) -> RunSpec:
    """Return a copy whose dataset, split-file and metric paths are absolute."""

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
    return spec.model_copy(update={"dataset": dataset, "metric": metric})


def spec_to_yaml(spec: RunSpec, redactor: Callable[[str], str] | None = None) -> str:
    """The resolved spec as YAML, for the run directory's ``config.yaml`` (each text passed
    through ``redactor`` first, never the YAML: a bare mask would read as an alias)."""
    data = spec.model_dump(mode="json")
    if redactor is not None:
        data = redact_tree(data, redactor)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
