"""Stopping a run by signal: the first one cancels, the run ends as stopped even when a
cancellation is lost on the way, a second one stops at once."""

from __future__ import annotations

import asyncio
import contextlib
import signal

import pytest

from opro_cli.interrupts import Stopped, run_until_stopped


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_the_run_even_when_the_cancellation_is_swallowed(signum: int) -> None:
    async def main() -> str:
        # Like asyncio.wait_for in Python 3.11 when its call completes as it is cancelled: the
        # cancellation is lost and the coroutine finishes normally.
        signal.raise_signal(signum)
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        return "finished anyway"

    with pytest.raises(Stopped) as caught:
        run_until_stopped(main())
    assert caught.value.signum == signum


def test_a_signal_cancels_the_work_in_flight() -> None:
    cancelled: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def main() -> None:
        tasks = [asyncio.ensure_future(worker(n)) for n in ("a", "b")]
        await asyncio.sleep(0)
        signal.raise_signal(signal.SIGINT)
        await asyncio.gather(*tasks)

    with pytest.raises(Stopped):
        run_until_stopped(main())
    assert sorted(cancelled) == ["a", "b"]


def test_a_second_signal_stops_at_once() -> None:
    async def stubborn() -> None:
        signal.raise_signal(signal.SIGINT)
        for _ in range(2):
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                signal.raise_signal(signal.SIGINT)  # the user presses again (a third: ignored)

    with pytest.raises(KeyboardInterrupt):
        run_until_stopped(stubborn())


def test_without_a_signal_the_result_comes_back_and_handlers_are_restored() -> None:
    before = signal.getsignal(signal.SIGTERM)

    async def main() -> int:
        await asyncio.sleep(0)
        return 7

    assert run_until_stopped(main()) == 7
    assert signal.getsignal(signal.SIGTERM) == before
