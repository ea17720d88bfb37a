"""Several server processes on one port, with the connections spread evenly over them.

uvicorn's ``--workers N`` shares ONE listening socket between its processes, and
whichever process wakes first accepts the waiting connections. Risk clients keep
their connections open (HTTP keep-alive), so a few clients can all land on one
process while the others idle: measured here with 8 keep-alive clients and two
workers, one process did 99.8 % of the work (9.34 s of CPU against 0.02 s). Each
process of the service is mostly Python holding its GIL, so that process's one
core sets the pace.

:func:`run` has a small supervisor (this process) that starts the workers,
restarts one that dies, and stops them all on SIGINT / SIGTERM. By default
(forked workers) it also owns the listening socket and hands each accepted
connection to the worker with the fewest open connections
(:mod:`service.balance`). Otherwise every worker gets a socket of its own bound
to the same address with ``SO_REUSEPORT`` (Linux >= 3.9), and the kernel spreads
new connections by a hash of their addresses and ports, which for a handful of
keep-alive clients is often uneven.

On Linux the supervisor imports the app's module (and uvicorn) once and then
*forks* the workers (``preload``, as gunicorn's ``--preload``): a worker starts
with every module already imported and only runs the app's lifespan (kernels
from Numba's cache, warm-up), instead of each spawned interpreter importing
NumPy, Numba, FastAPI and the library again (about 1.3 s of CPU each, which two
workers starting together on two cores paid in parallel with the supervisor's
own imports). Numba's CPU target is built before the fork too
(:func:`service.numba_init.init_numba_target`: no thread, no kernel loaded).
Importing ``service.app`` has no side effect (the app is built on first access,
in the worker); no thread runs in the supervisor when it forks (checked: it
falls back to spawning otherwise).

Examples
--------
>>> from service.processes import reuseport_supported
>>> isinstance(reuseport_supported(), bool)
True
"""
from __future__ import annotations

import importlib
import logging
import multiprocessing
import multiprocessing.connection
import signal
import socket
import sys
import threading
import time

log = logging.getLogger("aadrisk.service")

__all__ = ["reuseport_supported", "reuseport_socket", "run"]

#: seconds a stopping worker gets to finish its requests before it is killed
STOP_GRACE_S = 30.0
#: a worker that dies sooner than this after its start is not restarted (it would loop)
MIN_LIFETIME_S = 5.0


def reuseport_supported() -> bool:
    """Whether this platform balances connections over ``SO_REUSEPORT`` sockets
    (Linux; the BSDs and macOS have the option without the balancing)."""
    return hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with ``SO_REUSEADDR`` and ``SO_REUSEPORT``.

    Raises ``OSError`` (e.g. the port is taken by a process without the option).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _worker(app: str, host: str, port: int, options: dict) -> None:
    """One server process: its own socket, then uvicorn on it (which installs its own
    SIGINT / SIGTERM handlers; a forked worker starts with the defaults, not the
    supervisor's)."""
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, signal.SIG_DFL)
    import uvicorn
    sock = reuseport_socket(host, port)
    config = uvicorn.Config(app, host=host, port=port, **options)
    uvicorn.Server(config).run(sockets=[sock])


def _context(app: str, preload: bool):
    """The multiprocessing context of the workers: ``fork`` after importing the app's
    module and uvicorn (``preload``, Linux, no other thread running), else ``spawn``."""
    if preload and sys.platform.startswith("linux"):
        importlib.import_module("uvicorn")
        importlib.import_module(app.partition(":")[0])
        from .numba_init import init_numba_target
        init_numba_target()      # Numba's CPU target, built once (no thread, no kernel)
        if threading.active_count() == 1:
            return multiprocessing.get_context("fork")
        log.warning("threads running in the supervisor: workers are spawned, not forked")
    return multiprocessing.get_context("spawn")


def run(app: str, *, host: str, port: int, workers: int, preload: bool = True,
        balance: bool = True, **options) -> int:
    """Serve ``app`` (an import string, e.g. ``"service.app:app"``) from ``workers``
    processes on ``host:port``.

    ``options`` are ``uvicorn.Config`` keyword arguments (``log_level``,
    ``timeout_keep_alive``, ...). ``preload``: import the app's module here and fork
    the workers (Linux; see the module docstring), else spawn fresh interpreters.
    ``balance`` (forked workers only): this process accepts the connections and
    hands each to the least loaded worker (:mod:`service.balance`); otherwise each
    worker listens on its own ``SO_REUSEPORT`` socket and the kernel spreads them
    by hash. Blocks until SIGINT / SIGTERM, then stops the workers (each finishes
    its requests, up to :data:`STOP_GRACE_S`). Returns the exit status: 0, or 1 if
    a worker kept dying at start.
    """
    ctx = _context(app, preload)
    dispatcher = None
    if balance and ctx.get_start_method() == "fork" and hasattr(socket, "send_fds"):
        from .balance import Dispatcher, balanced_worker, listening_socket
        dispatcher = Dispatcher(listening_socket(host, port), workers, ctx)
    else:
        reuseport_socket(host, port).close()   # fail here, clearly, if the port is taken
    procs: dict[int, tuple] = {}
    stopping = False
    status = 0

    def start(slot: int) -> None:
        if dispatcher is None:
            target, args = _worker, (app, host, port, options)
        else:
            chan = dispatcher.channel(slot)
            target = balanced_worker
            args = (app, chan, slot, dispatcher.closed, dispatcher.ready,
                    dispatcher.inherited(), options)
        p = ctx.Process(target=target, args=args, name=f"aadrisk-serve-{slot}", daemon=False)
        t0 = time.monotonic()   # before start(): a spawn can take a while on a busy machine
        p.start()
        if dispatcher is not None:
            args[1].close()                 # the worker's end of its channel
        procs[slot] = (p, t0)

    def stop(signum, frame):  # noqa: ARG001
        nonlocal stopping
        stopping = True

    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for slot in range(workers):
            start(slot)
        log.info("serving on %s:%d with %d processes (%s)", host, port, workers,
                 "balanced by the supervisor" if dispatcher else "SO_REUSEPORT")
        while not stopping and procs:
            waits = [p.sentinel for p, _ in procs.values()]
            if dispatcher is not None:
                if dispatcher.any_ready():
                    waits.append(dispatcher.listener)
                ready = multiprocessing.connection.wait(
                    waits, timeout=0.5 if dispatcher.any_ready() else 0.02)
                if dispatcher.listener in ready:
                    dispatcher.dispatch()
            else:
                multiprocessing.connection.wait(waits, timeout=0.5)
            for slot, (p, started) in list(procs.items()):
                if p.is_alive() or stopping:
                    continue
                if time.monotonic() - started < MIN_LIFETIME_S:
                    log.error("worker %d exited with %s within %.0f s of its start; not "
                              "restarted", slot, p.exitcode, MIN_LIFETIME_S)
                    del procs[slot]
                    status = 1
                else:
                    log.warning("worker %d exited with %s; restarting it", slot, p.exitcode)
                    start(slot)
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for p, _ in procs.values():
            if p.is_alive():
                p.terminate()            # SIGTERM: uvicorn's graceful shutdown
        deadline = time.monotonic() + STOP_GRACE_S
        for p, _ in procs.values():
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
        if dispatcher is not None:
            dispatcher.close()
    return status
