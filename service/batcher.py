"""Micro-batching: concurrent requests on the same market share one evaluation.

A request is queued under its market key (the SHA-256 of the market's
content). The first request of a key opens a window of
``Settings.batch_window_ms``; every request of the same key arriving before it
closes -- or, while all evaluation slots are busy, until a slot frees up --
joins the batch. The window closes early once no request has joined for
``Settings.batch_quiet_ms``, or as soon as the batch holds as many requests as the
market's previous batch (the burst of requests that arrived together is most
likely in: clients that loop send again once answered; waiting out the rest of the
window would only leave the CPU idle). The batch is then evaluated by ONE
``greek_vectors`` call in a worker thread (:func:`service.compute.evaluate`) and
split back per request.
A batch holding ``max_batch_trades`` trades is closed and dispatched at once.
With a window of 0 every request is evaluated alone (batching disabled), and so
is a request with more than ``batch_max_request`` trades (large books gain
nothing from merging and would only wait for each other).
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
from .handoff import Handoff, in_pool


#: market keys whose last batch size is remembered
_MAX_KEYS = 1024


@dataclasses.dataclass(eq=False)
class _Pending:
    key: str
    market: object
    jobs: list = dataclasses.field(default_factory=list)
    futures: list = dataclasses.field(default_factory=list)
    n_trades: int = 0
    timer: asyncio.TimerHandle | None = None
    dispatched: bool = False
    #: loop times: the window's end, and the latest join
    closes: float = 0.0
    last: float = 0.0


class MicroBatcher:
    """Collects jobs per market key and evaluates each batch with one call.

    A batch opens with its first job and is dispatched when the window closes, when
    no job has joined for ``quiet_s``, or once it holds as many jobs as the key's
    previous batch (or at once when it holds ``max_trades`` trades). A dispatched
    batch waits for one of ``slots`` free evaluation slots and keeps accepting jobs
    until it gets one, so under load batches grow to what arrives
    while the workers are busy (adaptive batching) instead of queueing many small
    evaluations.

    Parameters
    ----------
    executor : Executor
        Where evaluations run (threads: the compiled kernels release the GIL).
    window_s : float
        Collection window in seconds; 0 disables merging.
    quiet_s : float, optional
        The window closes early once no job has joined for this long; None or 0 (or
        more than ``window_s``): the window alone decides.
    max_trades : int
        A batch holding this many trades is closed and dispatched at once.
    metrics : service.metrics.Metrics, optional
        Observes requests and trades per evaluation and its duration.
    run : callable, optional
        ``run(market, jobs) -> list of bytes | Failure`` (default :func:`evaluate`).
    slots : int
        Batches evaluated at the same time.
    max_request : int, optional
        Jobs with more trades than this skip batching (evaluated alone, at once).
    """

    def __init__(self, executor: Executor, window_s: float, max_trades: int, metrics=None,
                 run: Callable = evaluate, slots: int = 1, max_request: int | None = None,
                 quiet_s: float | None = None):
        self.executor = executor
        self.window_s = window_s
        self.quiet_s = window_s if quiet_s is None or quiet_s <= 0 else quiet_s
        self.max_trades = max_trades
        self.metrics = metrics
        self.run = run
        self.slots = slots
        self.max_request = max_request
        self._sem: asyncio.Semaphore | None = None
        self._pending: dict[str, _Pending] = {}
        self._tasks: set[asyncio.Task] = set()
        #: requests in the last evaluated batch of each market key (bounded)
        self._sizes: dict[str, int] = {}
        #: results handed back to the loop (:mod:`service.handoff`; set by the lifespan)
        self.handoff: Handoff | None = None

    async def submit(self, key: str, market, job: Job) -> bytes | Failure:
        """Evaluate ``job`` on ``market`` (identified by ``key``), possibly with others."""
        loop = asyncio.get_running_loop()
        alone = self.max_request is not None and len(job.trades) > self.max_request
        if self.window_s <= 0 or alone:
            return (await in_pool(self.handoff, self.executor, self._timed, market,
                                  [job]))[0]
        fut = loop.create_future()
        pend = self._pending.get(key)
        now = loop.time()
        if pend is None:
            pend = self._pending[key] = _Pending(key, market, closes=now + self.window_s)
            pend.timer = loop.call_at(min(now + self.quiet_s, pend.closes), self._due, pend)
        pend.last = now
        pend.jobs.append(job)
        pend.futures.append(fut)
        pend.n_trades += len(job.trades)
        if pend.n_trades >= self.max_trades:
            self._close(pend)
            self._dispatch(pend)
        elif len(pend.jobs) >= self._sizes.get(key, 0) > 0:
            self._dispatch(pend)        # as many as last time: the burst is in, most likely
        return await fut

    def _due(self, pend: _Pending) -> None:
        """The batch's timer: dispatch once the window is over or no job has joined for
        ``quiet_s``; otherwise look again when the earlier of the two is due."""
        due = min(pend.last + self.quiet_s, pend.closes)
        if asyncio.get_running_loop().time() >= due:
            self._dispatch(pend)
        else:
            pend.timer = asyncio.get_running_loop().call_at(due, self._due, pend)

    def _close(self, pend: _Pending) -> None:
        """No more jobs join ``pend``."""
        if self._pending.get(pend.key) is pend:
            del self._pending[pend.key]

    def _dispatch(self, pend: _Pending) -> None:
        if pend.dispatched:
            return
        pend.dispatched = True
        if pend.timer is not None:
            pend.timer.cancel()
        task = asyncio.get_running_loop().create_task(self._run(pend))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, pend: _Pending) -> None:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.slots)
        async with self._sem:
            self._close(pend)
            if len(self._sizes) >= _MAX_KEYS and pend.key not in self._sizes:
                self._sizes.clear()
            self._sizes[pend.key] = len(pend.jobs)
            try:
                results = await in_pool(self.handoff, self.executor, self._timed,
                                        pend.market, pend.jobs)
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
        for pend in list(self._pending.values()):
            self._dispatch(pend)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
