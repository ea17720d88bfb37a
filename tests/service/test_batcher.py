"""MicroBatcher timing rules (no pricing: a recording ``run``): the window, the quiet gap."""
from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from service.batcher import MicroBatcher
from service.compute import Job


def _batcher(ex, window_s, quiet_s=None, max_trades=10_000):
    batches = []

    def run(market, jobs):
        batches.append(len(jobs))
        return [b"ok"] * len(jobs)
    return MicroBatcher(ex, window_s, max_trades, run=run, quiet_s=quiet_s), batches


def _job():
    return Job([{}], {})


def test_lone_request_waits_only_the_quiet_gap():
    async def go():
        with ThreadPoolExecutor(1) as ex:
            mb, batches = _batcher(ex, window_s=2.0, quiet_s=0.02)
            t0 = time.perf_counter()
            assert await mb.submit("k", None, _job()) == b"ok"
            return time.perf_counter() - t0, batches
    took, batches = asyncio.run(go())
    assert batches == [1] and took < 1.0                 # not the 2-s window


def test_without_a_quiet_gap_the_window_is_waited():
    async def go():
        with ThreadPoolExecutor(1) as ex:
            mb, _ = _batcher(ex, window_s=0.3, quiet_s=0)   # 0: the window rule alone
            t0 = time.perf_counter()
            await mb.submit("k", None, _job())
            return time.perf_counter() - t0
    assert asyncio.run(go()) >= 0.29


def test_a_quiet_gap_beyond_the_window_is_the_window():
    async def go():
        with ThreadPoolExecutor(1) as ex:
            mb, _ = _batcher(ex, window_s=0.3, quiet_s=5.0)
            t0 = time.perf_counter()
            await mb.submit("k", None, _job())
            return time.perf_counter() - t0
    assert 0.29 <= asyncio.run(go()) < 2.0


def test_a_stream_of_joins_keeps_the_batch_open():
    """Jobs arriving 10 ms apart all join while no gap of 0.25 s opens (window 5 s)."""
    async def go():
        with ThreadPoolExecutor(1) as ex:
            mb, batches = _batcher(ex, window_s=5.0, quiet_s=0.25)
            tasks = []
            for _ in range(8):
                tasks.append(asyncio.create_task(mb.submit("k", None, _job())))
                await asyncio.sleep(0.01)
            await asyncio.gather(*tasks)
            return batches
    assert asyncio.run(go()) == [8]


def test_the_window_closes_a_batch_that_keeps_growing():
    async def go():
        with ThreadPoolExecutor(1) as ex:
            mb, batches = _batcher(ex, window_s=0.2, quiet_s=0.15)
            tasks = []
            for _ in range(20):                          # 20 x 30 ms: longer than the window
                tasks.append(asyncio.create_task(mb.submit("k", None, _job())))
                await asyncio.sleep(0.03)
            await asyncio.gather(*tasks)
            return batches
    batches = asyncio.run(go())
    assert sum(batches) == 20 and len(batches) >= 2


def test_a_batch_as_large_as_the_last_one_goes_at_once():
    """The second burst of three is evaluated when its third job joins, not after the
    1-s window (the first burst, with no size known yet, waited for it)."""
    async def burst(mb):
        t0 = time.perf_counter()
        await asyncio.gather(*(mb.submit("k", None, _job()) for _ in range(3)))
        return time.perf_counter() - t0

    async def go():
        with ThreadPoolExecutor(1) as ex:
            mb, batches = _batcher(ex, window_s=1.0, quiet_s=1.0)
            first = await burst(mb)
            second = await burst(mb)
            return first, second, batches
    first, second, batches = asyncio.run(go())
    assert batches == [3, 3]
    assert first >= 0.95 and second < 0.5
