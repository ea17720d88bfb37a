"""The per-app service state: settings, store, executor, market cache, batcher, metrics."""
from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor

import asyncio

from .batcher import MicroBatcher
from .handoff import Handoff
from .markets import MarketCache
from .metrics import Metrics
from .settings import Settings
from .store import MarketStore


@dataclasses.dataclass
class ServiceState:
    """Everything a request handler needs (``request.app.state.svc``)."""

    settings: Settings
    store: MarketStore
    executor: ThreadPoolExecutor
    markets: MarketCache
    batcher: MicroBatcher
    metrics: Metrics
    ready: bool = False
    warmup_seconds: float | None = None
    #: products still to be warmed in the background (after /v1/ready answers 200)
    warming: list = dataclasses.field(default_factory=list)
    closed: bool = False
    #: pool results back to the event loop (:mod:`service.handoff`), opened by the lifespan
    handoff: Handoff | None = None

    @classmethod
    def build(cls, settings: Settings) -> "ServiceState":
        """Open the store and create the executor, cache, batcher and metrics."""
        metrics = Metrics()
        executor = ThreadPoolExecutor(settings.compute_threads, thread_name_prefix="aadrisk")
        return cls(settings=settings, store=MarketStore(settings.db_path), executor=executor,
                   markets=MarketCache(executor, settings.market_cache),
                   batcher=MicroBatcher(executor, settings.batch_window_ms / 1000.0,
                                        settings.max_batch_trades, metrics,
                                        slots=settings.batch_concurrency,
                                        max_request=settings.batch_max_request,
                                        quiet_s=settings.batch_quiet_ms / 1000.0),
                   metrics=metrics)

    def reopen(self) -> None:
        """After :meth:`close` (a second lifespan of the same app): open everything again."""
        if not self.closed:
            return
        fresh = ServiceState.build(self.settings)
        fresh.metrics = self.metrics
        fresh.batcher.metrics = self.metrics
        for f in ("store", "executor", "markets", "batcher"):
            setattr(self, f, getattr(fresh, f))
        self.closed = False

    def open_handoff(self, loop: asyncio.AbstractEventLoop) -> None:
        """Hand pool results back to ``loop`` through a :class:`Handoff` (kept as
        ``run_in_executor`` on a loop without readers)."""
        if self.handoff is not None:
            self.handoff.close()
        try:
            self.handoff = Handoff(loop)
        except NotImplementedError:
            self.handoff = None
        self.batcher.handoff = self.handoff

    def close(self) -> None:
        """Stop the executor, close the store and the handoff."""
        self.closed = True
        if self.handoff is not None:
            self.handoff.close()
            self.handoff = self.batcher.handoff = None
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.store.close()
