"""Export a run's winning prompt: plain text, JSON or YAML with provenance, or a promptfoo config
whose tests are the run's test split (so the prompt keeps being checked after opro is done)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from opro_cli import rundir
from opro_cli.core.placement import Position, scorer_messages
from opro_cli.errors import RunDirError
from opro_cli.rundir import Manifest, Summary
from opro_cli.secrets import redact, redact_tree
from opro_cli.spec import RunSpec, ScorerSpec, parse_spec

FORMATS = ("txt", "json", "yaml", "promptfoo")


def load_finished_run(run_dir: Path) -> tuple[Manifest, Summary, RunSpec]:
    """manifest, summary and spec of a run that has a winner."""
    manifest = rundir.read_manifest(run_dir)
    summary = rundir.read_summary(run_dir)
    if summary is None:
        raise RunDirError(
            f"{run_dir}: the run has no winner yet (status {manifest.status})",
            hint=f"finish it first: opro resume {run_dir}",
        )
    config = run_dir / rundir.CONFIG
    spec = parse_spec(rundir.read_config_text(run_dir), source=str(config))
    return manifest, summary, spec


def prompt_record(manifest: Manifest, summary: Summary, spec: RunSpec) -> dict[str, Any]:
    best, seed = summary.best, summary.best_seed
    return {
        "prompt": best.text,
        "id": best.id,
        "instruction_position": spec.scorer.instruction_position,
        "scores": {split: best.score(split) for split in rundir.SPLITS},
        "seed_prompt": {
            "text": seed.text,
            "scores": {split: seed.score(split) for split in rundir.SPLITS},
        },
        "improvement": None if summary.improvement is None else summary.improvement.to_json(),
        "provenance": {
            "run": manifest.name,
            "run_dir": summary.run_dir,
            "status": manifest.status,
            "started_at": manifest.started_at,
            "ended_at": manifest.ended_at,
            "opro_version": manifest.opro_version,
            "litellm_version": manifest.litellm_version,
            "scorer": spec.scorer.model,
            "optimizer": spec.optimizer.model,
            "metric": spec.metric.name,
            "dataset": manifest.dataset.path,
            "dataset_sha256": manifest.dataset.sha256,
            "seed": manifest.seed,
        },
    }


def promptfoo_prompt(instruction: str, position: Position) -> str:
    """The winning prompt in promptfoo's form, with the example as ``{{input}}``: the scorer's
    messages as JSON when there is more than one, else the one message's text."""
    messages = scorer_messages(instruction, "{{input}}", position)
    if len(messages) == 1:
        return messages[0]["content"]
    return json.dumps(messages)


LLAMA_SERVER_BASE = "http://127.0.0.1:8080/v1"
_SAME_NAME = ("openai", "ollama", "groq", "mistral", "deepseek")


def promptfoo_provider(scorer: ScorerSpec) -> tuple[dict[str, Any], str | None]:
    """The scorer as a promptfoo provider (litellm's ``provider/model`` in promptfoo's
    ``provider:model`` form), and a note for the top of the config where promptfoo cannot use
    it as it is."""
    provider, _, name = scorer.model.partition("/")
    config: dict[str, Any] = {"temperature": scorer.temperature}
    if scorer.max_tokens:
        config["max_tokens"] = scorer.max_tokens
    note = None
    if provider == "local":
        # promptfoo cannot load opro's in-process model: llama.cpp's server can serve the file
        model_name = Path(name).stem if name.endswith(".gguf") else name
        path = _gguf_path(name)
        provider_id = f"openai:chat:{model_name}"
        config["apiBaseUrl"] = LLAMA_SERVER_BASE
        note = (
            f"The run scored with opro's in-process model {scorer.model}, which promptfoo cannot "
            "load.\nServe the same GGUF file with llama.cpp's server, where this config expects "
            f"it:\n  llama-server -m {path} --port 8080\nor with llama-cpp-python's (pip install "
            f"'llama-cpp-python[server]'):\n  python -m llama_cpp.server --model {path} --port 8080"
        )
    elif provider == "openai" and scorer.api_base:
        provider_id = f"openai:chat:{name}"  # any model name, on any OpenAI-compatible server
        config["apiBaseUrl"] = scorer.api_base
    elif provider == "anthropic":
        provider_id = f"anthropic:messages:{name}"
    elif provider == "gemini":
        provider_id = f"google:{name}"
    elif provider in _SAME_NAME:
        provider_id = f"{provider}:{name}"
    else:
        provider_id = scorer.model
        note = (
            f"opro does not know promptfoo's name for the provider of {scorer.model}: check the "
            "provider id (https://promptfoo.dev/docs/providers)."
        )
    if scorer.api_base and "apiBaseUrl" not in config:
        note = (
            f"The run called {scorer.model} at {scorer.api_base}: set that address in the "
            "provider's config (https://promptfoo.dev/docs/providers)."
        )
    return {"id": provider_id, "config": config}, note


def _gguf_path(name: str) -> str:
    from opro_cli.errors import OproError
    from opro_cli.models.local import resolve_model_path

    try:
        return str(resolve_model_path(name))
    except OproError:
        return name if name.endswith(".gguf") else "PATH/TO/MODEL.gguf"


def promptfoo_assertion(spec: RunSpec, target: str) -> dict[str, Any]:
    metric = spec.metric
    quoted = json.dumps(target)
    if metric.name == "exact_match" and not metric.ignore_case:
        return {"type": "equals", "value": target}
    if metric.name == "exact_match":
        return {
            "type": "javascript",
            "value": f"output.trim().toLowerCase() === {quoted}.trim().toLowerCase()",
        }
    if metric.name == "regex" and metric.pattern:
        pattern = json.dumps(metric.pattern)
        return {
            "type": "javascript",
            "value": (
                f"const m = output.match(new RegExp({pattern})); "
                f"return !!m && (m[1] ?? m[0]).trim().toLowerCase() === {quoted}.toLowerCase();"
            ),
        }
    if metric.name == "numeric":
        return {
            "type": "javascript",
            "value": (
                "const n = (output.replace(/,/g, '').match(/-?\\d+(\\.\\d+)?/g) || []).pop(); "
                f"return n !== undefined && Math.abs(parseFloat(n) - {float(target)!r}) "
                f"<= {metric.tolerance!r};"
            ),
        }
    return {"type": "icontains", "value": target}


def promptfoo_config(
    manifest: Manifest, summary: Summary, spec: RunSpec, provider: dict[str, Any]
) -> dict[str, Any]:
    from opro_cli.data import load_splits

    splits = load_splits(spec.dataset)
    best = summary.best
    note = (
        ""
        if spec.metric.name in ("exact_match", "regex", "numeric", "contains")
        else (f" (the {spec.metric.name} metric is approximated by icontains)")
    )
    return {
        "description": f"opro winner of run {manifest.name}: regression tests from its "
        f"test split{note}",
        "prompts": [
            {
                "id": f"opro-{best.id}",
                "label": f"opro {manifest.name}",
                "raw": promptfoo_prompt(best.text, spec.scorer.instruction_position),
            }
        ],
        "providers": [provider],
        "tests": [
            {
                "description": example.id,
                "vars": {"input": example.input},
                "assert": [promptfoo_assertion(spec, example.target)],
            }
            for example in splits.test
        ],
    }


def export_run(run_dir: Path, fmt: str) -> str:
    """The export as text; every string is filtered for secrets before it is serialized (JSON
    escaping or YAML folding could hide one from a filter run on the text afterwards)."""
    manifest, summary, spec = load_finished_run(run_dir)
    if fmt == "txt":
        return redact(summary.best.text) + "\n"
    if fmt == "json":
        return json.dumps(redact_tree(prompt_record(manifest, summary, spec)), indent=2) + "\n"
    if fmt == "yaml":
        return _yaml(redact_tree(prompt_record(manifest, summary, spec)))
    provider, note = promptfoo_provider(spec.scorer)
    text = _yaml(redact_tree(promptfoo_config(manifest, summary, spec, provider)))
    if note:
        text = "".join(f"# {line}\n" for line in redact(note).splitlines()) + text
    return text


def _yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
