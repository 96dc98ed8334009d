"""Keep credentials out of what opro shows and writes, without rewriting the user's data.

Two kinds of output, two rules::

    redact(text)          text that leaves the machine or reaches a terminal: console lines, the
                          GitHub step summary, --json, reports, exports, error messages.
                          Masks credential values from the environment AND key-shaped tokens
                          (provider key formats, bearer tokens, passwords in URLs).
    redact_stored(text)   data stored to be read back: the spec snapshot, prompts, dataset paths,
                          cached answers, evaluations. Masks ONLY the exact values of credential
                          environment variables (they can only get there by accident); anything
                          else is written as it is, because a masked prompt, path or answer read
                          back is a different prompt, path or answer.
    redact_tree(value, f) applies one of the two to every string (and key) of a JSON-like value;
                          mask before serializing, never the serialized JSON/YAML text (escaping
                          and line folding hide a value from the filter, and a bare ``***`` is a
                          YAML alias, which makes the file invalid).

For spec validation, ``find_secret(text)`` says what credential a value holds and
``is_credential_key(name)`` which option names can only hold one.

Which environment values count as credentials (``secret_env_values``):

* variables whose name has a part ending in KEY, TOKEN, SECRET, PASSWORD, PASSWD or CREDENTIAL(S)
  (``OPENAI_API_KEY``, ``HF_TOKEN``, ``DB_PASSWORD``; not ``TOKENIZERS_PARALLELISM``), except names
  that end in a part naming a location or an id (``*_FILE``, ``*_PATH``, ``*_DIR``, ``*_URL``,
  ``*_ID``, ...), and every variable listed in ``OPRO_SECRET_ENV=NAME1,NAME2``;
* whose value (spaces trimmed) has at least 8 characters: shorter values ("1", "true", "test")
  would mask ordinary words everywhere;
* and, for variables picked by name only, is not a plain word: it mixes two kinds of characters
  (lower case, upper case, digits, others) or has at least 20 characters. ``DB_PASSWORD=changeme``
  is not masked, since masking it would rewrite the word "changeme" in every prompt and answer; a
  variable listed in ``OPRO_SECRET_ENV`` is masked even when its value is a plain word.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

MASK = "***"
SECRET_ENV_LIST = "OPRO_SECRET_ENV"
MIN_SECRET_CHARS = 8
PLAIN_WORD_CHARS = 20

_CREDENTIAL_PARTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS")
_NOT_A_CREDENTIAL_LAST_PART = frozenset(
    {"FILE", "FILES", "PATH", "DIR", "DIRS", "URL", "URI", "HOST", "PORT", "NAME", "ID", "TYPE"}
)

_T = TypeVar("_T")


@dataclass(frozen=True)
class Finding:
    """A credential found in a value: what it is, and the variable it belongs in."""

    what: str  # "an OpenAI API key", "the value of $OPENAI_API_KEY", "a password in a URL"
    env_name: str | None  # where the user should keep it, e.g. "OPENAI_API_KEY"
    env_name_exact: bool = False  # the value of that very variable, not only its shape
    in_url: bool = False  # a password written into a URL (user:password@host)


# ---------------------------------------------------------------------------------------------
# Credential values from the environment


def _is_credential_name(name: str) -> bool:
    parts = [p for p in re.split(r"[^A-Z0-9]+", name.upper()) if p]
    if not parts or parts[-1] in _NOT_A_CREDENTIAL_LAST_PART:
        return False
    return any(part.endswith(_CREDENTIAL_PARTS) for part in parts)


def is_secret_env_name(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether a variable's name says it holds a credential (``*_API_KEY``, ``*_TOKEN``, ...),
    or ``OPRO_SECRET_ENV`` lists it: such a variable's value is never copied into a spec."""
    env = os.environ if environ is None else environ
    return _is_credential_name(name) or name in _marked_names(env)


def _character_kinds(value: str) -> int:
    return (
        any(c.islower() for c in value)
        + any(c.isupper() for c in value)
        + any(c.isdigit() for c in value)
        + any(not c.isalnum() for c in value)
    )


def _marked_names(env: Mapping[str, str]) -> set[str]:
    listed = env.get(SECRET_ENV_LIST, "")
    return {name.strip() for name in listed.split(",") if name.strip()}


def secret_env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The credential values of the environment that get masked, by variable name."""
    env = os.environ if environ is None else environ
    marked = _marked_names(env)
    found = {}
    for name, raw in env.items():
        value = _credential_value(name, raw, name in marked)
        if value is not None:
            found[name] = value
    return found


@functools.lru_cache(maxsize=4096)
def _credential_value(name: str, raw: str, marked: bool) -> str | None:
    """The value to mask for one variable, or None (cached: the environment rarely changes, and
    this runs for every line written)."""
    value = raw.strip()
    if name == SECRET_ENV_LIST or len(value) < MIN_SECRET_CHARS:
        return None
    if marked:
        return value
    if _is_credential_name(name) and (
        _character_kinds(value) >= 2 or len(value) >= PLAIN_WORD_CHARS
    ):
        return value
    return None


def secret_names(environ: Mapping[str, str] | None = None) -> list[str]:
    """Names of the environment variables whose values are masked (names only, never values)."""
    return sorted(secret_env_values(environ))


def _env_pattern(values: Mapping[str, str]) -> re.Pattern[str] | None:
    if not values:
        return None
    longest_first = sorted(set(values.values()), key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in longest_first))


# ---------------------------------------------------------------------------------------------
# Key shapes
#
# Each shape is a provider's documented format, anchored so that it cannot start or end inside a
# longer word, plus a check of its random part that ordinary words and identifiers fail. Measured:
# no match in 313,000 forms (lower, Capitalized, UPPER) of a 104,000-word English list, nor in
# 584 MB of Python sources and docs (standard library and site-packages) apart from their own
# example keys and example URL passwords. tests/test_secrets.py checks the standard library.


def _has_all_cases_and_digit(body: str) -> bool:
    return (
        any(c.islower() for c in body)
        and any(c.isupper() for c in body)
        and any(c.isdigit() for c in body)
    )


def _two_kinds(body: str) -> bool:
    kinds = (
        any(c.islower() for c in body)
        + any(c.isupper() for c in body)
        + any(c.isdigit() for c in body)
    )
    return kinds >= 2


def _has_digit(body: str) -> bool:
    return any(c.isdigit() for c in body)


def _has_digit_and_letter(body: str) -> bool:
    return _has_digit(body) and any(c.isalpha() for c in body)


def _random_looking(body: str) -> bool:
    """Mixes lower case, upper case and digits, or is 32+ hex digits: words joined by dashes and
    a version number ("task-specific-v2") are neither."""
    if _has_all_cases_and_digit(body):
        return True
    return re.fullmatch(r"[0-9a-fA-F]{32,}", body) is not None and _has_digit_and_letter(body)


def _openai_like(body: str) -> bool:
    # OpenAI's legacy and project keys carry "T3BlbkFJ" (base64 of "OpenAI"); other "sk-" keys
    # (Anthropic, LiteLLM proxies) mix cases and digits; DeepSeek's are 32 hex digits.
    return "T3BlbkFJ" in body or _random_looking(body)


def _both_cases(body: str) -> bool:
    return any(c.islower() for c in body) and any(c.isupper() for c in body)


@dataclass(frozen=True)
class _Shape:
    label: str
    env_name: str | None
    anchors: tuple[str, ...]  # literal text every match contains: a cheap test to skip the regex
    pattern: re.Pattern[str]  # group "secret" is what gets masked
    check: Callable[[str], bool]  # run on group "body"

    def matches(self, text: str) -> list[re.Match[str]]:
        if not any(anchor in text for anchor in self.anchors):
            return []
        return [m for m in self.pattern.finditer(text) if self.check(m.group("body"))]


_WORD = r"A-Za-z0-9_\-"  # characters that continue a key-like word

_SHAPES: tuple[_Shape, ...] = (
    _Shape(
        "a password in a URL",
        None,
        ("://",),
        re.compile(r"://[^\s/?#@:]*:(?P<secret>(?P<body>[^\s/?#@]+))@"),
        lambda body: True,
    ),
    _Shape(
        "a bearer token",
        None,
        ("earer", "EARER"),
        re.compile(
            r"(?<![A-Za-z0-9])(?i:bearer)\s+(?P<secret>(?P<body>[A-Za-z0-9._~+/\-]{16,}=*))"
            r"(?![A-Za-z0-9._~+/=\-])"
        ),
        _random_looking,
    ),
    _Shape(
        "an Anthropic API key",
        "ANTHROPIC_API_KEY",
        ("sk-ant-",),
        re.compile(rf"(?<![{_WORD}])(?P<secret>sk-ant-(?P<body>[{_WORD}]{{20,}}))(?![{_WORD}])"),
        _has_all_cases_and_digit,
    ),
    _Shape(
        "an OpenAI API key",
        "OPENAI_API_KEY",
        ("sk-",),
        re.compile(rf"(?<![{_WORD}])(?P<secret>sk-(?P<body>[{_WORD}]{{20,}}))(?![{_WORD}])"),
        _openai_like,
    ),
    _Shape(
        "a GitHub token",
        "GITHUB_TOKEN",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        re.compile(
            r"(?<![A-Za-z0-9_])(?P<secret>gh[pousr]_(?P<body>[A-Za-z0-9]{36}))(?![A-Za-z0-9_])"
        ),
        _two_kinds,
    ),
    _Shape(
        "a GitHub token",
        "GITHUB_TOKEN",
        ("github_pat_",),
        re.compile(
            r"(?<![A-Za-z0-9_])(?P<secret>github_pat_(?P<body>[A-Za-z0-9]{22}_[A-Za-z0-9]{59}))"
            r"(?![A-Za-z0-9_])"
        ),
        _two_kinds,
    ),
    _Shape(
        "a Slack token",
        "SLACK_TOKEN",
        ("xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-"),
        re.compile(
            rf"(?<![{_WORD}])(?P<secret>xox[abprs]-(?P<body>[0-9]+-[A-Za-z0-9\-]{{16,}}))"
            rf"(?![{_WORD}])"
        ),
        lambda body: sum(c.isdigit() for c in body) >= 16,  # a team id and a user or bot id
    ),
    _Shape(
        "a Google API key",
        "GEMINI_API_KEY",
        ("AIza",),
        re.compile(rf"(?<![{_WORD}])(?P<secret>AIza(?P<body>[{_WORD}]{{35}}))(?![{_WORD}])"),
        _both_cases,
    ),
    _Shape(
        "an AWS access key id",
        "AWS_ACCESS_KEY_ID",
        ("AKIA", "ASIA"),
        re.compile(
            r"(?<![A-Za-z0-9])(?P<secret>(?:AKIA|ASIA)(?P<body>[A-Z0-9]{16}))(?![A-Za-z0-9])"
        ),
        _has_digit,
    ),
    _Shape(
        "a Hugging Face token",
        "HF_TOKEN",
        ("hf_",),
        re.compile(r"(?<![A-Za-z0-9_])(?P<secret>hf_(?P<body>[A-Za-z0-9]{34}))(?![A-Za-z0-9_])"),
        _both_cases,
    ),
)


def _mask_shapes(text: str) -> str:
    for shape in _SHAPES:
        found = shape.matches(text)
        for match in reversed(found):  # from the end, so earlier offsets stay valid
            start, end = match.span("secret")
            text = text[:start] + MASK + text[end:]
    return text


# ---------------------------------------------------------------------------------------------
# The public filters


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """For text that leaves the machine or reaches a terminal: mask credential values from the
    environment and every key-shaped token."""
    return _mask_shapes(redact_stored(text, environ))


def redact_stored(text: str, environ: Mapping[str, str] | None = None) -> str:
    """For data stored to be read back: mask only the exact credential values of the
    environment; everything else stays as it is."""
    return StoredRedactor(environ)(text)


class StoredRedactor:
    """``redact_stored`` with the environment read once, for writers that redact every string
    of a line per model call (the run files, the response cache): reading the environment for
    each string cost ~10 ms per call, more than all the rest of opro's work. A run's environment
    does not change while it runs; a writer made later sees the environment of then."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._pattern = _env_pattern(secret_env_values(environ))

    def __call__(self, text: str) -> str:
        return self._pattern.sub(MASK, text) if self._pattern is not None else text

    def tree(self, value: _T) -> _T:
        """``redact_tree`` with this filter; the value itself when there is nothing to mask."""
        return value if self._pattern is None else redact_tree(value, self)


def redact_tree(value: _T, redactor: Callable[[str], str] = redact) -> _T:
    """Apply ``redactor`` to every string and mapping key of a JSON-like value (dicts, lists,
    tuples, strings; anything else is kept); returns a new value of the same shape."""
    return _walk(value, redactor)  # type: ignore[no-any-return]


def _walk(value: Any, redactor: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redactor(value)
    if isinstance(value, dict):
        return {_walk(k, redactor): _walk(v, redactor) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, redactor) for v in value]
    if isinstance(value, tuple):
        return tuple(_walk(v, redactor) for v in value)
    return value


def find_secret(text: str, environ: Mapping[str, str] | None = None) -> Finding | None:
    """The first credential in ``text``: a credential value of the environment or a key shape."""
    for name, value in sorted(secret_env_values(environ).items()):
        if value in text:
            return Finding(f"the value of ${name}", name, env_name_exact=True)
    for shape in _SHAPES:
        if shape.matches(text):
            return Finding(shape.label, shape.env_name, in_url=shape is _SHAPES[0])
    return None


# Option names that can only hold a credential, compared after camelCase and dashes become
# snake_case ("X-Api-Key" -> "x_api_key"). A name qualifies when it is "token" (watsonx's name
# for its key) or one of these or ends in "_" + one of these; "max_completion_tokens",
# "input_cost_per_token", "prompt_cache_key" and "bos_token" do not.
_CREDENTIAL_KEYS = (
    "api_key",
    "apikey",
    "api_token",
    "access_token",
    "auth_token",
    "authorization_token",
    "oauth_token",
    "bearer_token",
    "refresh_token",
    "session_token",
    "id_token",
    "ad_token",
    "hf_token",
    "github_token",
    "secret",
    "secret_key",
    "secret_access_key",
    "client_secret",
    "private_key",
    "password",
    "passwd",
    "credential",
    "credentials",
    "authorization",
)


def is_credential_key(name: str) -> bool:
    """Whether an option or header name can only hold a credential (``api_key``,
    ``Authorization``, ``aws_secret_access_key``, ...)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    snake = re.sub(r"[^a-z0-9]+", "_", snake).strip("_")
    return snake == "token" or any(
        snake == key or snake.endswith("_" + key) for key in _CREDENTIAL_KEYS
    )
