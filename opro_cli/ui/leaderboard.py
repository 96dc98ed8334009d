"""The live leaderboard: a board that follows the optimizer's events and two ways to show it.

``Board`` keeps the state; ``render_board(board)`` is pure and returns a Rich renderable;
``LiveView`` redraws it in a terminal; ``PlainView`` prints one line per step (CI, pipes), and a
progress line whenever it printed nothing for ``HEARTBEAT_S`` seconds, so a slow run never
looks like a hung one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from opro_cli.core.events import (
    BudgetStop,
    CandidateScored,
    EvaluationDone,
    Event,
    OptimizerCallDone,
    PhaseStarted,
    StepDone,
    Usage,
)
from opro_cli.formatting import one_line, pct, usd
from opro_cli.secrets import redact

TOP_ROWS = 8
HEARTBEAT_S = 30.0  # a plain log prints at least one line this often during a long phase


@dataclass
class Row:
    id: str
    text: str
    step: int
    score: float | None  # mean over the answered examples
    examples: int  # scored (fewer than the train split when racing stopped it)
    failed: int = 0
    stopped: str | None = None  # why racing stopped it
    eligible: bool = True  # can win: scored on all of train, few calls failed


@dataclass
class Board:
    name: str
    steps: int
    rows: dict[str, Row] = field(default_factory=dict)
    phase: str = "seeds"
    step: int = 0
    phase_total: int = 0
    phase_done: int = 0
    usage: Usage = field(default_factory=Usage)
    elapsed_s: float = 0.0
    note: str | None = None

    def update(self, event: Event) -> None:
        if isinstance(event, PhaseStarted):
            self.phase, self.step = event.phase, event.step
            self.phase_total, self.phase_done = event.total_calls, 0
        elif isinstance(event, EvaluationDone | OptimizerCallDone):
            self.phase_done += 1
            self.usage = event.usage
        elif isinstance(event, CandidateScored) and event.split == "train":
            c = event.candidate  # shown on a terminal or in a log: filtered for secrets
            self.rows[c.id] = Row(
                c.id,
                redact(c.text),
                c.step,
                event.score,
                event.examples,
                event.errors,
                event.stopped,
                event.eligible,
            )
        elif isinstance(event, StepDone):
            self.elapsed_s = event.record.elapsed_s or 0.0
            self.usage = event.usage
        elif isinstance(event, BudgetStop):
            self.note = f"budget: {redact(event.reason)}"

    def top(self, n: int = TOP_ROWS) -> list[Row]:
        order = {cid: i for i, cid in enumerate(self.rows)}
        return sorted(
            self.rows.values(),
            key=lambda r: (not r.eligible, -(r.score or 0.0), order[r.id]),
        )[:n]


def format_cost(usage: Usage) -> str:
    """The cost so far: ``unknown`` while any call's price is unknown, with what is known."""
    cost = usage.cost_usd
    if cost is None:
        known = f" ({usd(usage.known_cost_usd)} known)" if usage.known_cost_usd else ""
        return f"unknown{known}"
    return usd(cost)


def render_board(board: Board) -> Any:
    table = Table(title=f"opro · {board.name}", expand=True, title_justify="left")
    table.add_column("#", justify="right", width=3)
    table.add_column("score", justify="right", width=6)
    table.add_column("step", justify="right", width=4)
    table.add_column("n", justify="right", width=5)
    table.add_column("failed", justify="right", width=6)
    table.add_column("instruction", ratio=1, overflow="ellipsis", no_wrap=True)
    for rank, row in enumerate(board.top(), start=1):
        # n: examples scored; "dropped" when racing stopped it early
        table.add_row(
            str(rank),
            pct(row.score),
            str(row.step),
            f"{row.examples}" if row.stopped is None else f"{row.examples}✗",
            str(row.failed) if row.failed else "",
            one_line(row.text, 200),
        )
    label = f"step {board.step}/{board.steps}" if board.phase == "step" else board.phase
    progress = Table.grid(padding=(0, 1))
    progress.add_row(
        Text(f"{label:>14}"),
        ProgressBar(total=max(board.phase_total, 1), completed=board.phase_done, width=40),
        Text(f"{board.phase_done}/{board.phase_total} calls"),
    )
    u = board.usage
    cut = f"  cut at max_tokens {u.truncated_calls}" if u.truncated_calls else ""
    stats = Text(
        f"calls {u.calls}  failed {u.failed_calls}  retries {u.retries}  tokens {u.tokens}  "
        f"cost {format_cost(u)}  elapsed {board.elapsed_s:.0f}s{cut}"
    )
    parts: list[Any] = [table, progress, stats]
    if board.note:
        parts.append(Text(board.note, style="yellow"))
    return Group(*parts)


class LiveView:
    """Redraws the board in place while the run goes (a terminal on stdout or stderr)."""

    def __init__(self, board: Board, console: Console, clock: Any) -> None:
        self.board = board
        self._clock = clock
        self._start = clock()
        self._live = Live(
            console=console, refresh_per_second=4, transient=False, get_renderable=self._renderable
        )

    def _renderable(self) -> Any:
        self.board.elapsed_s = self._clock() - self._start
        return render_board(self.board)

    def __call__(self, event: Event) -> None:
        self.board.update(event)

    def __enter__(self) -> LiveView:
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(None, None, None)


class PlainView:
    """One plain line per step and per phase; for CI logs and pipes. When nothing was printed
    for ``every_s`` seconds of ``clock``, ``tick()`` prints where the phase is (calls done of
    planned, failed calls, elapsed time). Every event ticks, and so does a background thread
    while the view is entered (``with view:``), so the line comes even while every call hangs.
    """

    def __init__(
        self,
        board: Board,
        console: Console,
        clock: Callable[[], float] = time.monotonic,
        *,
        every_s: float = HEARTBEAT_S,
    ) -> None:
        self.board = board
        self.console = console
        self.every_s = every_s
        self._clock = clock
        self._start = clock()
        self._last = self._start
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def progress_line(self, now: float) -> str:
        b = self.board
        label = f"step {b.step}/{b.steps}" if b.phase == "step" else b.phase
        return (
            f"{label}: {b.phase_done}/{b.phase_total} calls, "
            f"{b.usage.failed_calls} failed so far, {now - self._start:.0f}s elapsed"
        )

    def tick(self) -> None:
        """Print the progress line if the last line is ``every_s`` seconds old."""
        with self._lock:
            now = self._clock()
            if now - self._last >= self.every_s:
                self._print(self.progress_line(now))

    def _print(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)
        self._last = self._clock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self._show(event)
        self.tick()

    def _show(self, event: Event) -> None:
        self.board.update(event)
        if isinstance(event, StepDone):
            u, step = event.usage, event.record
            best = self.board.rows.get(step.best_id or "")
            text = one_line(best.text, 60) if best else ""
            label = f"step {step.step}/{self.board.steps}" if step.step else "seeds"
            self._print(
                f"{label}: best {pct(step.best_score)} mean {pct(step.mean_score)} "
                f"new {step.new_candidates}/{step.proposed} "
                f"calls {u.calls} tokens {u.tokens} cost {format_cost(u)} "
                f"{step.elapsed_s or 0:.0f}s | {text}"
            )
        elif isinstance(event, PhaseStarted) and event.phase in ("validation", "test"):
            self._print(f"{event.phase}: scoring finalists ({event.total_calls} calls)")
        elif isinstance(event, BudgetStop):
            self._print(f"budget reached: {event.reason}")

    def __enter__(self) -> PlainView:
        self._stop.clear()
        self._ticker = threading.Thread(target=self._tick_until_stopped, daemon=True)
        self._ticker.start()
        return self

    def _tick_until_stopped(self) -> None:
        while not self._stop.wait(min(self.every_s / 6, 5.0)):
            self.tick()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
