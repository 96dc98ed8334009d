"""When a run should stop because its calls keep failing."""

from __future__ import annotations

from opro_cli.errors import ModelError, ProviderUnavailableError, TransientModelError

# After this many calls in a row fail (after their retries), whatever the error, no later call
# is expected to succeed: a provider that is down, or that refuses every request (a 400 for a
# parameter the model does not take, a 404 for a wrong api_base path).
CONSECUTIVE_FAILURES_LIMIT = 25


class FailureStreak:
    """Counts calls that failed in a row; a success resets it."""

    def __init__(self, limit: int = CONSECUTIVE_FAILURES_LIMIT) -> None:
        self.limit = limit
        self.count = 0

    def succeeded(self) -> None:
        self.count = 0

    def failed(self, error: ModelError) -> None:
        """Note a failed call; ``ProviderUnavailableError`` (the run stops, exit 3) when the
        streak reaches the limit, quoting the provider's last error."""
        self.count += 1
        if self.count < self.limit:
            return
        if isinstance(error, TransientModelError):
            hint = "check api_base and that the provider is up, then resume the run"
        else:
            hint = (
                "the provider refuses every request: check the model name, api_base and the "
                "parameters in the spec (max_tokens, extra)"
            )
        raise ProviderUnavailableError(
            f"{self.limit} calls in a row failed; the last: {error.message}", hint=hint
        )
