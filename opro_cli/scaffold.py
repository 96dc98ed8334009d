"""``opro init``: a commented run spec, a tiny dataset and the spec's JSON Schema, ready to run.

The files ship inside the package (``opro_cli/templates``), so a plain ``pip install`` has them;
the spec runs as it is with the embedded local model, or with a hosted ``model``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from opro_cli.errors import UsageError
from opro_cli.spec import DEFAULT_LOCAL_MODEL
from opro_cli.spec.schema import SCHEMA_FILE, spec_schema_text
from opro_cli.spec.sections import NAME_RE

SPEC_FILE = "opro.yaml"
DATA_FILE = "data.jsonl"

_LOCAL_NOTE = """#
# The models: SmolLM2-135M-Instruct, embedded and run on this computer's CPU (no API key, no
# network; pip install 'opro-cli[local]'): a few minutes on 2 cores. It is tiny: it shows the
# mechanics more than big gains. For a hosted model:
#   opro init DIR --model openai/gpt-4o-mini   (or set scorer.model / optimizer.model)
"""

_HOSTED_NOTE = """#
# The models: {model} (any LiteLLM model string). Its key comes from the environment
# (e.g. OPENAI_API_KEY), never from this file: export it, or pass --env-file .env to opro.
"""


@dataclass(frozen=True)
class Written:
    directory: Path
    files: tuple[Path, ...]

    @property
    def spec(self) -> Path:
        return self.directory / SPEC_FILE


def starter_spec(spec_path: str, *, name: str, model: str | None = None) -> str:
    """The commented spec, for the local model or a hosted ``model``."""
    local = model is None or model.startswith("local/")
    chosen = model if model is not None else DEFAULT_LOCAL_MODEL
    values = {
        "@SPEC@": spec_path,
        "@NAME@": name,
        "@SCORER_MODEL@": chosen,
        "@OPTIMIZER_MODEL@": chosen,
        # the tiny local model wanders at temperature 1 (it mostly rewords its examples)
        "@OPTIMIZER_TEMPERATURE@": "0.7" if local else "1.0",
        "@CONCURRENCY@": "1   # the local model runs one call at a time" if local else "8",
        # commented out: a cost budget needs a model LiteLLM (or the spec's prices) can price
        "@BUDGET_EXTRA@": "" if local else "  # max_cost_usd: 0.50    # stop before spending more",
        "@MODEL_NOTE@": _LOCAL_NOTE if local else _HOSTED_NOTE.format(model=chosen),
    }
    lines = []
    for line in _template(SPEC_FILE).splitlines():
        if line in values and not values[line]:
            continue  # a marker alone on its line, with nothing to put there
        for marker, value in values.items():
            line = line.replace(marker, value)
        lines.append(line)
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


def write_starter(directory: Path, *, model: str | None = None, force: bool = False) -> Written:
    """Write opro.yaml, data.jsonl and opro.schema.json into ``directory`` (created if needed);
    refuse to replace existing files unless ``force``."""
    if model is not None and "/" not in model.strip("/"):
        raise UsageError(
            f"--model {model}: not a LiteLLM model string",
            hint="write provider/name, e.g. openai/gpt-4o-mini or ollama/llama3.1",
        )
    if directory.exists() and not directory.is_dir():
        raise UsageError(
            f"{directory}: is a file, not a folder", hint="give a folder for the project"
        )
    targets = [directory / SPEC_FILE, directory / DATA_FILE, directory / SCHEMA_FILE]
    existing = [p for p in targets if p.exists()]
    if existing and not force:
        raise UsageError(
            f"{', '.join(str(p) for p in existing)}: already there",
            hint="choose another folder, or replace them with --force",
        )
    name = _name_for(directory)
    contents = {
        targets[0]: starter_spec(str(directory / SPEC_FILE), name=name, model=model),
        targets[1]: _template(DATA_FILE),
        targets[2]: spec_schema_text(),
    }
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for path, text in contents.items():
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{directory}: cannot write the files ({exc.strerror or exc})") from None
    return Written(directory, tuple(targets))


def _name_for(directory: Path) -> str:
    """The run's name: the folder's name where it is a valid one, else ``starter``."""
    candidate = directory.resolve().name
    return candidate if NAME_RE.match(candidate) else "starter"


def _template(name: str) -> str:
    return (resources.files("opro_cli") / "templates" / name).read_text(encoding="utf-8")
