"""What each key of the run spec means, for the keys whose field has no ``description`` of its
own: one line per key, by its dotted path in the YAML.

The JSON Schema (``opro schema``) carries these as descriptions, so an editor shows them on
hover. A new key is described either here or by ``Field(description=...)`` on the model, never
both: tests/test_schema.py fails when a key has no description, two, or a line here names a key
that does not exist.
"""

from __future__ import annotations

_MODEL = {
    "model": "a LiteLLM model string, provider/name (openai/gpt-4o-mini, anthropic/..., "
    "ollama/...); local/smollm2-135m-instruct or local/<path>.gguf run in-process on the CPU",
    "temperature": "sampling temperature, 0-2",
    "max_tokens": "the most tokens one answer may have",
    "api_base": "the server's URL, for self-hosted or proxied models (vLLM, llama.cpp, Ollama, "
    "a LiteLLM proxy); never with a password in it",
    "timeout_s": "seconds one call may take before it counts as timed out (and is retried)",
    "max_retries": "opro's own retries of a call that hit a 429, a 5xx, a timeout or a dropped "
    "connection, with exponential backoff",
    "extra": "more keyword arguments passed through to litellm.completion (top_p, "
    "extra_headers, ...); never credentials: LiteLLM reads keys from the environment",
    "prices": "the model's price, for a model LiteLLM has none for (self-hosted, fine-tuned): "
    "needed for budget.max_cost_usd",
}

DESCRIPTIONS: dict[str, str] = {
    "": "An opro run spec: what to optimize, on which data, with which models and budget.",
    "name": "names the run and its directory: letters, digits, '.', '_' or '-' (at most 80)",
    "task": "what the prompt is for, in a sentence; the optimizer model reads it in every "
    "meta-prompt",
    "seed_prompts": 'the instructions to start from: one text or a list; "" (no instruction) '
    "is allowed",
    "dataset": "the labelled examples and how they are split",
    "dataset.path": "the data file (.jsonl, .json, .csv, .parquet), relative to the spec; "
    "leave it out when split names one file per split",
    "dataset.input": "the column the model sees, or a template of columns: 'Question: {question}'",
    "dataset.target": "the column with the expected answer",
    "dataset.id": "a column of unique ids (default: a hash of the input and the target)",
    "dataset.options": "a column with the list of answer options of each example (choice metric)",
    "dataset.split": "fractions of the one file, or one file per split",
    "dataset.split.train": "the fraction of examples (or the file) the optimization is scored on",
    "dataset.split.val": "the fraction (or file) the winner is picked on",
    "dataset.split.test": "the fraction (or file) the final result is reported on, never "
    "optimized on",
    "dataset.seed": "the seed of the split: each example's split is a hash of its id and this seed",
    "dataset.limit": "use only N examples (a stable choice), for a quick first try",
    "metric": "how an answer is scored: a metric name, or a mapping with its options",
    "metric.name": "exact_match, contains, regex, numeric, choice, f1, json, python or judge",
    "metric.ignore_case": "compare without case (exact_match, contains, choice)",
    "metric.ignore_whitespace": "collapse runs of spaces and trim before comparing",
    "metric.ignore_punctuation": "drop punctuation before comparing",
    "metric.pattern": "regex: the pattern whose first match (group 1 if any) is the answer",
    "metric.tolerance": "numeric, json: how far a number may be from the target",
    "metric.choices": "choice: the answer options (else each example's options column)",
    "metric.letters": "choice: whether an answer may pick an option by letter ((B)): auto, "
    "true or false",
    "metric.schema": "json: a JSON Schema file (relative to the spec) answers must satisfy",
    "metric.fields": "json: dotted paths of the fields to compare (customer.name, items.0.sku)",
    "metric.field_match": "json: exact, or f1 for token F1 per field",
    "metric.python": "a custom metric, path/to/file.py:function (score(prediction, target) "
    "-> 0..1)",
    **{f"metric.{key}": f"judge: {text}" for key, text in _MODEL.items() if key != "model"},
    "scorer": "the model that answers the examples with each candidate instruction",
    **{f"scorer.{key}": text for key, text in _MODEL.items()},
    "scorer.instruction_position": "where the instruction goes: system (a system message), "
    "q_begin / q_end (before / after the input), a_begin (start of the answer)",
    "optimizer": "the model that proposes new instructions from the scored history",
    **{f"optimizer.{key}": text for key, text in _MODEL.items()},
    "optimizer.candidates_per_step": "instructions proposed per step, one call each",
    "optimizer.history_size": "the best (instruction, score) pairs shown in the meta-prompt",
    "optimizer.exemplars": "random train examples shown in the meta-prompt",
    "optimizer.max_instruction_chars": "proposals longer than this are dropped",
    "optimizer.score_buckets": "scores are shown to the optimizer as integers 0 to this",
    "budget": "when to stop",
    "budget.steps": "optimization steps after the seed prompts are scored",
    "budget.max_calls": "stop before a step that would exceed this many model calls",
    "budget.max_tokens": "stop before a step that would exceed this many tokens",
    "budget.max_cost_usd": "stop before a step that would exceed this cost",
    "budget.max_minutes": "stop before a step that would run past this many minutes",
    "selection": "how the winner is picked and tested",
    "selection.ci_level": "the confidence level of that interval",
    "evaluation": "how new candidates are scored on the train split: full or racing",
    "concurrency": "model calls in flight at once (local models run one at a time)",
    "seed": "the seed of exemplar choice and optimizer sampling",
    "tracking": "where else the run is recorded",
    "tracking.mlflow": "log the run to MLflow (pip install 'opro-cli[mlflow]')",
    "tracking.mlflow.experiment": "the MLflow experiment the run is logged under",
    "tracking.mlflow.tracking_uri": "the tracking server or store (default: "
    "MLFLOW_TRACKING_URI, else MLflow's own default)",
    "callbacks": "LiteLLM callback names for tracing calls (langfuse, otel, ...); their "
    "settings and keys come from the environment",
}
