"""The background warm-up after /v1/ready: one product at a time, in quiet moments."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

import service.warmup as w
from service.metrics import Metrics


def test_quiet_for_counts_from_the_end_of_the_last_request():
    m = Metrics()
    m.active = 1
    assert m.quiet_for() == 0.0
    m.active, m.last_end = 0, time.monotonic() - 2.0
    assert m.quiet_for() >= 2.0


def test_warm_when_quiet_waits_for_a_gap_and_stops(monkeypatch):
    warmed = []
    monkeypatch.setattr(w, "warmup", lambda products: warmed.append(list(products)))
    metrics = Metrics()

    async def run():
        stop = asyncio.Event()
        metrics.active = 1                               # a request in flight
        left = ["a", "b"]
        task = asyncio.create_task(w.warm_when_quiet(executor, metrics, left, stop,
                                                     quiet_s=0.05))
        await asyncio.sleep(0.2)
        assert warmed == [] and left == ["a", "b"]
        metrics.active, metrics.last_end = 0, time.monotonic()
        await asyncio.wait_for(task, 5)
        assert warmed == [["a"], ["b"]] and left == []        # what /v1/ready lists
        warmed.clear()
        metrics.active = 1
        stop.set()                                       # shutdown: nothing more is warmed
        await asyncio.wait_for(w.warm_when_quiet(executor, metrics, ["c"], stop), 5)
        assert warmed == []
        # a process quiet since long before the warm-up starts (no request yet) still
        # waits quiet_s from the start: the first requests after a restart go alone
        metrics.active, metrics.last_end = 0, time.monotonic() - 60.0
        task = asyncio.create_task(w.warm_when_quiet(executor, metrics, ["d"], asyncio.Event(),
                                                     quiet_s=0.3))
        await asyncio.sleep(0.1)
        assert warmed == []
        await asyncio.wait_for(task, 5)
        assert warmed == [["d"]]

    with ThreadPoolExecutor(1) as executor:
        asyncio.run(run())
