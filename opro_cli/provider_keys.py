"""Before any call: are the environment variables the spec's models need set?

LiteLLM knows which variables each provider reads (``OPENAI_API_KEY``, ``AZURE_API_BASE``, ...);
``models.litellm_client.missing_environment`` asks it. A missing key is found here, in the dry
run and before a run starts, instead of at the first call of a job that then fails half-way.
"""

from __future__ import annotations

from collections.abc import Callable

from opro_cli.errors import AuthenticationError
from opro_cli.models.base import CallParams
from opro_cli.spec import RunSpec

Lookup = Callable[[CallParams], tuple[str, ...]]


def check_provider_keys(spec: RunSpec, lookup: Lookup | None = None) -> None:
    """Raise ``AuthenticationError`` (exit 3) with one line naming every variable the scorer or
    the optimizer needs and does not have."""
    if lookup is None:
        from opro_cli.models.litellm_client import missing_environment

        lookup = missing_environment
    needs: dict[tuple[str, ...], list[str]] = {}
    for role, params in (
        ("scorer", spec.scorer.call_params()),
        ("optimizer", spec.optimizer.call_params()),
    ):
        missing = lookup(params)
        if missing:
            needs.setdefault(missing, []).append(f"{role}.model {params.model}")
    if not needs:
        return
    problems = "; ".join(
        f"{', '.join(models)}: LiteLLM finds no {', '.join(names)} in the environment"
        for names, models in needs.items()
    )
    first = next(iter(needs))[0]
    raise AuthenticationError(
        f"{problems} -> export the key before running opro (in GitHub Actions, pass the "
        f"secret in the job's env, e.g. {first}: ${{{{ secrets.{first} }}}})"
    )
