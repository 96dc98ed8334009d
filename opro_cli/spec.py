"""The YAML run spec: a frozen pydantic schema and ``load_spec(path) -> RunSpec``.

Every problem becomes one ``SpecError`` naming the file, the line (where YAML gives it), the field
and the fix. Relative paths resolve against the folder of the YAML file.
"""

from __future__ import annotations

import difflib
import re
import string
import typing
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from opro_cli.errors import SpecError

DEFAULT_LOCAL_MODEL = "local/smollm2-135m-instruct"

InstructionPosition = Literal["system", "q_begin", "q_end", "a_begin"]
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

    @field_validator("model")
    @classmethod
    def _model_has_provider(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model is empty -> e.g. openai/gpt-4o-mini or " + DEFAULT_LOCAL_MODEL)
        return value

    @field_validator("extra")
    @classmethod
    def _no_secrets_in_extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if "key" in key.lower() or "token" in key.lower() or "secret" in key.lower():
                raise ValueError(
                    f"'{key}' looks like a secret -> keep API keys in the environment "
                    "(e.g. OPENAI_API_KEY); LiteLLM reads them from there"
                )
        return value


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


# ---------------------------------------------------------------------------------------------
# Loading


def load_spec(path: str | Path) -> RunSpec:
    """Read, validate and resolve a run spec; raise ``SpecError`` with file, line and field."""
    path = Path(path)
    raw, root = _read_yaml(path)
    try:
        spec = RunSpec.model_validate(raw)
    except ValidationError as exc:
        raise _spec_error(path, root, exc) from None
    return resolve_paths(spec, path.resolve().parent)


def parse_spec(text: str, *, source: str = "<spec>", base_dir: Path | None = None) -> RunSpec:
    """Validate a spec given as YAML text (used when re-reading a run's ``config.yaml``)."""
    raw, root = _parse_yaml(text, source)
    try:
        spec = RunSpec.model_validate(raw)
    except ValidationError as exc:
        raise _spec_error(Path(source), root, exc) from None
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


def spec_to_yaml(spec: RunSpec) -> str:
    """The resolved spec as YAML, for the run directory's ``config.yaml``."""
    return yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def _read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    if not path.exists():
        raise SpecError(f"{path}: file not found", hint="check the path to the run spec")
    if path.is_dir():
        raise SpecError(f"{path}: is a folder", hint="give the path of a .yaml run spec")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SpecError(f"{path}: not UTF-8 text", hint="save the spec as UTF-8") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read ({exc.strerror})") from None
    return _parse_yaml(text, str(path))


def _parse_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(
            f"{where}: malformed YAML ({problem})",
            hint="check indentation, colons and quotes on that line",
        ) from None
    if raw is None:
        raise SpecError(f"{source}: the spec is empty", hint="see configs/ for complete examples")
    duplicate = _duplicate_key(root)
    if duplicate is not None:
        field, line, first = duplicate
        raise SpecError(
            f"{source}:{line}: {field}: key given twice (first on line {first})",
            hint="keep one of them; YAML would silently use the last",
        )
    if not isinstance(raw, dict):
        raise SpecError(
            f"{source}: the spec must be a mapping of keys (name, task, dataset, ...)",
            hint="see configs/ for complete examples",
        )
    return raw, root


def _duplicate_key(root: yaml.Node | None) -> tuple[str, int, int] | None:
    """The first key that a mapping repeats, as (dotted field, line, line of the first one)."""
    seen_nodes: set[int] = set()

    def walk(node: yaml.Node, where: tuple[str, ...]) -> tuple[str, int, int] | None:
        if id(node) in seen_nodes:  # an alias of a node already checked
            return None
        seen_nodes.add(id(node))
        children: list[tuple[str, yaml.Node]] = []
        if isinstance(node, yaml.MappingNode):
            first_lines: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode) and name != "<<":
                    if name in first_lines:
                        return ".".join([*where, name]), line, first_lines[name]
                    first_lines[name] = line
                children.append((name, value))
        elif isinstance(node, yaml.SequenceNode):
            children = [(str(i), item) for i, item in enumerate(node.value)]
        for name, child in children:
            found = walk(child, (*where, name))
            if found is not None:
                return found
        return None

    return walk(root, ()) if root is not None else None


def _spec_error(path: Path, root: yaml.Node | None, exc: ValidationError) -> SpecError:
    lines = []
    for err in exc.errors()[:6]:
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        field = ".".join(str(p) for p in loc) or "(top level)"
        line = _line_of(root, loc)
        where = f"{path}:{line}" if line else str(path)
        lines.append(f"{where}: {field}: {_explain(err, loc)}")
    more = len(exc.errors()) - 6
    if more > 0:
        lines.append(f"... and {more} more problem(s)")
    return SpecError("\n".join(lines))


def _close_match(value: Any, choices: list[str]) -> str | None:
    if not isinstance(value, str) or not choices:
        return None
    found = difflib.get_close_matches(value.lower(), choices, n=1, cutoff=0.75)
    return found[0] if found else None


def _keys_at(loc: tuple[Any, ...]) -> list[str]:
    """The keys the spec allows in the mapping at ``loc`` (empty where that is not a section)."""
    model: type[BaseModel] | None = RunSpec
    for part in loc:
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            return []
        model = _model_in(field.annotation)
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


_TYPE_WORDS = {
    "str": "a text",
    "int": "a number",
    "float": "a number",
    "bool": "true/false",
    "list": "a list",
    "NoneType": "empty",
}


def _explain(err: Any, loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    msg = str(err["msg"])
    if kind == "extra_forbidden":
        guess = _close_match(loc[-1], _keys_at(loc[:-1]))
        if guess:
            return f"unknown key -> did you mean '{guess}'?"
        return "unknown key -> remove it or check its spelling (see the spec reference in README)"
    if kind == "missing":
        return "required key is missing -> add it (see configs/ for examples)"
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", str(err.get("ctx", {}).get("expected", "")))
        guess = _close_match(err.get("input"), allowed)
        hint = f" -> did you mean '{guess}'?" if guess else ""
        return msg.replace("Input should be", "must be one of") + hint
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        got = _TYPE_WORDS.get(type(err.get("input")).__name__, "single value")
        return f"must be a mapping of keys (key: value lines below it), not {got}"
    if kind == "too_short":
        return f"needs at least {err.get('ctx', {}).get('min_length', 1)} item(s)"
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    return msg[0].lower() + msg[1:] if msg else kind


def _line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    node = root
    line = None
    for part in loc:
        if node is None:
            break
        line = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            match = None
            for key, value in node.value:
                if key.value == str(part):
                    match = (key, value)
                    break
            if match is None:
                break
            line = match[0].start_mark.line + 1
            node = match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line
