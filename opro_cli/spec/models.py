"""The scorer's and the optimizer's model settings, and the refusal of credentials in them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from opro_cli.core.parse import ParseMode
from opro_cli.models.base import CallParams, Deployment, Prices
from opro_cli.secrets import MASK, Finding, find_secret, is_credential_key
from opro_cli.spec.sections import DEFAULT_LOCAL_MODEL, Frozen, InstructionPosition


class PricesSpec(Frozen):
    """The model's price, for models LiteLLM has no price for (self-hosted, fine-tuned, new)."""

    input_per_million: float = Field(ge=0, description="USD per million prompt tokens")
    output_per_million: float = Field(ge=0, description="USD per million completion tokens")


ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DeploymentSpec(Frozen):
    """One endpoint serving the model (a vLLM or llama.cpp server, an Azure deployment, a
    LiteLLM proxy). A model with several spreads its calls over them with LiteLLM's Router."""

    api_base: str = Field(description="the endpoint's URL, e.g. http://gpu-1:8000/v1")
    api_key_env: str | None = Field(
        default=None,
        description="the environment variable that holds this endpoint's key (its name, never "
        "the key); none: LiteLLM's usual variable for the provider",
    )
    name: str | None = Field(
        default=None, description="recorded with each answer it gives; default: api_base"
    )
    model: str | None = Field(
        default=None,
        description="the LiteLLM model string at this endpoint, when it differs from the "
        "model's (e.g. azure/my-deployment)",
    )
    rpm: int | None = Field(default=None, ge=1, description="requests per minute it allows")
    tpm: int | None = Field(default=None, ge=1, description="tokens per minute it allows")
    max_parallel: int | None = Field(
        default=None, ge=1, description="calls it takes at once; more wait for a free slot"
    )
    weight: float | None = Field(
        default=None,
        gt=0,
        description="share of the calls, relative to the others' (used when no rpm/tpm is set)",
    )

    @field_validator("api_base")
    @classmethod
    def _no_secrets_in_api_base(cls, value: str) -> str:
        return refuse_secret_in_url(value)

    @field_validator("api_key_env")
    @classmethod
    def _a_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if find_secret(value) is not None or not ENV_NAME_RE.match(value):
            raise ValueError(
                "api_key_env names an environment variable (e.g. VLLM_KEY), not the key itself"
            )
        return value

    def deployment(self) -> Deployment:
        return Deployment(
            name=self.name or self.api_base,
            api_base=self.api_base,
            api_key_env=self.api_key_env,
            model=self.model,
            rpm=self.rpm,
            tpm=self.tpm,
            max_parallel=self.max_parallel,
            weight=self.weight,
        )


def refuse_secret_in_url(value: str) -> str:
    found = find_secret(value)
    if found is None:
        return value
    fix = keep_in_environment(found.env_name)
    if found.in_url:
        fix = "remove user:password@ from the URL and " + fix
    raise credential_error([Credential((), describe_finding(found), fix)])


class ModelSpec(Frozen):
    model: str = DEFAULT_LOCAL_MODEL
    temperature: float = Field(default=0.0, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    api_base: str | None = None
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=4, ge=0, le=20)
    extra: dict[str, Any] = Field(default_factory=dict)
    prices: PricesSpec | None = None
    deployments: list[DeploymentSpec] = Field(
        default_factory=list,
        description="several endpoints serving this model: calls are spread over them, with "
        "per-endpoint limits and fail-over when one is down (LiteLLM's Router)",
    )

    def call_params(self) -> CallParams:
        """The model settings as the client takes them (the one place they are mapped)."""
        return CallParams(
            model=self.model,
            temperature=self.temperature,
            max_tokens=self.max_tokens,
            api_base=self.api_base,
            timeout_s=self.timeout_s,
            max_retries=self.max_retries,
            extra=self.extra,
            prices=None
            if self.prices is None
            else Prices(self.prices.input_per_million, self.prices.output_per_million),
            deployments=tuple(d.deployment() for d in self.deployments),
        )

    @model_validator(mode="after")
    def _deployments_fit(self) -> ModelSpec:
        if not self.deployments:
            return self
        if self.api_base is not None:
            raise ValueError(
                "api_base and deployments both set -> give each endpoint's URL under "
                "deployments, and remove api_base"
            )
        if self.model.startswith("local/"):
            raise ValueError("deployments are endpoints of a served model, not of local/ models")
        names = [d.deployment().name for d in self.deployments]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(
                f"deployments: {', '.join(repeated)} listed twice -> give each a distinct "
                "api_base or name"
            )
        return self

    @field_validator("model")
    @classmethod
    def _model_has_provider(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("model is empty -> e.g. openai/gpt-4o-mini or " + DEFAULT_LOCAL_MODEL)
        return value

    @field_validator("extra")
    @classmethod
    def _no_secrets_in_extra(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Reject credentials in ``extra``, at any depth (``extra_headers`` too): a key that can
        only hold one (``api_key``, ``Authorization``, ...) whatever its value, and a value that
        holds one (a key shape, a credential value of the environment) whatever its key."""
        problems = []
        for loc, key, item in leaves(value):
            found = find_secret(item) if isinstance(item, str) else None
            if key is not None and is_credential_key(key):
                env_name = found.env_name if found is not None else None
                what = "looks like a secret (this key only holds credentials)"
                problems.append(Credential(loc, what, keep_in_environment(env_name)))
            elif found is not None:
                fix = keep_in_environment(found.env_name)
                problems.append(Credential(loc, describe_finding(found), fix))
        if problems:
            raise credential_error(problems)
        return value

    @field_validator("api_base")
    @classmethod
    def _no_secrets_in_api_base(cls, value: str | None) -> str | None:
        return None if value is None else refuse_secret_in_url(value)


@dataclass(frozen=True)
class Credential:
    loc: tuple[str | int, ...]  # below the field being validated
    what: str
    fix: str


def describe_finding(found: Finding) -> str:
    exact = found.env_name_exact or found.in_url
    return f"holds {found.what}" if exact else f"looks like {found.what}"


def keep_in_environment(env_name: str | None) -> str:
    name = env_name if env_name is not None else "e.g. OPENAI_API_KEY"
    return f"keep credentials in the environment ({name}); LiteLLM reads them from there"


def leaves(
    value: Any, loc: tuple[str | int, ...] = (), key: str | None = None
) -> Iterator[tuple[tuple[str | int, ...], str | None, Any]]:
    """Every (location, key, value) of nested mappings and lists; a list item has no key."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from leaves(v, (*loc, str(k)), str(k))
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from leaves(v, (*loc, i), None)
    else:
        yield loc, key, value


def credential_error(problems: list[Credential]) -> ValidationError:
    """One error per credential, each at its own location, so the message names the key and its
    line (``spec.yaml:12: scorer.extra.api_key: ...``). Pydantic nests a ``ValidationError``
    raised by a validator under the field's location (tests/test_secrets.py checks it)."""
    details = [
        InitErrorDetails(
            type=PydanticCustomError("credential", f"{p.what} -> {p.fix}"), loc=p.loc, input=MASK
        )
        for p in problems
    ]
    return ValidationError.from_exception_data("credential", details)


Prefill = Literal["auto", "on", "off"]


def prefill_value(value: Any) -> Any:
    """``on`` and ``off`` as YAML 1.1 reads them unquoted (``prefill: off`` is ``False``, in a
    spec file and in ``--set``): booleans mean on and off."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return value


class ScorerSpec(ModelSpec):
    # long enough that an instruction asking for reasoning first is not cut off; a warning
    # says when more than 5% of a candidate's answers hit it
    max_tokens: int | None = Field(default=256, ge=1)
    instruction_position: InstructionPosition = "q_begin"
    prefill: Prefill = Field(
        default="auto",
        description="a_begin: put the instruction at the start of the assistant's answer "
        "(models that continue a final assistant message: the local model, Anthropic); auto "
        "decides by provider, off writes 'Q: ... A: <instruction>' in the user's turn",
    )

    _prefill_value = field_validator("prefill", mode="before")(prefill_value)


class OptimizerSpec(ModelSpec):
    temperature: float = Field(default=1.0, ge=0, le=2)
    max_tokens: int | None = Field(default=256, ge=1)
    candidates_per_step: int = Field(default=8, ge=1, le=64)
    history_size: int = Field(default=20, ge=1)
    exemplars: int = Field(default=3, ge=0)
    max_instruction_chars: int = Field(default=500, ge=1)
    score_buckets: int = Field(default=100, ge=2, le=1000)
    parse: ParseMode = Field(
        default="lenient",
        description="strict: only instructions written between <INS> tags count; lenient: an "
        "untagged answer's first line counts too (never a preamble or a copied example)",
    )
    prefill: Prefill = Field(
        default="auto",
        description="start the optimizer's answer with <INS> so that even a small model writes "
        "an instruction (models that continue a final assistant message); auto decides by "
        "provider",
    )
    show_errors: int = Field(
        default=0,
        ge=0,
        le=20,
        description="show the optimizer up to this many train examples the best instruction "
        "gets wrong, with the expected and the actual answer",
    )

    _prefill_value = field_validator("prefill", mode="before")(prefill_value)


class JudgeSpec(ModelSpec):
    """An LLM that grades each answer against a rubric (the judge metric)."""

    model: str = Field(description="the judge's LiteLLM model, e.g. openai/gpt-4o-mini")
    rubric: str = Field(min_length=1, description="what a good answer does, in plain words")
    scale: Literal["1-5", "pass_fail"] = Field(
        default="1-5", description="1-5 scores as (n - 1) / 4; pass_fail as 1 or 0"
    )
    reference: bool = Field(
        default=True, description="show the judge the example's target as a reference answer"
    )
    max_tokens: int | None = Field(default=256, ge=1)
