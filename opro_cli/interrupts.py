"""Stopping a run: Ctrl-C (SIGINT), SIGTERM and SIGHUP.

A run's event loop handles the signals itself (``run_until_stopped``: the first one cancels the
run, a second one stops the loop at once). Once the loop is over, the run still has to be marked
and the resume command printed; a further press must not cut that short, so for those few
milliseconds presses are ignored. And once opro has decided how the process exits, a press only
hurries the exit.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


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


STOP_SIGNALS = tuple(
    s
    for s in (signal.SIGINT, getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None))
    if s is not None
)


class Stopped(Exception):
    """A stop signal arrived while a coroutine ran under ``run_until_stopped``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def run_until_stopped(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` in a new event loop, like ``asyncio.run``, but stop cleanly on a signal.

    The first SIGINT, SIGTERM or SIGHUP cancels ``main`` (so the calls in flight end and every
    line written is whole) and ``Stopped`` is raised once the loop is done, even when ``main``
    finished anyway: a cancellation can be lost on the way (``asyncio.wait_for`` swallows one
    that arrives as its inner call completes), and a run the user stopped must end as stopped,
    never as completed. A second signal stops the loop at once and raises ``KeyboardInterrupt``;
    later ones are ignored while the remaining tasks are cancelled.
    """
    loop = asyncio.new_event_loop()
    task = loop.create_task(main)
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        # Never raise here: a handler runs inside whatever code was executing, often a task's
        # step, which would keep the exception and log it as "never retrieved" at exit.
        received.append(signum)
        if len(received) == 1:
            task.cancel()
        elif len(received) == 2:
            loop.stop()  # at once: the calls in flight are abandoned
        loop.call_soon_threadsafe(lambda: None)  # wake the loop if it waits in select()

    in_main = threading.current_thread() is threading.main_thread()
    previous = {s: signal.signal(s, on_signal) for s in STOP_SIGNALS} if in_main else {}
    try:
        try:
            result = loop.run_until_complete(task)
        except asyncio.CancelledError:
            if received:
                raise Stopped(received[0]) from None
            raise
        except RuntimeError:  # "Event loop stopped before Future completed"
            if len(received) > 1:
                raise KeyboardInterrupt from None
            raise
        if received:
            raise Stopped(received[0])
        return result
    finally:
        try:
            _cancel_remaining(loop)
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            loop.close()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is still pending and let it finish, as ``asyncio.run`` does."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.run_until_complete(loop.shutdown_default_executor())
