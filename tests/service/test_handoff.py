"""service.handoff: pool results handed back to the event loop through a socket."""
from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.handoff import Handoff, in_pool


def _with_handoff(coro_fn, threads=2):
    async def main():
        with ThreadPoolExecutor(threads) as pool:
            h = Handoff(asyncio.get_running_loop())
            try:
                return await coro_fn(h, pool)
            finally:
                h.close()
    return asyncio.run(main())


def test_results_and_exceptions_of_many_concurrent_jobs():
    """400 jobs on 4 threads, every tenth raising: each awaiting task gets its own result
    or its own exception, none lost."""
    def job(i):
        if i % 10 == 0:
            raise ValueError(i)
        return i * i

    async def go(h, pool):
        return await asyncio.gather(*(in_pool(h, pool, job, i) for i in range(400)),
                                    return_exceptions=True)

    out = _with_handoff(go, threads=4)
    for i, r in enumerate(out):
        if i % 10 == 0:
            assert isinstance(r, ValueError) and r.args == (i,)
        else:
            assert r == i * i


def test_cancelled_before_start_does_not_run():
    """One thread, busy: a job whose future is cancelled while it waits never runs; the
    busy one still delivers."""
    gate, ran = threading.Event(), []

    async def go(h, pool):
        busy = h.run(pool, gate.wait, 5.0)
        queued = h.run(pool, ran.append, 1)
        queued.cancel()
        await asyncio.sleep(0)                     # its done-callbacks run: work cancelled
        gate.set()
        return await busy, queued.cancelled()

    assert _with_handoff(go, threads=1) == (True, True)
    assert ran == []


def test_closed_or_missing_handoff_falls_back_to_run_in_executor():
    async def go(h, pool):
        h.close()
        h.close()                                  # idempotent
        a = await in_pool(h, pool, sum, [1, 2])
        b = await in_pool(None, pool, sum, [3, 4])
        return a, b

    assert _with_handoff(go) == (3, 7)


def test_a_handoff_of_another_loop_is_not_used():
    other = asyncio.new_event_loop()
    try:
        h = Handoff(other)

        async def go():
            with ThreadPoolExecutor(1) as pool:
                return await in_pool(h, pool, max, 2, 5)

        assert asyncio.run(go()) == 5
        assert not h._done                        # nothing went through the other loop
        h.close()
    finally:
        other.close()


def test_loop_without_readers():
    class NoReaders:
        def add_reader(self, fd, cb):
            raise NotImplementedError

    with pytest.raises(NotImplementedError):
        Handoff(NoReaders())


def test_lifespan_opens_and_closes_it(make_app):
    """The app's lifespan opens a handoff shared by the batcher and closes it at the end."""
    from fastapi.testclient import TestClient

    app = make_app()
    svc = app.state.svc
    with TestClient(app):
        assert svc.handoff is not None and svc.batcher.handoff is svc.handoff
        assert not svc.handoff.closed
        h = svc.handoff
    assert h.closed and svc.handoff is None and svc.batcher.handoff is None
