"""The plain view (CI logs, pipes) prints a progress line whenever it printed nothing for 30 s,
driven by its clock: a scripted slow model advances a fake clock, so nothing sleeps."""

from __future__ import annotations

import io
import re
import threading
from pathlib import Path
from typing import Any

import fakes
from rich.console import Console
from scripted_client import ScriptedClient

from opro_cli.app import execute, prepare
from opro_cli.core.events import EvaluationDone, PhaseStarted
from opro_cli.errors import BadRequestError
from opro_cli.rundir import Evaluation, Usage
from opro_cli.ui.leaderboard import HEARTBEAT_S, Board, PlainView

CALL_S = 4.0  # what each scripted call takes on the fake clock


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Log(io.StringIO):
    """The console's file: each line with the fake time it was printed at."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__()
        self.clock = clock
        self.lines: list[tuple[float, str]] = []
        self.printed = threading.Event()

    def write(self, text: str) -> int:
        self.lines += [(self.clock(), line) for line in text.splitlines() if line]
        self.printed.set()
        return super().write(text)


def plain_view(clock: FakeClock, **kwargs: Any) -> tuple[PlainView, Log]:
    log = Log(clock)
    console = Console(file=log, width=200, color_system=None)
    return PlainView(Board(name="parity", steps=2), console, clock, **kwargs), log


def slow(clock: FakeClock, script: Any, fail_on: str | None = None) -> Any:
    def call(messages: list[dict[str, str]], params: dict[str, Any]) -> str:
        clock.now += CALL_S
        if fail_on is not None and messages[-1]["content"].endswith(fail_on):
            raise BadRequestError("scripted failure")
        return str(script(messages, params))

    return call


PROGRESS = re.compile(r"^(seeds|step \d/2|validation|test): \d+/\d+ calls, \d+ failed so far, \d+s")


def test_a_slow_run_prints_a_progress_line_at_least_every_30_s(
    parity_project, tmp_path: Path
) -> None:
    clock = FakeClock()
    view, log = plain_view(clock)
    scripts = {
        "parity": slow(clock, fakes.parity_scorer, fail_on="item 4"),
        "proposer": slow(clock, fakes.proposer),
    }
    spec = parity_project(budget={"steps": 2}, concurrency=1)
    execute(
        prepare(spec), runs_dir=tmp_path / "runs", client=ScriptedClient(scripts), listeners=[view]
    )
    times = [0.0, *(t for t, _ in log.lines)]
    # a line at least every 30 s of the run, give or take the one call that crossed the mark
    assert max(b - a for a, b in zip(times, times[1:], strict=False)) <= HEARTBEAT_S + CALL_S
    progress = [(t, line) for t, line in log.lines if PROGRESS.match(line)]
    # 20 train examples at 4 s each: at 32 s and 64 s the seeds are 8 and 16 calls in; the
    # step line at 80 s restarts the 30 s; the call on "item 4" fails
    assert log.lines[:4] == [
        (32.0, "seeds: 8/20 calls, 0 failed so far, 32s elapsed"),
        (64.0, "seeds: 16/20 calls, 0 failed so far, 64s elapsed"),
        log.lines[2],
        (112.0, "step 1/2: 8/63 calls, 1 failed so far, 112s elapsed"),
    ]
    assert log.lines[2][0] == 80.0 and log.lines[2][1].startswith("seeds: best 0.0 ")
    assert progress[-1] == (568.0, "test: 16/20 calls, 4 failed so far, 568s elapsed")
    assert {line.split(":")[0] for _, line in progress} == {
        "seeds",
        "step 1/2",
        "step 2/2",
        "validation",
        "test",
    }


def test_a_fast_run_prints_no_progress_lines(parity_project, tmp_path: Path) -> None:
    clock = FakeClock()  # never advances: every call is instant
    view, log = plain_view(clock)
    spec = parity_project(budget={"steps": 2})
    client = ScriptedClient(fakes.SCRIPTS)
    execute(prepare(spec), runs_dir=tmp_path / "runs", client=client, listeners=[view])
    assert [line.split(":")[0] for _, line in log.lines] == [
        "seeds",
        "step 1/2",
        "step 2/2",
        "validation",
        "test",
    ]


def test_the_progress_line_comes_even_while_no_call_returns() -> None:
    """A hung call sends no event: the view's own thread ticks while it is entered."""
    clock = FakeClock()
    view, log = plain_view(clock, every_s=0.06)  # the thread checks every 0.01 s
    view(PhaseStarted("step", 1, 9))
    done = Evaluation("c1", "train", "e1", "odd", 1.0)
    view(EvaluationDone(done, Usage(calls=1, failed_calls=0)))
    assert log.lines == []
    with view:
        clock.now = 100.0  # no event at all from here on
        assert log.printed.wait(timeout=10)
    assert log.lines == [(100.0, "step 1/2: 1/9 calls, 0 failed so far, 100s elapsed")]
    clock.now = 200.0
    view.tick()  # after the with-block the thread is gone; a direct tick still prints
    assert len(log.lines) == 2
