"""The secret filter: exact masking, never a rewrite of ordinary text.

``redact`` (text that leaves the machine) masks credential values of the environment and key
shapes; ``redact_stored`` (data read back) masks only the environment's values. Ordinary words,
identifiers and paths that merely contain ``sk-``, ``ghp_``, ``xox``, ``AKIA`` or ``hf_`` pass both
unchanged; realistic keys are masked wherever they stand.
"""

from __future__ import annotations

import json
import random
import string
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from opro_cli.cli import app
from opro_cli.errors import BadRequestError, SpecError
from opro_cli.secrets import (
    MASK,
    find_secret,
    is_credential_key,
    redact,
    redact_stored,
    redact_tree,
    secret_env_values,
    secret_names,
)
from opro_cli.spec import load_spec

PLANTED = "sk-planted-0123456789abcdefXYZ"
NO_ENV: dict[str, str] = {}

# Ordinary text with key prefixes inside or around it. None of it may change.
LOOKALIKES = [
    # words and phrases that contain "sk-" in the middle of a word
    "task-specific",
    "risk-assessment",
    "desk-logistics",
    "Ask-Questions",
    "Give a task-specific label: positive or negative.",
    "Rate the risk-assessment summary from 1 to 5.",
    "kiosk-mode-enabled-v2",
    "whisk-together-3-eggs",
    "brisk-walk-30-minutes",
    "asterisk-separated-values-2024",
    "husk-removal-stage-3",
    "obelisk-monument-in-the-square",
    "musk-ox-population-1998",
    "frisk-search-policy-v3",
    "dusk-till-dawn-playlist-2021",
    "risk-adjusted-return-2023-Q4-FINAL-v2",
    "Risk-Assessment-2024-Q3-Final",
    "Desk-Logistics-Team-2024-Roster",
    "Kiosk-Firmware-Build-2024-Release",
    "mask-rcnn-resnet50-fpn-coco-2020",
    "wsk-project-alpha-2024-rollout-plan-v3",
    "pandas_task-specific_v2_alpha",
    "skimming",
    "skeleton-key-generator",
    # paths and URLs
    "/data/risk-assessment/train.jsonl",
    "/home/ci/work/desk-logistics/data/val_2024.jsonl",
    "disk-usage-report-2023-10-01.csv",
    "s3://bucket/risk-assessment/2024/train-00001-of-00004.parquet",
    "C:\\Users\\ana\\task-specific\\data.csv",
    "https://user@example.com/repo.git",
    "git@github.com:org/repo.git",
    "ssh://git@gitlab.com:2222/group/project.git",
    "https://example.com:8443/v1/chat/completions",
    "http://localhost:8080/v1",
    "mailto:support@example.com",
    # the prefixes themselves, placeholders and documentation
    "sk-",
    "sk-1",
    "sk-proj",
    "sk-proj-",
    "sk-learn",
    "sk-learn-compatible-estimators",
    "sk-...",
    "sk-<your-key-here>",
    "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "export OPENAI_API_KEY=sk-...",
    "The sk- prefix marks OpenAI keys; sk-ant- marks Anthropic ones.",
    "sklearn.model_selection.train_test_split",
    "sk-SK",
    "Accept-Language: cs-CZ,sk-SK;q=0.8,en-US;q=0.5",
    "sk_SK.UTF-8",
    # GitHub, Slack, AWS, Google, Hugging Face look-alikes
    "ghp_old",
    "ghp_old_token_revoked",
    "gho_away",
    "ghs_config_v2",
    "ghr_release_notes_2023",
    "github_pat_rotation_policy",
    "xoxo",
    "xoxo-hugs-and-kisses",
    "xoxb-",
    "xoxp-bot-scopes-docs",
    "Slack tokens look like xoxb-<team>-<bot>-<secret>.",
    "xoxb-2024-release-notes-draft",
    "AKIA",
    "AKIAexample",
    "AKIA_ROTATION_DAYS_90",
    "AKIAIOSFODNN",
    "ASIA-PACIFIC-2024",
    "ASIAN_MARKETS_Q3_REPORT",
    "ASIANPACIFICISLANDER",
    "AIzaBeta",
    "hf_hub_download",
    "hf_transfer",
    "hf_datasets_cache_dir_v2",
    "hf_model_id=meta-llama/Llama-3.1-8B-Instruct",
    # bearer and other words around credentials
    "Bearer of bad news",
    "bearer-token-auth-guide",
    "Authorization: Bearer <token>",
    "Bearer token-rotation-guide-2024",
    "Authorization: Bearer $OPENAI_API_KEY",
    "max_completion_tokens",
    "input_cost_per_token",
    "TOKENIZERS_PARALLELISM=false",
    "KEY-2024-ALPHA",
    # ids and hashes
    "2024-01-01T12:30:00Z",
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "550e8400-e29b-41d4-a716-446655440000",
    "run-20240101-123000-task-specific",
]

# Where a key may stand: each context with {k} for the key.
CONTEXTS = [
    "{k}",
    "{k} is the key",
    "the key is {k}",
    "the key is {k}.",
    "key={k}&model=gpt-4o",
    '{{"api_key": "{k}", "model": "gpt-4o"}}',
    "Authorization: Bearer {k}",
    "https://api.example.com/v1/models?key={k}",
    "https://user:{k}@proxy.example.com/v1",
    "'{k}'",
    "({k})",
    "first line\n{k}\nlast line",
    "error: invalid key {k}, check your settings",
]

B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"


def draw(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def aws_key_id(rng: random.Random, prefix: str) -> str:
    # Ids are base32 (A-Z, 2-7); the shape needs a digit, which about 3.6% of ids lack (an id
    # is not secret on its own; the secret key is masked through AWS_SECRET_ACCESS_KEY).
    while True:
        body = draw(rng, string.ascii_uppercase + "234567", 16)
        if any(c.isdigit() for c in body):
            return prefix + body


KEY_MAKERS = {
    "openai": lambda r: "sk-" + draw(r, B62, 20) + "T3BlbkFJ" + draw(r, B62, 20),
    "openai-project": lambda r: "sk-proj-" + draw(r, B64URL, 74) + "T3BlbkFJ" + draw(r, B64URL, 74),
    "openai-service": lambda r: (
        "sk-svcacct-" + draw(r, B64URL, 74) + "T3BlbkFJ" + draw(r, B64URL, 74)
    ),
    "anthropic": lambda r: "sk-ant-api03-" + draw(r, B64URL, 93) + "AA",
    "deepseek": lambda r: "sk-" + draw(r, "0123456789abcdef", 32),
    "github": lambda r: r.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + draw(r, B62, 36),
    "github-fine-grained": lambda r: "github_pat_" + draw(r, B62, 22) + "_" + draw(r, B62, 59),
    "slack": lambda r: (
        f"xox{r.choice('baprs')}-{draw(r, string.digits, 11)}-{draw(r, string.digits, 13)}-"
        + draw(r, B62, 24)
    ),
    "google": lambda r: "AIza" + draw(r, B64URL, 35),
    "aws": lambda r: aws_key_id(r, r.choice(["AKIA", "ASIA"])),
    "huggingface": lambda r: "hf_" + draw(r, string.ascii_letters, 34),
}


@pytest.mark.parametrize("text", LOOKALIKES)
def test_ordinary_text_is_never_rewritten(text: str) -> None:
    env = {"OPENAI_API_KEY": PLANTED, "HOME": "/root"}
    assert redact(text, env) == text
    assert redact_stored(text, env) == text
    assert find_secret(text, env) is None


def test_the_look_alike_list_is_long_enough_to_mean_something() -> None:
    assert len(set(LOOKALIKES)) == len(LOOKALIKES) >= 60


def test_ordinary_text_survives_in_any_combination() -> None:
    rng = random.Random(20240610)
    separators = [" ", ", ", "\n", " / ", ": ", "\t"]
    for _ in range(2000):
        parts = rng.sample(LOOKALIKES, rng.randint(2, 6))
        text = "".join(p + rng.choice(separators) for p in parts)
        wrapped = json.dumps({"prompt": text, "paths": parts})
        assert redact(text, NO_ENV) == text
        assert redact(wrapped, NO_ENV) == wrapped


def test_python_standard_library_source_passes_unchanged() -> None:
    # ~5 MB of identifiers, paths, docstrings and URLs written by many people: not one match.
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py")) + sorted(root.glob("email/*.py"))
    assert len(files) > 150
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert redact(text, NO_ENV) == text, path.name


# The right prefix and length, but one kind of character: identifiers or placeholders, not keys.
NEAR_MISSES = [
    "sk-" + "abcdefghijklmnopqrstuvwx" * 2,
    "sk-proj-" + "Abcdefghijklmnopqrstuvwxyz" * 3,
    "sk-ant-api-" + "abcdefghij0123456789" * 2,
    "ghp_" + "abcdefghijklmnopqrstuvwxyzabcdefghij",
    "github_pat_" + "A" * 22 + "_" + "B" * 59,
    "xoxb-" + "abcdefghijklmnopqrstuvwxyz",
    "AIza" + "abcdefghijklmnopqrstuvwxyzabcdefghi",
    "AKIAABCDEFGHIJKLMNOP",
    "hf_" + "abcdefghijklmnopqrstuvwxyzabcdefgh",
    "Bearer abcdefghijklmnopqrstuvwxyz",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_a_key_prefix_with_one_kind_of_character_is_not_a_key(text: str) -> None:
    assert redact(text, NO_ENV) == text


@pytest.mark.parametrize("kind", sorted(KEY_MAKERS))
def test_real_key_shapes_are_masked_wherever_they_stand(kind: str) -> None:
    rng = random.Random(kind)
    for _ in range(200):
        key = KEY_MAKERS[kind](rng)
        for context in CONTEXTS:
            assert redact(context.format(k=key), NO_ENV) == context.format(k=MASK), (kind, key)


@pytest.mark.parametrize("kind", sorted(KEY_MAKERS))
def test_stored_data_keeps_key_shapes_but_find_secret_names_them(kind: str) -> None:
    key = KEY_MAKERS[kind](random.Random(kind))
    assert redact_stored(f"answer: {key}", NO_ENV) == f"answer: {key}"
    found = find_secret(f"answer: {key}", NO_ENV)
    assert found is not None and not found.env_name_exact


def test_find_secret_names_the_kind_and_the_variable_it_belongs_in() -> None:
    rng = random.Random(1)
    found = find_secret(KEY_MAKERS["anthropic"](rng), NO_ENV)
    assert found is not None
    assert (found.what, found.env_name) == ("an Anthropic API key", "ANTHROPIC_API_KEY")
    found = find_secret(KEY_MAKERS["openai-project"](rng), NO_ENV)
    assert found is not None
    assert (found.what, found.env_name) == ("an OpenAI API key", "OPENAI_API_KEY")
    found = find_secret("https://bob:hunter2@proxy.example.com", NO_ENV)
    assert found is not None and found.in_url and found.what == "a password in a URL"
    found = find_secret("x PLANTED y".replace("PLANTED", PLANTED), {"MY_TOKEN": PLANTED})
    assert found is not None and found.env_name_exact
    assert (found.what, found.env_name) == ("the value of $MY_TOKEN", "MY_TOKEN")


def test_bearer_tokens_and_url_passwords_keep_their_frame() -> None:
    jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N"
    assert redact(f"Authorization: Bearer {jwt}", NO_ENV) == "Authorization: Bearer ***"
    assert redact(f"authorization: bearer {jwt}\n", NO_ENV) == "authorization: bearer ***\n"
    assert redact(jwt, NO_ENV) == jwt  # a bare JWT is data, not a header
    assert redact("postgres://app:s3cr3t@db:5432/x", NO_ENV) == "postgres://app:***@db:5432/x"
    assert redact("redis://:hunter2@cache:6379", NO_ENV) == "redis://:***@cache:6379"


def test_the_planted_environment_key_is_masked_in_both_rules() -> None:
    env = {"OPENAI_API_KEY": PLANTED, "MY_SERVICE_TOKEN": "tok-planted-998877"}
    text = f"task-specific {PLANTED}; tok-planted-998877 in /data/risk-assessment/"
    assert redact(text, env) == "task-specific ***; *** in /data/risk-assessment/"
    assert redact_stored(text, env) == "task-specific ***; *** in /data/risk-assessment/"
    assert secret_names(env) == ["MY_SERVICE_TOKEN", "OPENAI_API_KEY"]


def test_which_environment_values_count_as_credentials() -> None:
    env = {
        "OPENAI_API_KEY": "  Zq8xW3vN5mK1pL7rT4\n",  # trimmed
        "HF_TOKEN": "hf_abcdefghijklmnopqrstuvwxyzABCDEFGH",
        "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "DB_PASSWORD": "changeme",  # a plain word: would rewrite "changeme" everywhere
        "ADMIN_PASSWORD": "correcthorsebatterystaple",  # 20+ characters: a passphrase
        "SHORT_SECRET": "abc1",  # under 8 characters
        "FLAG_TOKEN": "true",
        "TOKENIZERS_PARALLELISM": "false-but-long-enough-1",  # TOKENIZERS is not TOKEN
        "SSL_KEY_FILE": "/etc/ssl/private/key.pem",  # a location, not a credential
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",  # an id (masked by its shape instead)
        "HOME": "/root/Zq8xW3vN5mK1pL7rT4",
        "DEPLOY_NOTE": "release-candidate",
    }
    assert sorted(secret_env_values(env)) == [
        "ADMIN_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "HF_TOKEN",
        "OPENAI_API_KEY",
    ]
    assert secret_env_values(env)["OPENAI_API_KEY"] == "Zq8xW3vN5mK1pL7rT4"
    assert redact_stored("changeme; true; abc1", env) == "changeme; true; abc1"


def test_opro_secret_env_marks_more_variables() -> None:
    env = {
        "OPRO_SECRET_ENV": "DEPLOY_NOTE, VAULT_PIN,MISSING",
        "DEPLOY_NOTE": "releasecandidate",  # a plain word, masked because it is marked
        "VAULT_PIN": "1234",  # marked, but under 8 characters: never masked
        "OTHER": "releasecandidate2",
    }
    assert secret_names(env) == ["DEPLOY_NOTE"]
    text = "releasecandidate2 and releasecandidate and 1234"
    assert redact_stored(text, env) == "***2 and *** and 1234"


def test_longer_values_are_masked_before_their_prefixes() -> None:
    env = {"A_TOKEN": "Abcdef12", "B_TOKEN": "Abcdef12345678"}
    assert redact_stored("x Abcdef12345678 y Abcdef12 z", env) == "x *** y *** z"


def test_redact_tree_masks_values_not_serialized_text() -> None:
    env = {"OPENAI_API_KEY": PLANTED}
    record = {
        "note": PLANTED,
        "seed": "Give a task-specific label.",
        "items": [PLANTED, ("tuple", 1.5), None, 3],
        PLANTED: True,
    }
    masked = redact_tree(record, lambda s: redact(s, env))
    assert masked == {
        "note": MASK,
        "seed": "Give a task-specific label.",
        "items": [MASK, ("tuple", 1.5), None, 3],
        MASK: True,
    }
    assert record["note"] == PLANTED  # a new value; the input is untouched
    # a masked whole value still makes valid YAML once serialized (a bare *** is an alias)
    assert yaml.safe_load(yaml.safe_dump(masked)) == {
        **masked,
        "items": [MASK, ["tuple", 1.5], None, 3],
    }
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load("note: ***\n")


def test_a_secret_that_json_escapes_is_found_in_the_tree_not_in_the_text() -> None:
    env = {"DB_PASSWORD": 'pa"ss\\word99'}
    as_json = json.dumps({"error": 'login failed for pa"ss\\word99'})
    assert 'pa"ss\\word99' not in as_json  # why stores must mask before serializing
    assert redact_tree(
        {"error": 'login failed for pa"ss\\word99'}, lambda s: redact_stored(s, env)
    ) == {"error": "login failed for ***"}


@pytest.mark.parametrize(
    "name",
    [
        "api_key",
        "API_KEY",
        "apiKey",
        "x-api-key",
        "api_token",
        "access_token",
        "token",
        "Authorization",
        "authorization_token",
        "password",
        "client_secret",
        "clientSecret",
        "aws_secret_access_key",
        "aws_session_token",
        "azure_ad_token",
        "vertex_credentials",
        "private_key",
        "openai_api_key",
    ],
)
def test_names_that_can_only_hold_a_credential(name: str) -> None:
    assert is_credential_key(name)


@pytest.mark.parametrize(
    "name",
    [
        "max_completion_tokens",
        "max_tokens",
        "input_cost_per_token",
        "output_cost_per_token",
        "top_k",
        "prompt_cache_key",
        "bos_token",
        "keep_alive",
        "extra_headers",
        "api_version",
        "aws_access_key_id",
        "aws_region_name",
        "litellm_credential_name",
        "reasoning_effort",
        "monkey",
    ],
)
def test_ordinary_option_names_are_not_credentials(name: str) -> None:
    assert not is_credential_key(name)


# ---------------------------------------------------------------------------------------------
# The spec refuses credentials written into it


SPEC = """\
name: t
task: Label the ticket.
seed_prompts: ["Give a task-specific label."]
dataset: {path: /data/risk-assessment/train.jsonl, input: q, target: a}
scorer:
  model: openai/gpt-4o-mini
  extra:
EXTRA
"""


def spec_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    return str(info.value)


def test_spec_with_ordinary_extra_and_look_alikes_loads_unchanged(tmp_path: Path) -> None:
    extra = (
        "    max_completion_tokens: 64\n"
        "    input_cost_per_token: 0.0000015\n"
        "    output_cost_per_token: 0.000002\n"
        "    top_k: 40\n"
        "    prompt_cache_key: desk-logistics\n"
        "    extra_headers: {X-Team: risk-assessment}\n"
    )
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("EXTRA\n", extra), encoding="utf-8")
    spec = load_spec(path)
    assert spec.seed_prompts == ("Give a task-specific label.",)
    assert spec.dataset.path == "/data/risk-assessment/train.jsonl"
    assert spec.scorer.extra["prompt_cache_key"] == "desk-logistics"
    assert spec.scorer.extra["input_cost_per_token"] == 0.0000015


def test_extra_is_checked_by_value_and_by_credential_names(tmp_path: Path, monkeypatch) -> None:
    key = KEY_MAKERS["openai-project"](random.Random(7))
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-planted-998877")
    extra = (
        "    api_key: x\n"
        f"    note: {key}\n"
        "    user: tok-planted-998877\n"
        "    extra_headers:\n"
        "      Authorization: Basic abc\n"
        "      X-Trace: ok\n"
    )
    message = spec_error(tmp_path, SPEC.replace("EXTRA\n", extra))
    where = f"{tmp_path / 'spec.yaml'}"
    keep = "keep credentials in the environment"
    reads = "LiteLLM reads them from there"
    assert message.splitlines() == [
        f"{where}:8: scorer.extra.api_key: looks like a secret (this key only holds credentials)"
        f" -> {keep} (e.g. OPENAI_API_KEY); {reads}",
        f"{where}:9: scorer.extra.note: looks like an OpenAI API key -> {keep} (OPENAI_API_KEY);"
        f" {reads}",
        f"{where}:10: scorer.extra.user: holds the value of $MY_SERVICE_TOKEN -> {keep}"
        f" (MY_SERVICE_TOKEN); {reads}",
        f"{where}:12: scorer.extra.extra_headers.Authorization: looks like a secret (this key only"
        f" holds credentials) -> {keep} (e.g. OPENAI_API_KEY); {reads}",
    ]
    assert key not in message and "tok-planted-998877" not in message


def test_a_password_in_api_base_is_refused(tmp_path: Path) -> None:
    text = SPEC.replace(
        "  extra:\nEXTRA\n", "  api_base: https://bob:hunter2@proxy.example.com/v1\n"
    )
    message = spec_error(tmp_path, text)
    assert message == (
        f"{tmp_path / 'spec.yaml'}:7: scorer.api_base: holds a password in a URL -> remove "
        "user:password@ from the URL and keep credentials in the environment "
        "(e.g. OPENAI_API_KEY); LiteLLM reads them from there"
    )
    assert "hunter2" not in message


def test_a_credential_anywhere_else_in_the_spec_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED)
    text = SPEC.replace("  extra:\nEXTRA\n", "").replace(
        "Give a task-specific label.", f"Give a task-specific label. Key: {PLANTED}"
    )
    message = spec_error(tmp_path, text)
    assert message == (
        f"{tmp_path / 'spec.yaml'}:3: seed_prompts.0: holds the value of $OPENAI_API_KEY -> "
        "remove it: the spec is copied into every run and prompts go to the models"
    )


# ---------------------------------------------------------------------------------------------
# End to end


def test_a_planted_key_lands_nowhere(
    parity_project, test_models, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", PLANTED)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "tok-planted-998877")

    def leaky(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
        if "item 3" in messages[-1]["content"]:
            raise BadRequestError(f"bad key {PLANTED}")
        return f"odd, and my key is {PLANTED} tok-planted-998877"

    test_models.add("leaky", leaky)
    spec = parity_project(scorer={"model": "openai/leaky"}, budget={"steps": 1})
    runner = CliRunner()
    result = runner.invoke(app, ["run", str(spec)])
    assert result.exit_code == 0, result.output
    (run,) = (tmp_path / "runs").iterdir()
    outputs = [
        runner.invoke(app, ["export", str(run), "-f", fmt]).output
        for fmt in ("txt", "json", "yaml", "promptfoo")
    ]
    reports = [
        runner.invoke(app, ["report", *names, "-f", fmt])
        for names in ([], [run.name])
        for fmt in ("table", "md", "json", "html")
    ]
    assert all(report.exit_code == 0 for report in reports)
    assert all(run.name in report.output for report in reports)
    outputs += [report.output for report in reports]
    files = [p for root in (tmp_path / "runs", tmp_path / "cache") for p in root.rglob("*")]
    assert any(p.name == "evaluations.jsonl" for p in files)
    assert any(p.name.startswith("responses.sqlite3") for p in files)
    for path in files:
        if path.is_file():
            data = path.read_bytes()
            assert PLANTED.encode() not in data, path
            assert b"tok-planted-998877" not in data, path
    for text in [result.output, *outputs]:
        assert PLANTED not in text
    assert "***" in (run / "evaluations.jsonl").read_text()


@pytest.mark.parametrize("key", ["api_key", "Authorization_token"])
def test_spec_refuses_secrets_in_extra(parity_project, key: str) -> None:
    spec = parity_project(scorer={"model": "openai/parity", "extra": {key: "x"}})
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert f"scorer.extra.{key}: looks like a secret" in result.output


def test_spec_accepts_litellm_options_that_merely_mention_tokens(parity_project) -> None:
    extra = {
        "max_completion_tokens": 16,
        "input_cost_per_token": 1e-6,
        "output_cost_per_token": 2e-6,
    }
    spec = parity_project(scorer={"model": "openai/parity", "extra": extra})
    result = CliRunner().invoke(app, ["validate", str(spec)])
    assert result.exit_code == 0, result.output
