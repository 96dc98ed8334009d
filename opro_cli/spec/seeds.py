"""Seed prompts: plain texts, or files that hold the prompt the product uses.

``seed_prompts: ["Classify it.", {file: prompts/classify.txt, production: true}]``: a file seed is
read when the spec is loaded (relative to the spec's folder), and its text is kept in the run's
``config.yaml``, so a resumed run scores the same seed even after the file changed (for instance
after ``opro promote`` wrote a winner into it).

The *production* seed is the one that the product runs today and that ``opro promote`` replaces:
the file seed marked ``production: true``, else the first file seed; a spec of plain texts has
none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Discriminator, Field, Tag

from opro_cli.errors import SpecError
from opro_cli.secrets import find_secret
from opro_cli.spec.sections import Frozen
from opro_cli.spec.yamlfile import line_of


class SeedFile(Frozen):
    file: str = Field(min_length=1, description="a text file holding the prompt (UTF-8)")
    production: bool = Field(
        default=False, description="the prompt in production, which `opro promote` replaces"
    )
    text: str | None = Field(
        default=None,
        description="filled in from the file when the spec is loaded (the run's config.yaml "
        "keeps it, so a resumed run scores the same seed)",
    )


def _kind(value: Any) -> str:
    # The tags hold "[" so that spec error messages leave them out of the field's name.
    return "seed[file]" if isinstance(value, dict | SeedFile) else "seed[text]"


SeedPrompt = Annotated[
    Annotated[str, Tag("seed[text]")] | Annotated[SeedFile, Tag("seed[file]")],
    Discriminator(_kind),
]


def seed_text(seed: str | SeedFile) -> str:
    """The prompt a seed gives; a file seed must have been read (``read_seed_files``)."""
    if isinstance(seed, str):
        return seed
    if seed.text is None:
        raise SpecError(
            f"seed_prompts: {seed.file}: not read yet",
            hint="load the spec with load_spec(path), which reads seed files",
        )
    return seed.text


def production_seed(seeds: tuple[str | SeedFile, ...]) -> SeedFile | None:
    files = [s for s in seeds if isinstance(s, SeedFile)]
    marked = [s for s in files if s.production]
    if marked:
        return marked[0]
    return files[0] if files else None


def check_production_flags(seeds: tuple[str | SeedFile, ...]) -> None:
    """At most one seed is the production prompt (a ValueError for the spec's validator)."""
    marked = [s.file for s in seeds if isinstance(s, SeedFile) and s.production]
    if len(marked) > 1:
        raise ValueError(
            f"{len(marked)} seeds have production: true ({', '.join(marked)}) -> mark only the "
            "prompt the product runs today"
        )


def read_seed_files(
    seeds: tuple[str | SeedFile, ...], path: Path, root: yaml.Node | None
) -> tuple[str | SeedFile, ...]:
    """The seeds with each file seed's text read from its (already absolute) path; a missing,
    unreadable or empty file, or one holding a credential, is a ``SpecError`` naming the spec's
    line."""
    out: list[str | SeedFile] = []
    for index, seed in enumerate(seeds):
        if isinstance(seed, str):
            out.append(seed)
            continue
        line = line_of(root, ("seed_prompts", index, "file"))
        where = f"{path}:{line}" if line else str(path)
        field = f"seed_prompts.{index}.file"
        text = _read(Path(seed.file), f"{where}: {field}")
        out.append(seed.model_copy(update={"text": text}))
    return tuple(out)


def _read(file: Path, where: str) -> str:
    try:
        text = file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise SpecError(
            f"{where}: {file}: file not found",
            hint="the path is relative to the spec's folder; create the file with the prompt "
            "in production",
        ) from None
    except IsADirectoryError:
        raise SpecError(f"{where}: {file}: is a folder", hint="give the prompt's file") from None
    except UnicodeDecodeError:
        raise SpecError(f"{where}: {file}: not UTF-8 text", hint="save it as UTF-8") from None
    except OSError as exc:
        raise SpecError(f"{where}: {file}: cannot read ({exc.strerror})") from None
    if not text:
        raise SpecError(
            f"{where}: {file}: the file is empty",
            hint='write the prompt in it, or use seed_prompts: [""] for no instruction',
        )
    found = find_secret(text)
    if found is not None:
        raise SpecError(
            f"{where}: {file}: holds {found.what}",
            hint="remove it: prompts go to the models and into every run directory",
        )
    return text
