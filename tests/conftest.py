from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import fakes
import pytest
import yaml

from opro_cli.models import fake

for _name, _script in fakes.SCRIPTS.items():
    fake.register_script(_name, _script)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test works in its own folder, with its own cache, and no real provider keys."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def parity_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": "parity",
        "task": "Say whether the item number is even or odd.",
        "seed_prompts": ["Answer."],
        "dataset": {
            "path": "data.jsonl",
            "input": "text",
            "target": "label",
            "id": "id",
            "split": {"train": 0.5, "val": 0.25, "test": 0.25, "stratify": True},
            "seed": 3,
        },
        "metric": "exact_match",
        "scorer": {"model": "fake/parity", "max_tokens": 4},
        "optimizer": {"model": "fake/proposer", "candidates_per_step": 3, "exemplars": 2},
        "budget": {"steps": 3},
        "concurrency": 4,
        "seed": 11,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(spec.get(key), dict):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value
    return spec


@pytest.fixture
def parity_project(tmp_path: Path):
    """Write the parity dataset and a spec; returns a function(**overrides) -> spec path."""
    write_jsonl(tmp_path / "data.jsonl", fakes.parity_rows(40))

    def make(**overrides: Any) -> Path:
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(parity_spec(**overrides), sort_keys=False))
        return path

    return make
