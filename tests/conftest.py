from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fakes
import pytest
import yaml
from openai_server import OpenAIServer, scripted
from scripted_client import Script, ScriptedClient

# What the test models' calls send as OpenAI key: the server ignores it. Key-shaped, and unlike
# any text a test compares, so the secret filter masking it changes no expected output.
LOOPBACK_KEY = "sk-loopback-not-a-key-7c41"
ENVIRONMENT = (
    "OPENAI_API_KEY",
    "OPENAI_API_BASE",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GITHUB_STEP_SUMMARY",
)


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test works in its own folder, with its own cache, and no real provider keys."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPRO_CACHE_DIR", str(tmp_path / "cache"))
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def model_server() -> Iterator[OpenAIServer]:
    """One loopback OpenAI-compatible server for the whole session (see ``test_models``)."""
    with OpenAIServer() as server:
        yield server


@dataclass(frozen=True)
class ScriptedModels:
    """The test models of one test: ``scripts`` by name (``fakes.SCRIPTS`` and what the test
    adds), answered both by ``client()`` and by the loopback server, where a spec names them
    ``openai/<name>``."""

    scripts: dict[str, Script]
    server: OpenAIServer

    def add(self, name: str, script: Script) -> None:
        self.scripts[name] = script

    def client(self) -> ScriptedClient:
        return ScriptedClient(self.scripts)


@pytest.fixture
def test_models(
    model_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ScriptedModels]:
    """The test models. litellm sends every ``openai/`` call to the loopback server
    (``OPENAI_API_BASE``, inherited by child processes), so ``opro run`` needs no other setup."""
    scripts = dict(fakes.SCRIPTS)
    model_server.responder = functools.partial(scripted, scripts)
    monkeypatch.setenv("OPENAI_API_BASE", model_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", LOOPBACK_KEY)
    yield ScriptedModels(scripts, model_server)
    model_server.responder = None
    model_server.requests.clear()


@pytest.fixture
def finished(parity_project: Any, tmp_path: Path) -> Path:
    """A finished run of the parity project (``opro run`` in this process, no cache)."""
    from typer.testing import CliRunner

    from opro_cli.cli import app

    spec = str(parity_project())
    result = CliRunner().invoke(app, ["run", spec, "--quiet", "--no-cache"])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    return run


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
        "scorer": {"model": "openai/parity", "max_tokens": 4},
        "optimizer": {"model": "openai/proposer", "candidates_per_step": 3, "exemplars": 2},
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
def parity_project(tmp_path: Path, test_models: ScriptedModels):
    """Write the parity dataset and a spec whose models are the test models (``test_models``);
    returns a function(**overrides) -> spec path."""
    write_jsonl(tmp_path / "data.jsonl", fakes.parity_rows(40))

    def make(**overrides: Any) -> Path:
        path = tmp_path / "spec.yaml"
        path.write_text(yaml.safe_dump(parity_spec(**overrides), sort_keys=False))
        return path

    return make
