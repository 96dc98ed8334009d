"""Ctrl-C while a run is being wrapped up.

A run's event loop handles Ctrl-C itself (the first press cancels the run, a second one stops the
loop at once). Once the loop is over, the run still has to be marked and the resume command
printed; a further press must not cut that short, so for those few milliseconds presses are
ignored. And once opro has decided how the process exits, a press only hurries the exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def ctrl_c_ignored() -> Iterator[None]:
    """Ignore SIGINT inside the block (main thread only; elsewhere it cannot arrive anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def exit_on_ctrl_c(code: int) -> None:
    """From now on, Ctrl-C ends the process at once with ``code``: for when the exit code is
    decided and only the interpreter's shutdown is left, which a press would otherwise turn into
    a death by SIGINT. Python handlers stop working late in the shutdown (the interpreter puts
    back the default action, death), so after the worker threads are joined presses are
    ignored instead."""

    def handler(signum: int, frame: object) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    signal.signal(signal.SIGINT, handler)
    atexit.register(signal.signal, signal.SIGINT, signal.SIG_IGN)
