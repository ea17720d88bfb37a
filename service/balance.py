"""Connections spread evenly over the server processes: the supervisor accepts, the least
loaded process serves.

With one ``SO_REUSEPORT`` socket per process the kernel picks a process by a hash
of each connection's addresses, so a few keep-alive clients often land unevenly:
with 8 clients on two processes only about one run in four gets 4 + 4, and a
5 + 3 or 6 + 2 split leaves one core waiting while the other queues (measured
2026-11-27 with 1,000-trade books: p50 47-79 ms from run to run, the process CPU
split as uneven as 0.25 / 0.84 s). Here the supervisor owns the one listening
socket, accepts each connection and hands its file descriptor (``SCM_RIGHTS``
over a Unix socket pair) to the ready process with the fewest open connections;
the process serves it with uvicorn's own HTTP protocol, as if it had accepted it.
Only the connection's start passes through the supervisor: requests and answers
go straight between client and worker.

Open connections per process = handed over (counted by the supervisor) minus
closed (counted by the process in a shared array): each counter has one writer.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import socket

log = logging.getLogger("aadrisk.service")

__all__ = ["Dispatcher", "balanced_worker", "listening_socket"]


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A non-blocking TCP listening socket on ``(host, port)`` (``SO_REUSEADDR``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=backlog)
    sock.setblocking(False)
    return sock


class Dispatcher:
    """The supervisor's side: accept connections, hand each to the least loaded ready
    process.

    Parameters
    ----------
    listener : socket.socket
        The listening socket (non-blocking).
    slots : int
        Number of worker processes.
    ctx : multiprocessing context
        Creates the shared ``closed`` and ``ready`` arrays (inherited by forked workers).
    """

    def __init__(self, listener: socket.socket, slots: int, ctx):
        self.listener = listener
        self.closed = ctx.Array("q", slots, lock=False)   # written by each worker
        self.ready = ctx.Array("b", slots, lock=False)    # written by each worker
        self.sent = [0] * slots
        self.chans: dict[int, socket.socket] = {}

    def inherited(self) -> list:
        """The supervisor's sockets (for a forked worker to close)."""
        return [self.listener, *self.chans.values()]

    def channel(self, slot: int) -> socket.socket:
        """A new channel to the worker in ``slot`` (its end for the worker is returned;
        the supervisor keeps the other). Resets the slot's counters."""
        old = self.chans.pop(slot, None)
        if old is not None:
            old.close()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.chans[slot] = mine
        self.sent[slot] = 0
        self.closed[slot] = 0
        self.ready[slot] = 0
        return theirs

    def any_ready(self) -> bool:
        return any(self.ready[s] for s in self.chans)

    def dispatch(self) -> int:
        """Accept every pending connection and hand it over; the number handed over."""
        n = 0
        while True:
            slots = [s for s in self.chans if self.ready[s]]
            if not slots:
                return n
            try:
                conn, _ = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return n
            except OSError as exc:             # e.g. EMFILE: leave it in the backlog
                log.warning("accept failed: %s", exc)
                return n
            with conn:
                for slot in sorted(slots, key=lambda s: self.sent[s] - self.closed[s]):
                    try:
                        socket.send_fds(self.chans[slot], [b"c"], [conn.fileno()])
                    except OSError:            # that worker is gone: try the next
                        self.ready[slot] = 0
                        continue
                    self.sent[slot] += 1
                    n += 1
                    break

    def close(self) -> None:
        for chan in self.chans.values():
            chan.close()
        self.chans.clear()
        self.listener.close()


def balanced_worker(app: str, chan: socket.socket, slot: int, closed, ready,
                    inherited: list, options: dict) -> None:
    """One server process fed connections by the :class:`Dispatcher` (forked);
    ``inherited``: the supervisor's sockets this fork copied (its listener, its ends of
    the channels), closed here (so that a channel sees its end when the supervisor
    goes, and the port is the supervisor's alone)."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)
    for sock in inherited:
        sock.close()
    import uvicorn

    class _Server(uvicorn.Server):
        """uvicorn without a listening socket of its own: each connection handed over on
        ``chan`` is served with uvicorn's HTTP protocol."""

        async def startup(self, sockets=None):
            await super().startup(sockets=[])          # the lifespan (warm-up), no socket
            loop = asyncio.get_running_loop()
            base = self.config.http_protocol_class

            class Counted(base):
                def connection_lost(self, exc):
                    closed[slot] += 1
                    super().connection_lost(exc)

            def factory():
                return Counted(config=self.config, server_state=self.server_state,
                               app_state=self.lifespan.state, _loop=loop)
            self._factory = factory
            chan.setblocking(False)
            loop.add_reader(chan.fileno(), self._take)
            ready[slot] = 1

        def _take(self):
            try:
                msg, fds, _, _ = socket.recv_fds(chan, 16, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                msg, fds = b"", []
            if not msg and not fds:                    # the supervisor is gone
                asyncio.get_running_loop().remove_reader(chan.fileno())
                self.should_exit = True
                return
            for fd in fds:
                asyncio.get_running_loop().create_task(self._serve_one(socket.socket(fileno=fd)))

        async def _serve_one(self, sock: socket.socket) -> None:
            if self.should_exit:
                sock.close()
                closed[slot] += 1
                return
            try:
                await asyncio.get_running_loop().connect_accepted_socket(self._factory, sock)
            except OSError:                            # the client left already
                sock.close()
                closed[slot] += 1

        async def shutdown(self, sockets=None):
            ready[slot] = 0
            try:
                asyncio.get_running_loop().remove_reader(chan.fileno())
            except (ValueError, OSError):
                pass
            await super().shutdown(sockets=sockets)

    config = uvicorn.Config(app, **options)
    _Server(config).run(sockets=[])
