"""HTTP service load benchmark (issue 6): latency, batching gain, soak, restart.

Starts ``uvicorn service.app:app`` in subprocesses on 127.0.0.1 (random free
ports, a temporary SQLite file, loopback only; ``--workers N`` server processes,
default 1, stated in the output: with N > 1 the server is ``aadrisk serve --workers
N``: its supervisor forks the processes and hands each new connection to the least
loaded one, since uvicorn's own ``--workers`` lets one process take every keep-alive
client). The load clients run on the same machine as the server and share its cores.

The host's speed drifts: the same code has taken 10 to 15 ms of server CPU per
1,000-trade request within minutes on this machine. :func:`host_reference_ms`
times a fixed pure-Python loop in this process (idle, between phases) and the
summary reports it before and after each phase, so a slow phase of the host can
be told from a slower service.

What the clients do
-------------------
* Every request sends a portfolio of its own (:class:`Bodies`: ``book(n, variant=v)``
  with every strike scaled by ``1 + 1e-5 v`` and the quantities shifted), so the
  server computes every answer; all bodies of a phase are built and JSON-encoded
  BEFORE its timing starts (a phase that outruns the pool builds further bodies
  as it goes and reports how many, ``bodies_built_late``).
* Each client is one asyncio task with its own keep-alive HTTP/1.1 connection on
  raw asyncio streams (:class:`Connection`: hand-written request line and headers,
  the answer read whole by ``Content-Length``), sending its next request as soon
  as the previous answer is read: a closed loop, ``clients`` requests in flight.
  Latency is client-side, from the write of the request to the last byte of the
  answer.
* Every answer's status is checked (anything but 200 counts as an error); the
  body is not parsed during the timing. Every 10th (1,000-trade books) or 50th
  (10-trade books) answer is kept and, after the phase, parsed and checked
  against the library in this process (:func:`verify`: ``greek_vectors`` of the
  same book on the same market; ids, prices, Greek row count and sum).

Every timed phase but the restart starts once each server process reports its
background warm-up of the other products done (``/v1/ready``: ``warming`` empty;
:meth:`Server.wait_warm`): it measures the steady state. The restart phase
measures the first answer after a start, without waiting.

Phases
------
1. latency: 1,000-trade European books with full Greeks (21,006 Greek rows), one
   client (15 requests) then 8 concurrent clients (30 requests each, p50/p99; after
   8 x 3 warm-up requests, so that every server process is warm), in the default
   per-trade layout
   and in the ``columnar`` layout (batched server), and unbatched; plus the
   library's own ``greek_vectors`` time for the same book in this process;
2. batching: 10-trade requests at 32 concurrent clients, throughput with the
   batch window on vs off (``AADRISK_BATCH_WINDOW_MS=0``): both servers started
   side by side and measured in alternating 5-s segments (3 rounds, the order
   reversed every round), so that both modes see the same host speeds;
3. soak: 32 clients for 60 s (``--quick``: 10 s), errors counted, server RSS
   sampled (start/end/max);
4. restart: the soak server is stopped, a new one started on the same database
   (kernels from Numba's on-disk cache); seconds from spawn to ready and to the
   first answered risk request, and the latency of that first request.

Usage: ``python benchmarks/service_load.py [--quick] [--workers N]``; the last
line is one JSON object (``workload: "service"``).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
import orjson

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from _common import environment, print_json_last  # noqa: E402

#: answers kept and checked against the library after each phase: every n-th
LATENCY_KEEP, SMALL_KEEP = 10, 50
#: 10-trade bodies encoded before a timed phase, per second of the phase: above the
#: fastest throughput seen (~2,600 req/s), since a body built during a phase costs the
#: clients ~19 us of the shared cores (``bodies_built_late`` counts them)
SMALL_POOL_PER_S = 3500
MARKET = json.loads((ROOT / "portfolios" / "market_full.json").read_text())
SPOTS = {"SPX": 5460.48, "AAPL": 210.62, "SX5E": 4894.02}


def book(n: int, seed: int = 0, variant: int = 0) -> list[dict]:
    """``n`` European options on the three underlyings of market_full.json.

    ``variant`` perturbs every strike (x (1 + 1e-5 variant)) and the quantities, so
    that each request of a run sends a portfolio of its own (nothing a server could
    answer from a cache of earlier requests)."""
    unds = list(SPOTS)
    out = []
    bump = 1.0 + 1e-5 * variant
    for i in range(n):
        k = (i * 7919 + seed) % 1000
        u = unds[k % 3]
        out.append({"trade_id": f"T{i}", "underlying": u,
                    "option_type": "call" if k % 2 else "put",
                    "strike": round(SPOTS[u] * (0.8 + 0.4 * (k % 97) / 96) * bump, 4),
                    "expiry": ["2024-12-20", "2025-03-21", "2025-06-20", "2025-09-19"][k % 4],
                    "quantity": ((k + variant) % 11) - 5 or 1})
    return out


class Bodies:
    """Request bodies, each one a distinct portfolio (``book(n, variant=v)``, v = 1, 2, ...),
    encoded BEFORE the timed phase: ``pool`` bodies up front; ``next()`` returns
    ``(variant, body)``. Should a phase outrun the pool, further bodies are built when
    sent and counted in ``late`` (reported: that client work then overlaps the timing)."""

    def __init__(self, n: int, pool: int, **extra):
        self.n, self.extra, self.i, self.late = n, extra, 0, 0
        self.pool = [self.make(v) for v in range(1, pool + 1)]

    def make(self, variant: int) -> bytes:
        return body_of(book(self.n, variant=variant), **self.extra)

    def next(self) -> tuple[int, bytes]:
        self.i += 1
        if self.i <= len(self.pool):
            return self.i, self.pool[self.i - 1]
        self.late += 1
        return self.i, self.make(self.i)


# ----------------------------------------------------------------------------- server
def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    out = [pid]
    try:
        for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += _tree(int(child))
    except OSError:
        pass
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its live descendants (the
    server processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = pathlib.Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])        # utime, stime
    return total / tick


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float | None:
    """Current resident set size of ``pid`` and its live descendants (the server
    processes; Linux /proc), MiB."""
    total = None
    for p in _tree(pid):
        try:
            for line in pathlib.Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total = (total or 0.0) + int(line.split()[1]) / 1024.0
        except OSError:
            continue
    return total


class Server:
    """``uvicorn service.app:app`` in a subprocess on a free loopback port."""

    #: uvicorn worker processes of every server (``--workers``)
    workers = 1

    def __init__(self, db_path: str, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        e = {**os.environ, "PYTHONPATH": str(ROOT), "AADRISK_DB_PATH": db_path,
             **{f"AADRISK_{k.upper()}": str(v) for k, v in env.items()}}
        # Python's default: bytecode cached in __pycache__ (a deployed service has it; the
        # Docker image compiles it at build time). Some sandboxes set this variable, which
        # would make every restart compile the package's source again (~0.2 s of CPU).
        e.pop("PYTHONDONTWRITEBYTECODE", None)
        self.spawned = time.perf_counter()
        if self.workers == 1:
            cmd = [sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "warning", "--no-access-log",
                   "--timeout-keep-alive", "75"]
        else:   # one SO_REUSEPORT socket per process (uvicorn's --workers shares one)
            cmd = [sys.executable, "-m", "aadrisk", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--log-level", "warning", "--no-access-log",
                   "--workers", str(self.workers)]
            e.setdefault("AADRISK_KEEP_ALIVE_S", "75")
        self.proc = subprocess.Popen(cmd, env=e, cwd=str(ROOT))

    def wait_ready(self, timeout: float = 300.0) -> float:
        """Seconds from spawn until /v1/ready answers 200."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/v1/ready", timeout=1.0).status_code == 200:
                    return time.perf_counter() - self.spawned
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        raise TimeoutError("server not ready")

    def wait_warm(self, timeout: float = 120.0) -> float:
        """Seconds until every server process reports its background warm-up done
        (``/v1/ready``'s ``warming`` empty; one keep-alive connection per process, so
        the supervisor hands them to different processes)."""
        start = time.perf_counter()
        clients = [httpx.Client(base_url=self.url, timeout=5.0) for _ in range(self.workers)]
        try:
            while time.perf_counter() - start < timeout:
                if all(not c.get("/v1/ready").json().get("warming") for c in clients):
                    return time.perf_counter() - start
                time.sleep(0.5)      # > the 0.25 s quiet the warm-up waits for between products
        finally:
            for c in clients:
                c.close()
        raise TimeoutError("background warm-up not done")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ----------------------------------------------------------------------------- clients
class _Answers(asyncio.BufferedProtocol):
    """Receives HTTP/1.1 answers straight into one preallocated, growing buffer (no
    copy per read, no parsing in Python beyond the status line and headers): the
    load clients leave the cores to the server. Framing by ``Content-Length`` only
    (what the service sends); anything else fails the request."""

    def __init__(self):
        self.buf = bytearray(1 << 22)
        self.view = memoryview(self.buf)
        self.filled = 0
        self.head = 0             # bytes of the status line and headers, once known
        self.need = -1            # head + content length, once known
        self.status = 0
        self.close_after = False
        self.waiter: asyncio.Future | None = None
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport

    def connection_lost(self, exc):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc or ConnectionError("connection closed"))

    def get_buffer(self, sizehint):
        if len(self.buf) - self.filled < 65536:
            self.view.release()
            self.buf.extend(bytes(len(self.buf)))       # double it
            self.view = memoryview(self.buf)
        return self.view[self.filled:]

    def buffer_updated(self, nbytes):
        self.filled += nbytes
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n", 0, self.filled)
            if end < 0:
                return
            self.head = end + 4
            lines = bytes(self.buf[:end]).split(b"\r\n")
            self.status = int(lines[0][9:12])
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    self.close_after = b"close" in value.lower()
            if length is None:
                self._finish(exc=ValueError("answer without Content-Length"))
                return
            self.need = self.head + length
        if self.filled >= self.need and self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _finish(self, exc):
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)

    def reset(self) -> None:
        if self.filled > self.need:                      # pragma: no cover - pipelining
            raise ValueError("bytes after the answer")
        self.filled, self.head, self.need, self.close_after = 0, 0, -1, False


class Connection:
    """One keep-alive HTTP/1.1 connection: a hand-written request line and headers, the
    answer received by :class:`_Answers` into a preallocated buffer. Far cheaper per
    request than an HTTP client library or asyncio streams (which copy every read into
    their buffer and again out of it), so the load clients leave the cores to the
    server."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.proto: _Answers | None = None

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        _, self.proto = await loop.create_connection(_Answers, self.host, self.port)

    def close(self) -> None:
        if self.proto is not None and self.proto.transport is not None:
            self.proto.transport.close()
        self.proto = None

    async def post(self, path: str, body: bytes, keep: bool = True) -> tuple[int, bytes | int]:
        """(status, body) of ``POST path`` with a JSON ``body``; with ``keep`` False the
        answer's length instead of its bytes (no copy)."""
        if self.proto is None:
            await self._open()
        p = self.proto
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
        p.waiter = asyncio.get_running_loop().create_future()
        p.transport.write(head.encode() + body)
        try:
            await p.waiter
        except BaseException:
            self.close()        # the stream is out of step: never reuse it
            raise
        status = p.status
        data = bytes(p.view[p.head:p.need]) if keep or status != 200 else p.need - p.head
        close = p.close_after
        p.reset()
        if close:
            self.close()
        return status, data


def run(coro):
    """``asyncio.run`` on uvloop (the server's loop; cheaper per callback for the clients)
    when installed."""
    try:
        import uvloop
    except ImportError:                                   # pragma: no cover
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


async def drive(url: str, bodies: Bodies, clients: int, *, per_client: int | None = None,
                seconds: float | None = None, sample=None, keep_every: int = 0) -> dict:
    """``clients`` concurrent loops, each on its own keep-alive connection, posting
    ``bodies.next()`` to /v1/risk until ``per_client`` requests each or ``seconds``
    elapsed. Every status is checked (non-200 is an error); the answer to every
    ``keep_every``-th request sent is kept (if 200), with its variant, for :func:`verify` after the phase. Returns
    latencies (s), errors, wall time, response sizes, kept answers."""
    host, port = url.split("//", 1)[1].split(":")
    lat, errors, sizes, kept = [], [], [], []
    stop_at = None if seconds is None else time.perf_counter() + seconds
    sent = 0

    async def one():
        nonlocal sent
        conn = Connection(host, int(port))
        n = 0
        try:
            while (per_client is None or n < per_client) and \
                    (stop_at is None or time.perf_counter() < stop_at):
                variant, body = bodies.next()
                sent += 1
                keep = bool(keep_every) and sent % keep_every == 0
                t0 = time.perf_counter()
                try:
                    status, data = await conn.post("/v1/risk", body, keep=keep)
                except (OSError, ValueError) as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                else:
                    if status != 200:
                        errors.append(f"HTTP {status}: {data[:200]!r}")
                    else:
                        lat.append(time.perf_counter() - t0)
                        sizes.append(len(data) if keep else data)
                        if keep:
                            kept.append((variant, data))
                n += 1
        finally:
            conn.close()

    async def sampler():
        while stop_at is not None and time.perf_counter() < stop_at:
            sample()
            await asyncio.sleep(2.0)

    t0 = time.perf_counter()
    await asyncio.gather(*([one() for _ in range(clients)] + ([sampler()] if sample else [])))
    wall = time.perf_counter() - t0
    return {"latencies": lat, "errors": errors, "wall_s": wall, "sizes": sizes, "kept": kept}


def verify(bodies: Bodies, kept: list) -> dict:
    """Check kept answers against the library in this process (after the timed phase):
    for each, ``greek_vectors`` of the same book on the same market; the trade ids, the
    number priced, the prices and the book's summed Greek values must agree."""
    import numpy as np

    from aadrisk.market.snapshot import MarketData
    from aadrisk.risk.greeks import greek_vectors

    m = MarketData.from_mapping(MARKET)
    bad = []
    for variant, data in kept:
        doc = orjson.loads(data)
        ref = greek_vectors(book(bodies.n, variant=variant), m)
        tr = doc["trades"]
        if isinstance(tr, dict):                                     # columnar layout
            ids, prices, values = tr["trade"], tr["price"], doc["greeks"]["value"]
        else:
            ids = [t["trade"] for t in tr]
            prices = [t["price"] for t in tr]
            values = [v for t in tr for v in t["greeks"]["value"]]
        ok = (doc["n_priced"] == len(ref.prices) and ids == ref.prices["trade"].tolist()
              and np.allclose(prices, ref.prices["price"], rtol=1e-12, atol=0)
              and len(values) == len(ref.greeks)
              and np.isclose(sum(values), ref.greeks["value"].sum(), rtol=1e-9))
        if not ok:
            bad.append(variant)
    return {"verified": len(kept), "mismatches": len(bad), "mismatch_variants": bad[:10]}


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else None


def body_of(trades, market_id="bench", **extra) -> bytes:
    return orjson.dumps({"portfolio": {"trades": trades}, "market_id": market_id, **extra})


def put_market(url: str) -> None:
    r = httpx.put(url + "/v1/markets/bench", json=MARKET, timeout=60)
    assert r.status_code in (200, 201), r.text


# ----------------------------------------------------------------------------- phases
def host_reference_ms(rounds: int = 7) -> float:
    """Median thread CPU in ms of a fixed pure-Python loop (200,000 multiply-adds):
    the host's speed at this moment (lower is faster), for reading the figures."""
    def loop():
        s = 0
        for i in range(200_000):
            s += i * i
        return s
    times = []
    for _ in range(rounds):
        t0 = time.thread_time()
        loop()
        times.append(time.thread_time() - t0)
    return 1e3 * statistics.median(times)


def phase_latency(db: str, q: bool) -> dict:
    from aadrisk.market.snapshot import MarketData
    from aadrisk.risk.greeks import greek_vectors

    trades = book(1000)
    m = MarketData.from_mapping(MARKET)
    greek_vectors(trades, m)
    lib = []
    for _ in range(5 if q else 9):
        t0 = time.perf_counter()
        rep = greek_vectors(trades, m)
        lib.append(time.perf_counter() - t0)
    out = {"library_greek_vectors_1000_ms": 1e3 * statistics.median(lib),
           "greek_rows_1000": int(len(rep.greeks))}
    n_one, n_each = (5, 3) if q else (15, 30)
    # (name, server settings, request layout): the batched server answers both layouts
    runs = (("batched", {}, ("trades", "columnar")), ("unbatched", {"batch_window_ms": 0},
                                                       ("trades",)))
    for name, env, layouts in runs:
        srv = Server(db, **env)
        try:
            srv.wait_ready()
            srv.wait_warm()       # steady state: the background warm-up done
            put_market(srv.url)
            for layout in layouts:
                # every request of the phase gets its own portfolio (distinct strikes)
                bodies = Bodies(1000, pool=8 * 3 + n_one + 8 * n_each, layout=layout)
                # warm with 8 connections: every server process gets some of them
                run(drive(srv.url, bodies, 8, per_client=3))
                one = run(drive(srv.url, bodies, 1, per_client=n_one,
                                        keep_every=LATENCY_KEEP))
                cpu0 = cpu_seconds(srv.proc.pid)
                res = run(drive(srv.url, bodies, 8, per_client=n_each,
                                        keep_every=LATENCY_KEEP))
                cpu = (cpu_seconds(srv.proc.pid) - cpu0) / max(len(res["latencies"]), 1)
                key = name if layout == "trades" else f"{name}_{layout}"
                out[key] = {"layout": layout, **verify(bodies, one["kept"] + res["kept"]),
                            "single_client_p50_ms": 1e3 * pct(one["latencies"], 50),
                            "p50_ms": 1e3 * pct(res["latencies"], 50),
                            "p99_ms": 1e3 * pct(res["latencies"], 99),
                            "server_cpu_ms_per_request": 1e3 * cpu,
                            "requests": len(res["latencies"]), "errors": len(res["errors"]),
                            "response_bytes": statistics.median(res["sizes"] or [0]),
                            "error_kinds": sorted(set(res["errors"]))}
        finally:
            srv.stop()
    return out


def compute_gain(q: bool) -> dict:
    """In-process, no HTTP: 32 ten-trade books through the service's compute path,
    each alone vs merged into one evaluation (median of repeats, round-robin)."""
    from service.compute import Job, evaluate
    from service.markets import parse_market

    m = parse_market(MARKET)
    jobs = [Job(book(10, seed=i), {}) for i in range(32)]
    alone, merged = [], []
    evaluate(m, jobs[:1])
    for _ in range(3 if q else 5):
        t0 = time.perf_counter()
        for j in jobs:
            evaluate(m, [j])
        t1 = time.perf_counter()
        evaluate(m, jobs)
        t2 = time.perf_counter()
        alone.append(t1 - t0)
        merged.append(t2 - t1)
    a, b = statistics.median(alone), statistics.median(merged)
    return {"alone_ms": 1e3 * a, "merged_ms": 1e3 * b, "ratio": a / b}


def phase_throughput(db: str, q: bool) -> dict:
    """10-trade requests at 32 clients on two servers started side by side, one batched
    (the default window) and one not (``AADRISK_BATCH_WINDOW_MS=0``), measured in
    alternating segments (batched, unbatched, then unbatched, batched, ...): the host's
    speed drifts by up to 2x within minutes, and two long phases one after the other
    would compare the two modes at different host speeds. Throughput of a mode is its
    requests over its summed segment time; the ratio of each round is reported too."""
    seg = 2.5 if q else 5.0
    rounds = 2 if q else 3
    out = {"compute": compute_gain(q), "segment_s": seg, "rounds": rounds}
    modes = (("batched", 5), ("unbatched", 0))
    servers = {name: Server(db, batch_window_ms=window) for name, window in modes}
    try:
        for srv in servers.values():
            srv.wait_ready()
            srv.wait_warm()       # steady state: the background warm-up done
        for srv in servers.values():
            put_market(srv.url)
        tally = {name: {"n": 0, "wall": 0.0, "cpu": 0.0, "lat": [], "errors": [], "kept": [],
                        "rps": []} for name in servers}
        bodies = {name: Bodies(10, pool=int(SMALL_POOL_PER_S * (2.0 + seg * rounds)))
                  for name in servers}
        for name, srv in servers.items():                                     # warm
            run(drive(srv.url, bodies[name], 32, seconds=2.0))
        for r in range(rounds):
            order = list(servers) if r % 2 == 0 else list(servers)[::-1]
            for name in order:
                srv, t = servers[name], tally[name]
                cpu0 = cpu_seconds(srv.proc.pid)
                res = run(drive(srv.url, bodies[name], 32, seconds=seg, keep_every=SMALL_KEEP))
                t["cpu"] += cpu_seconds(srv.proc.pid) - cpu0
                t["n"] += len(res["latencies"])
                t["wall"] += res["wall_s"]
                t["rps"].append(len(res["latencies"]) / res["wall_s"])
                t["lat"] += res["latencies"]
                t["errors"] += res["errors"]
                t["kept"] += res["kept"]
    finally:
        for srv in servers.values():
            srv.stop()
    for name, t in tally.items():
        out[name] = {"rps": t["n"] / t["wall"], "rps_by_segment": [round(x) for x in t["rps"]],
                     **verify(bodies[name], t["kept"]), "bodies_built_late": bodies[name].late,
                     "server_cpu_ms_per_request": 1e3 * t["cpu"] / max(t["n"], 1),
                     "p50_ms": 1e3 * pct(t["lat"], 50), "p99_ms": 1e3 * pct(t["lat"], 99),
                     "errors": len(t["errors"])}
    out["ratio"] = out["batched"]["rps"] / out["unbatched"]["rps"]
    out["ratio_by_round"] = [b / u for b, u in zip(tally["batched"]["rps"],
                                                    tally["unbatched"]["rps"])]
    return out


def phase_soak_restart(db: str, q: bool) -> dict:
    seconds = 10.0 if q else 60.0
    srv = Server(db)
    rss = []
    try:
        srv.wait_ready()
        put_market(srv.url)
        bodies = Bodies(10, pool=int(SMALL_POOL_PER_S * (3.0 + seconds)))
        run(drive(srv.url, bodies, 32, seconds=3.0))                   # warm
        res = run(drive(srv.url, bodies, 32, seconds=seconds, keep_every=SMALL_KEEP,
                                sample=lambda: rss.append(rss_mib(srv.proc.pid))))
        rss.append(rss_mib(srv.proc.pid))
    finally:
        srv.stop()
    soak = {"seconds": seconds, "clients": 32, "requests": len(res["latencies"]),
            "errors": len(res["errors"]), "rps": len(res["latencies"]) / res["wall_s"],
            "p50_ms": 1e3 * pct(res["latencies"], 50), "p99_ms": 1e3 * pct(res["latencies"], 99),
            "rss_start_mib": rss[0], "rss_end_mib": rss[-1], "rss_max_mib": max(rss),
            "rss_samples_mib": [round(x, 1) for x in rss], **verify(bodies, res["kept"]),
            "bodies_built_late": bodies.late,
            "error_kinds": sorted(set(res["errors"]))}
    # restart on the same database: stored market kept, kernels from the disk cache. The
    # client and the body are made before the spawn: an httpx.Client takes ~30-50 ms of
    # this process's CPU to build (its TLS context), which is not the server's time.
    body = body_of(book(10, variant=-1))
    client = httpx.Client(timeout=60)
    srv = Server(db)
    try:
        ready_s = srv.wait_ready()
        ready_cpu = cpu_seconds(srv.proc.pid)
        t0 = time.perf_counter()
        r = client.post(srv.url + "/v1/risk", content=body,
                        headers={"content-type": "application/json"})
        first = time.perf_counter() - t0
        assert r.status_code == 200, r.text
    finally:
        client.close()
        srv.stop()
    restart = {"spawn_to_ready_s": ready_s, "server_cpu_until_ready_s": ready_cpu,
               "first_request_s": first,
               "spawn_to_first_answer_s": ready_s + first}
    return {"soak": soak, "restart": restart}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short run (smaller counts, 10-s soak)")
    ap.add_argument("--workers", type=int, default=1,
                    help="uvicorn worker processes per server (default 1)")
    args = ap.parse_args()
    Server.workers = args.workers
    q = args.quick
    tmp = tempfile.mkdtemp(prefix="aadrisk-bench-")
    db = os.path.join(tmp, "markets.sqlite3")
    print(f"aadrisk service load benchmark ({'quick' if q else 'full'}), "
          f"cores={os.cpu_count()}, server workers={args.workers}, loopback only (the load "
          f"clients share the machine's cores); db {db}")
    host = [host_reference_ms()]
    lat = phase_latency(db, q)
    host.append(host_reference_ms())
    print(f"[1] 1,000-trade book ({lat['greek_rows_1000']} Greek rows): library greek_vectors "
          f"{lat['library_greek_vectors_1000_ms']:.0f} ms (median, in-process)")
    for k in ("batched", "batched_columnar", "unbatched"):
        x = lat[k]
        print(f"    {k:16s} (layout {x['layout']}, {x['response_bytes'] / 1e6:.2f} MB): 1 client "
              f"p50 {x['single_client_p50_ms']:.0f} ms; 8 clients p50 {x['p50_ms']:.0f} ms, "
              f"p99 {x['p99_ms']:.0f} ms; server CPU {x['server_cpu_ms_per_request']:.0f} ms "
              f"per request ({x['requests']} requests, {x['errors']} errors; "
              f"{x['verified']} answers checked, {x['mismatches']} mismatches)")
    thr = phase_throughput(db, q)
    host.append(host_reference_ms())
    print(f"[2] 10-trade requests, 32 clients: batched {thr['batched']['rps']:.0f} req/s "
          f"(p50 {thr['batched']['p50_ms']:.0f} ms), unbatched {thr['unbatched']['rps']:.0f} "
          f"req/s (p50 {thr['unbatched']['p50_ms']:.0f} ms); ratio {thr['ratio']:.2f}x "
          f"(server CPU per request {thr['batched']['server_cpu_ms_per_request']:.1f} / "
          f"{thr['unbatched']['server_cpu_ms_per_request']:.1f} ms; "
          f"errors {thr['batched']['errors']} / {thr['unbatched']['errors']}; answers checked "
          f"{thr['batched']['verified']} / {thr['unbatched']['verified']}, mismatches "
          f"{thr['batched']['mismatches']} / {thr['unbatched']['mismatches']})")
    print(f"    by round ({thr['rounds']} x {thr['segment_s']:g} s per mode, alternating): "
          f"batched {thr['batched']['rps_by_segment']}, unbatched "
          f"{thr['unbatched']['rps_by_segment']} req/s; ratios "
          f"{', '.join(f'{x:.2f}' for x in thr['ratio_by_round'])}")
    cg = thr["compute"]
    print(f"    in-process compute path, 32 x 10-trade books: alone {cg['alone_ms']:.0f} ms, "
          f"merged {cg['merged_ms']:.0f} ms ({cg['ratio']:.1f}x; no HTTP)")
    sr = phase_soak_restart(db, q)
    host.append(host_reference_ms())
    print(f"host reference loop (lower is a faster host; before phase 1, after phases 1, 2 "
          f"and 4): {', '.join(f'{h:.1f}' for h in host)} ms")
    s, r = sr["soak"], sr["restart"]
    print(f"[3] soak {s['seconds']:.0f} s at 32 clients: {s['requests']} requests, "
          f"{s['errors']} errors, {s['rps']:.0f} req/s; server RSS {s['rss_start_mib']:.0f} -> "
          f"{s['rss_end_mib']:.0f} MiB (max {s['rss_max_mib']:.0f}; samples "
          f"{s['rss_samples_mib']}); {s['verified']} answers checked, {s['mismatches']} "
          f"mismatches")
    if s["errors"]:
        print(f"    soak errors: {s['error_kinds']}")
    print(f"[4] restart: ready {r['spawn_to_ready_s']:.2f} s after spawn (server CPU "
          f"{r['server_cpu_until_ready_s']:.2f} s); first risk request "
          f"{r['first_request_s'] * 1e3:.0f} ms (spawn to first answer "
          f"{r['spawn_to_first_answer_s']:.2f} s)")
    print_json_last({
        "workload": "service", "quick": q, "server_workers": args.workers,
        "host_reference_ms": host,
        "p50_ms_1000_trades_8_clients": lat["batched"]["p50_ms"],
        "p99_ms_1000_trades_8_clients": lat["batched"]["p99_ms"],
        "p50_ms_1000_trades_8_clients_unbatched": lat["unbatched"]["p50_ms"],
        "p99_ms_1000_trades_8_clients_unbatched": lat["unbatched"]["p99_ms"],
        "p50_ms_1000_trades_1_client": lat["batched"]["single_client_p50_ms"],
        "server_cpu_ms_per_1000_trade_request": lat["batched"]["server_cpu_ms_per_request"],
        "server_cpu_ms_per_1000_trade_request_columnar":
            lat["batched_columnar"]["server_cpu_ms_per_request"],
        "server_cpu_ms_per_10_trade_request_batched":
            thr["batched"]["server_cpu_ms_per_request"],
        "server_cpu_ms_per_10_trade_request_unbatched":
            thr["unbatched"]["server_cpu_ms_per_request"],
        "p50_ms_1000_trades_8_clients_columnar": lat["batched_columnar"]["p50_ms"],
        "p99_ms_1000_trades_8_clients_columnar": lat["batched_columnar"]["p99_ms"],
        "p50_ms_1000_trades_1_client_columnar": lat["batched_columnar"]["single_client_p50_ms"],
        "response_bytes_1000_trades": lat["batched"]["response_bytes"],
        "response_bytes_1000_trades_columnar": lat["batched_columnar"]["response_bytes"],
        "library_greek_vectors_1000_ms": lat["library_greek_vectors_1000_ms"],
        "rps_10_trades_32_clients_batched": thr["batched"]["rps"],
        "rps_10_trades_32_clients_unbatched": thr["unbatched"]["rps"],
        "throughput_ratio_batched_unbatched": thr["ratio"],
        "throughput_ratio_by_round": thr["ratio_by_round"],
        "compute_ratio_32x10_alone_vs_merged_in_process": thr["compute"]["ratio"],
        "load_average_1min_at_end": os.getloadavg()[0],
        "soak_seconds": s["seconds"], "soak_requests": s["requests"],
        "soak_errors": s["errors"],
        "answers_checked": sum(x["verified"] for x in (lat["batched"], lat["batched_columnar"],
                                                        lat["unbatched"], thr["batched"],
                                                        thr["unbatched"], s)),
        "answer_mismatches": sum(x["mismatches"] for x in (lat["batched"],
                                                           lat["batched_columnar"],
                                                           lat["unbatched"], thr["batched"],
                                                           thr["unbatched"], s)),
        "bodies_built_late": thr["batched"]["bodies_built_late"] +
        thr["unbatched"]["bodies_built_late"] + s["bodies_built_late"],
        "rss_start_mib": s["rss_start_mib"],
        "rss_end_mib": s["rss_end_mib"], "rss_max_mib": s["rss_max_mib"],
        "restart_spawn_to_ready_s": r["spawn_to_ready_s"],
        "restart_server_cpu_until_ready_s": r["server_cpu_until_ready_s"],
        "first_request_after_restart_s": r["first_request_s"],
        "restart_spawn_to_first_answer_s": r["spawn_to_first_answer_s"],
        "env": environment()})


if __name__ == "__main__":
    main()
