"""Prototypes, for the throughput benchmark only: LiteLLM's per-call work moved off opro's loop.

Both wrap ``LiteLLMClient`` (so retries, timeouts, error mapping and pricing are the real ones)
behind the same seam, ``complete(messages, params) -> Completion``:

- ``ThreadLoopClient``: a second event loop in a worker thread runs every call. Python's GIL
  lets only one thread run Python code at a time, so this can only show what the extra hop
  costs;
- ``ProcessClient``: N worker processes, each with its own event loop and its own
  ``LiteLLMClient``; opro's process sends each call (pickled messages and parameters) to the
  worker with the fewest calls in flight and waits for the pickled ``Completion`` (or error).
  The CPU LiteLLM spends per call is then spread over the cores.

Not part of opro: a measurement of what such a design would give (see bench/README.md).
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import pickle
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict
from multiprocessing.connection import Connection
from typing import Any

from opro_cli.models.base import CallParams, Completion, Message
from opro_cli.models.litellm_client import LiteLLMClient


class ThreadLoopClient:
    def __init__(self, concurrency: int) -> None:
        self._inner = LiteLLMClient(concurrency)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    async def complete(self, messages: Sequence[Message], params: CallParams) -> Completion:
        future = asyncio.run_coroutine_threadsafe(
            self._inner.complete(messages, params), self._loop
        )
        return await asyncio.wrap_future(future)

    async def warm_up(self, messages: Sequence[Message], params: CallParams) -> None:
        await self.complete(messages, params)

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()


STATS = -1  # the call id that asks a worker for the CPU time it has used


def _worker(conn: Connection, concurrency: int) -> None:
    """A worker process: answer each (id, messages, params) with (id, ok, payload)."""
    client = LiteLLMClient(concurrency)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        tasks: set[asyncio.Task[None]] = set()

        async def handle(call_id: int, messages: list[dict[str, str]], params: Any) -> None:
            if call_id == STATS:
                conn.send_bytes(pickle.dumps((call_id, True, time.process_time())))
                return
            try:
                completion = await client.complete(messages, CallParams(**params))
            except Exception as exc:  # sent back whole, raised again in opro's process
                conn.send_bytes(pickle.dumps((call_id, False, exc)))
            else:
                conn.send_bytes(pickle.dumps((call_id, True, asdict(completion))))

        def readable() -> None:
            try:
                message = conn.recv_bytes()
            except EOFError:
                loop.remove_reader(conn.fileno())
                done.set_result(None)
                return
            task = loop.create_task(handle(*pickle.loads(message)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        loop.add_reader(conn.fileno(), readable)
        await done

    asyncio.run(serve())


class ProcessClient:
    def __init__(self, concurrency: int, workers: int = 2) -> None:
        context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._processes = []
        for _ in range(workers):
            ours, theirs = context.Pipe()
            process = context.Process(target=_worker, args=(theirs, concurrency), daemon=True)
            process.start()
            theirs.close()
            self._conns.append(ours)
            self._processes.append(process)
        self._concurrency = concurrency
        self._semaphore: asyncio.Semaphore | None = None
        self._in_flight = [0] * workers
        self._waiting: dict[int, tuple[int, asyncio.Future[Any]]] = {}
        self._ids = itertools.count()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _attach(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        self._semaphore = asyncio.Semaphore(self._concurrency)
        for index, conn in enumerate(self._conns):
            loop.add_reader(conn.fileno(), self._readable, index)

    def _readable(self, index: int) -> None:
        call_id, ok, payload = pickle.loads(self._conns[index].recv_bytes())
        worker, future = self._waiting.pop(call_id)
        self._in_flight[worker] -= 1
        if ok:
            future.set_result(payload)
        else:
            future.set_exception(payload)

    async def complete(self, messages: Sequence[Message], params: CallParams) -> Completion:
        self._attach()
        assert self._semaphore is not None
        async with self._semaphore:  # the run's concurrency, over all workers
            fields = asdict(params) | {"extra": dict(params.extra)}
            payload = await self._send(next(self._ids), [dict(m) for m in messages], fields)
        return Completion(**payload)

    async def _send(self, call_id: int, messages: Any, fields: Any, worker: int = -1) -> Any:
        assert self._loop is not None
        if worker < 0:
            worker = min(range(len(self._conns)), key=self._in_flight.__getitem__)
        future: asyncio.Future[Any] = self._loop.create_future()
        self._waiting[call_id] = (worker, future)
        self._in_flight[worker] += 1
        self._conns[worker].send_bytes(pickle.dumps((call_id, messages, fields)))
        return await future

    async def workers_cpu_s(self) -> float:
        """CPU seconds the workers have used, all together."""
        self._attach()
        used = [await self._send(STATS, None, None, worker=w) for w in range(len(self._conns))]
        return float(sum(used))

    async def warm_up(self, messages: Sequence[Message], params: CallParams) -> None:
        """One call through every worker (LiteLLM's first call imports much of the SDK)."""
        self._attach()
        fields = asdict(params) | {"extra": dict(params.extra)}
        for worker in range(len(self._conns)):
            await self._send(next(self._ids), [dict(m) for m in messages], fields, worker=worker)

    def close(self) -> None:
        if self._loop is not None:
            for conn in self._conns:
                self._loop.remove_reader(conn.fileno())
        for conn in self._conns:
            conn.close()
        for process in self._processes:
            process.join(timeout=10)
