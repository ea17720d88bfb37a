"""``aadrisk serve --workers N`` on Linux: N processes, each with its own SO_REUSEPORT socket.

uvicorn's own ``--workers`` shares one socket and lets one process take a burst of
keep-alive connections (service/processes.py); here the kernel must spread them.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from service.processes import MIN_LIFETIME_S, reuseport_socket, reuseport_supported

pytestmark = pytest.mark.skipif(not reuseport_supported(), reason="Linux SO_REUSEPORT only")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _workers(psutil, pid: int) -> list:
    """The live server processes under the supervisor ``pid`` (not multiprocessing's
    resource tracker, not a dead worker the supervisor has yet to reap)."""
    out = []
    for k in psutil.Process(pid).children():
        try:
            if k.status() != psutil.STATUS_ZOMBIE and \
                    "resource_tracker" not in " ".join(k.cmdline()):
                out.append(k)
        except (psutil.NoSuchProcess, psutil.ZombieProcess):
            pass
    return out


def test_reuseport_sockets_share_a_port():
    port = _free_port()
    a, b = reuseport_socket("127.0.0.1", port), reuseport_socket("127.0.0.1", port)
    try:
        assert a.getsockname() == b.getsockname()
    finally:
        a.close()
        b.close()
    with socket.socket() as plain:          # a socket without the option keeps its port
        plain.bind(("127.0.0.1", 0))
        plain.listen()
        with pytest.raises(OSError):
            reuseport_socket("127.0.0.1", plain.getsockname()[1])


def test_serve_workers_spread_keep_alive_connections(tmp_path):
    psutil = pytest.importorskip("psutil")
    port = _free_port()
    env = {**os.environ, "AADRISK_DB_PATH": str(tmp_path / "m.db")}
    proc = subprocess.Popen([sys.executable, "-m", "aadrisk", "serve", "--port", str(port),
                             "--workers", "2", "--log-level", "warning"], env=env)
    conns = []
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, "aadrisk serve exited"
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                c.request("GET", "/v1/health")
                assert c.getresponse().read()
                c.close()
                break
            except OSError:
                assert time.monotonic() < deadline, "no answer within 300 s"
                time.sleep(0.2)
        kids = _workers(psutil, proc.pid)
        assert len(kids) == 2
        # forked from the supervisor after its imports (preload), not spawned afresh
        assert all(k.cmdline() == psutil.Process(proc.pid).cmdline() for k in kids)
        # only the supervisor listens; it hands each connection to the least loaded worker

        def owner(c) -> int:
            port = c.sock.getsockname()[1]
            for i, k in enumerate(kids):
                if any(x.raddr and x.raddr.port == port for x in k.net_connections()):
                    return i
            return -1

        def connect():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("GET", "/v1/health")
            assert c.getresponse().status == 200
            return c
        while True:              # both workers ready: two connections land on both
            pair = [connect(), connect()]
            if {owner(c) for c in pair} == {0, 1}:
                conns += pair
                break
            for c in pair:
                c.close()
            assert time.monotonic() < deadline, "a worker not ready within 300 s"
            time.sleep(0.2)
        assert not any(c.status == "LISTEN" for k in kids for c in k.net_connections())
        for _ in range(22):   # keep-alive connections, all open at once
            conns.append(connect())
        per_worker = [sum(c.status == "ESTABLISHED" for c in k.net_connections()) for k in kids]
        assert per_worker == [12, 12], per_worker
        # a worker that dies is replaced (it had lived longer than MIN_LIFETIME_S)
        time.sleep(max(0.0, MIN_LIFETIME_S + 2.0 - (time.time() - kids[0].create_time())))
        kids[0].kill()
        for _ in range(300):
            now = _workers(psutil, proc.pid)
            if len(now) == 2 and kids[0].pid not in {k.pid for k in now}:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the killed worker was not restarted")
    finally:
        for c in conns:
            c.close()
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(60) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
