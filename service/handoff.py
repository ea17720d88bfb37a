"""CPU work handed to a thread pool, and its result handed back to the event loop.

``loop.run_in_executor`` hands a result back with ``loop.call_soon_threadsafe``
from the pool's thread, which wakes the loop by writing to a file descriptor
while it holds the GIL (uvloop's ``uv_async_send``; asyncio's selector loop
likewise). On a busy machine the thread it wakes often takes the core at once,
and then waits for the GIL the waker still holds: under the 1,000-trade load
of ``benchmarks/service_load.py`` (two processes, eight clients, two cores),
py-spy ``--gil --native`` found the pool's thread holding the GIL inside that
``write`` in 10-14 % of all samples with the GIL held.

:class:`Handoff` wakes the loop with ``socket.send`` instead, which releases
the GIL around the system call: the woken loop can run straight away. The
result itself goes through a deque (appends and pops are atomic). A
``Handoff`` belongs to one event loop; :func:`in_pool` falls back to
``run_in_executor`` when there is none (an app served without its lifespan).

Examples
--------
>>> import asyncio
>>> from concurrent.futures import ThreadPoolExecutor
>>> async def main():
...     with ThreadPoolExecutor(1) as pool:
...         h = Handoff(asyncio.get_running_loop())
...         try:
...             return await h.run(pool, sum, [1, 2, 3])
...         finally:
...             h.close()
>>> asyncio.run(main())
6
"""
from __future__ import annotations

import asyncio
import collections
import socket
from concurrent.futures import Executor
from typing import Callable

__all__ = ["Handoff", "in_pool"]


class Handoff:
    """Results of pool threads delivered to ``loop`` (see the module docstring)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.closed = False
        self._done: collections.deque = collections.deque()
        self._rsock, self._wsock = socket.socketpair()
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        try:
            loop.add_reader(self._rsock.fileno(), self._wake)
        except NotImplementedError:     # a loop without readers (Windows' proactor)
            self._close_sockets()
            raise

    def run(self, executor: Executor, fn: Callable, *args) -> asyncio.Future:
        """``fn(*args)`` in ``executor``; a future of this loop with its result (or its
        exception). Cancelling the future cancels the work if it has not started."""
        fut = self.loop.create_future()
        work = executor.submit(self._work, fut, fn, args)
        fut.add_done_callback(lambda f: f.cancelled() and work.cancel())
        return fut

    def _work(self, fut, fn, args) -> None:
        try:
            item = (fut, fn(*args), None)
        except BaseException as exc:     # as run_in_executor: handed to the awaiting task
            item = (fut, None, exc)
        self._done.append(item)
        try:
            self._wsock.send(b"\0")      # releases the GIL during the system call
        except OSError:                  # full (bytes pending: the loop will look) or
            pass                         # closed (the loop is gone)

    def _wake(self) -> None:
        try:
            self._rsock.recv(4096)
        except (BlockingIOError, InterruptedError):
            pass
        done = self._done
        while done:
            fut, value, exc = done.popleft()
            if fut.done():               # cancelled meanwhile
                continue
            if exc is None:
                fut.set_result(value)
            else:
                fut.set_exception(exc)

    def _close_sockets(self) -> None:
        self._rsock.close()
        self._wsock.close()

    def close(self) -> None:
        """Stop listening and close the sockets (results still to come are dropped)."""
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self._rsock.fileno())
            self._close_sockets()


def in_pool(handoff: Handoff | None, executor: Executor, fn: Callable, *args):
    """Awaitable result of ``fn(*args)`` in ``executor``: through ``handoff`` if it has
    one open on the running loop, else ``run_in_executor``."""
    loop = asyncio.get_running_loop()
    if handoff is not None and not handoff.closed and handoff.loop is loop:
        return handoff.run(executor, fn, *args)
    return loop.run_in_executor(executor, fn, *args)
