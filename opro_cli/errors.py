"""The one exception hierarchy of opro.

    OproError                       anything opro expects and can explain (exit code on the class)
    ├── InputError                  bad user input: exit 2
    │   ├── UsageError              a wrong combination of command-line arguments
    │   ├── SpecError               the YAML run spec (file, field, line)
    │   ├── DatasetError            the dataset file, its columns or its splits
    │   ├── MetricError             a metric that cannot be loaded or returns nonsense
    │   └── RunDirError             a run directory that cannot be read or resumed
    ├── ModelError                  a model call failed (after our own retries)
    │   ├── TransientModelError     worth retrying: 429, 5xx, timeouts, dropped connections
    │   │   ├── RateLimitError
    │   │   ├── ServerError
    │   │   ├── ModelTimeoutError
    │   │   └── ModelConnectionError
    │   ├── ExampleModelError       this call failed, the next may not: counts as a failed example
    │   │   ├── ContextLengthError
    │   │   └── BadRequestError
    │   └── SystemicModelError      no call will succeed: stops the run, exit 3
    │       ├── AuthenticationError
    │       ├── ModelNotFoundError
    │       ├── LocalModelMissingError
    │       ├── QuotaExceededError     out of credit (a 429 that waiting does not fix)
    │       └── ProviderUnavailableError  every call keeps failing (server down, wrong api_base)
    ├── GateError                   a CI gate (--fail-under, --min-improvement) was not met: exit 1
    └── RunInterrupted              Ctrl-C (exit 130), SIGTERM (143), SIGHUP (129)

Every expected failure carries a short message in the form
``where: what is wrong -> how to fix``; the CLI prints it and exits with ``exit_code``.
"""

from __future__ import annotations

from pathlib import Path


class OproError(Exception):
    """Base of every error opro expects; ``exit_code`` is what the CLI returns; ``run_dir`` is
    the run directory the failure left behind (marked failed), when there is one."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.run_dir: Path | None = None

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} -> {self.hint}"
        return self.message


class InputError(OproError):
    exit_code = 2


class UsageError(InputError):
    pass


class SpecError(InputError):
    """A problem in the run spec; ``where`` is ``file:line: field``."""


class DatasetError(InputError):
    pass


class MetricError(InputError):
    pass


class RunDirError(InputError):
    pass


class ModelError(OproError):
    """``retries``: how often the client retried the call before giving up with this error."""

    exit_code = 3

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.retry_after_s = retry_after_s
        self.retries = 0


class TransientModelError(ModelError):
    pass


class RateLimitError(TransientModelError):
    pass


class ServerError(TransientModelError):
    pass


class ModelTimeoutError(TransientModelError):
    pass


class ModelConnectionError(TransientModelError):
    pass


class ExampleModelError(ModelError):
    pass


class ContextLengthError(ExampleModelError):
    pass


class BadRequestError(ExampleModelError):
    pass


class SystemicModelError(ModelError):
    pass


class AuthenticationError(SystemicModelError):
    pass


class ModelNotFoundError(SystemicModelError):
    pass


class LocalModelMissingError(SystemicModelError):
    pass


class QuotaExceededError(SystemicModelError):
    pass


class ProviderUnavailableError(SystemicModelError):
    pass


class GateError(OproError):
    exit_code = 1


class RunInterrupted(OproError):
    """Stopped by a signal: exit 128 + its number (130 for Ctrl-C, 143 SIGTERM, 129 SIGHUP)."""

    exit_code = 130

    def __init__(self, message: str, *, hint: str | None = None, signum: int = 2) -> None:
        super().__init__(message, hint=hint)
        self.exit_code = 128 + signum
