"""Micro-batching: concurrent requests on the same market share one evaluation.

A request is queued under its market key (the SHA-256 of the market's
content). The first request of a key opens a window of
``Settings.batch_window_ms``; every request of the same key arriving before it
closes joins the batch, which is then evaluated by ONE ``greek_vectors`` call
in a worker thread (:func:`service.compute.evaluate`) and split back per
request. A batch holding ``max_batch_trades`` trades is evaluated at once.
With a window of 0 every request is evaluated alone (batching disabled).
The event loop only queues and wakes futures; all CPU work runs in the
executor.
"""
from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable
from concurrent.futures import Executor

from .compute import Failure, Job, evaluate


@dataclasses.dataclass
class _Pending:
    market: object
    jobs: list = dataclasses.field(default_factory=list)
    futures: list = dataclasses.field(default_factory=list)
    n_trades: int = 0
    timer: asyncio.TimerHandle | None = None


class MicroBatcher:
    """Collects jobs per market key for ``window_s`` and evaluates them together.

    Parameters
    ----------
    executor : Executor
        Where evaluations run (threads: the compiled kernels release the GIL).
    window_s : float
        Collection window in seconds; 0 disables merging.
    max_trades : int
        Flush a batch as soon as it holds this many trades.
    metrics : service.metrics.Metrics, optional
        Observes requests and trades per evaluation and its duration.
    run : callable, optional
        ``run(market, jobs) -> list of bytes | Failure`` (default :func:`evaluate`).
    """

    def __init__(self, executor: Executor, window_s: float, max_trades: int, metrics=None,
                 run: Callable = evaluate):
        self.executor = executor
        self.window_s = window_s
        self.max_trades = max_trades
        self.metrics = metrics
        self.run = run
        self._pending: dict[str, _Pending] = {}
        self._tasks: set[asyncio.Task] = set()

    async def submit(self, key: str, market, job: Job) -> bytes | Failure:
        """Evaluate ``job`` on ``market`` (identified by ``key``), possibly with others."""
        loop = asyncio.get_running_loop()
        if self.window_s <= 0:
            return (await loop.run_in_executor(self.executor, self._timed, market, [job]))[0]
        fut = loop.create_future()
        pend = self._pending.get(key)
        if pend is None:
            pend = self._pending[key] = _Pending(market)
            pend.timer = loop.call_later(self.window_s, self._flush, key)
        pend.jobs.append(job)
        pend.futures.append(fut)
        pend.n_trades += len(job.trades)
        if pend.n_trades >= self.max_trades:
            pend.timer.cancel()
            self._flush(key)
        return await fut

    def _flush(self, key: str) -> None:
        pend = self._pending.pop(key, None)
        if pend is None:
            return
        task = asyncio.get_running_loop().create_task(self._run(pend))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, pend: _Pending) -> None:
        loop = asyncio.get_running_loop()
        try:
            results = await loop.run_in_executor(self.executor, self._timed, pend.market,
                                                 pend.jobs)
        except Exception as exc:  # executor shut down, ...: answer every waiter
            results = [exc] * len(pend.jobs)
        for fut, res in zip(pend.futures, results):
            if fut.done():  # the client gave up (timeout, disconnect)
                continue
            if isinstance(res, Exception):
                fut.set_exception(res)
            else:
                fut.set_result(res)

    def _timed(self, market, jobs):
        start = time.perf_counter()
        out = self.run(market, jobs)
        if self.metrics is not None:
            self.metrics.batch_seconds.observe(time.perf_counter() - start)
            self.metrics.batch_requests.observe(len(jobs))
            self.metrics.batch_trades.observe(sum(len(j.trades) for j in jobs))
        return out

    async def drain(self) -> None:
        """Flush every pending batch and wait for the running ones (shutdown)."""
        for key in list(self._pending):
            pend = self._pending.get(key)
            if pend is not None and pend.timer is not None:
                pend.timer.cancel()
            self._flush(key)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
