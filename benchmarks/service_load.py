"""HTTP service load benchmark (issue 6): latency, batching gain, soak, restart.

Starts ``uvicorn service.app:app`` in subprocesses on 127.0.0.1 (random free
ports, a temporary SQLite file, loopback only) and drives them with async httpx
clients. Every phase is bounded in request count and time.

Phases
------
1. latency: 1,000-trade European books with full Greeks, 8 concurrent clients
   (p50/p99 client-side), in the default per-trade layout and in the
   ``columnar`` layout (batched server), and unbatched; plus the library's own
   ``greek_vectors`` time for the same book measured in this process;

Every request sends a portfolio of its own (strikes and quantities perturbed per
request, :class:`Bodies`): the server computes every answer. The load clients
run on the same machine as the server and share its cores.
2. batching: 10-trade requests at 32 concurrent clients, throughput with the
   batch window on vs off (``AADRISK_BATCH_WINDOW_MS=0``), servers started in
   the same run;
3. soak: 32 clients for 60 s (``--quick``: 10 s), errors counted, server RSS
   sampled (start/end/max);
4. restart: the soak server is stopped, a new one started on the same database
   (kernels from Numba's on-disk cache); seconds from spawn to ready and to the
   first answered risk request, and the latency of that first request.

Usage: ``python benchmarks/service_load.py [--quick]``; the last line is one
JSON object (``workload: "service"``).
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
    """Request bodies, each one a distinct portfolio: ``next()`` returns the body of the
    next variant of ``book(n)``; ``pool`` bodies are encoded up front (1,000-trade books)
    or each is built when it is sent (small books, ``pool=0``)."""

    def __init__(self, n: int, pool: int = 0, **extra):
        self.n, self.extra, self.i = n, extra, 0
        self.pool = [self.make(v) for v in range(pool)]

    def make(self, variant: int) -> bytes:
        return body_of(book(self.n, variant=variant), **self.extra)

    def next(self) -> bytes:
        self.i += 1
        if self.pool:
            if self.i > len(self.pool):
                raise RuntimeError("body pool exhausted (every request gets its own book)")
            return self.pool[self.i - 1]
        return self.make(self.i)


# ----------------------------------------------------------------------------- server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float | None:
    """Current resident set size of ``pid`` (Linux /proc), MiB."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


class Server:
    """``uvicorn service.app:app`` in a subprocess on a free loopback port."""

    #: uvicorn worker processes of every server (``--workers``)
    workers = 1

    def __init__(self, db_path: str, **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        e = {**os.environ, "PYTHONPATH": str(ROOT), "AADRISK_DB_PATH": db_path,
             **{f"AADRISK_{k.upper()}": str(v) for k, v in env.items()}}
        self.spawned = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning", "--no-access-log",
             "--timeout-keep-alive", "75", "--workers", str(self.workers)],
            env=e, cwd=str(ROOT))

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

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# ----------------------------------------------------------------------------- clients
async def drive(url: str, bodies: Bodies, clients: int, *, per_client: int | None = None,
                seconds: float | None = None, sample=None) -> dict:
    """``clients`` concurrent loops posting ``bodies.next()`` to /v1/risk until
    ``per_client`` requests each or ``seconds`` elapsed; latencies (s), errors, wall time,
    response sizes."""
    lat, errors, sizes = [], [], []
    stop_at = None if seconds is None else time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"content-type": "application/json"}
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as c:
        async def one():
            n = 0
            while (per_client is None or n < per_client) and \
                    (stop_at is None or time.perf_counter() < stop_at):
                body = bodies.next()
                t0 = time.perf_counter()
                try:
                    r = await c.post("/v1/risk", content=body, headers=headers)
                    if r.status_code != 200:
                        errors.append(f"HTTP {r.status_code}: {r.text[:200]}")
                    else:
                        lat.append(time.perf_counter() - t0)
                        sizes.append(len(r.content))
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                n += 1

        async def sampler():
            while stop_at is not None and time.perf_counter() < stop_at:
                sample()
                await asyncio.sleep(2.0)

        t0 = time.perf_counter()
        tasks = [one() for _ in range(clients)] + ([sampler()] if sample else [])
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - t0
    return {"latencies": lat, "errors": errors, "wall_s": wall, "sizes": sizes}


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else None


def body_of(trades, market_id="bench", **extra) -> bytes:
    return orjson.dumps({"portfolio": {"trades": trades}, "market_id": market_id, **extra})


def put_market(url: str) -> None:
    r = httpx.put(url + "/v1/markets/bench", json=MARKET, timeout=60)
    assert r.status_code in (200, 201), r.text


# ----------------------------------------------------------------------------- phases
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
    n_one, n_each = (5, 3) if q else (15, 12)
    # (name, server settings, request layout): the batched server answers both layouts
    runs = (("batched", {}, ("trades", "columnar")), ("unbatched", {"batch_window_ms": 0},
                                                       ("trades",)))
    for name, env, layouts in runs:
        srv = Server(db, **env)
        try:
            srv.wait_ready()
            put_market(srv.url)
            for layout in layouts:
                # every request of the phase gets its own portfolio (distinct strikes)
                bodies = Bodies(1000, pool=3 + n_one + 8 * n_each, layout=layout)
                asyncio.run(drive(srv.url, bodies, 1, per_client=3))           # warm
                one = asyncio.run(drive(srv.url, bodies, 1, per_client=n_one))
                res = asyncio.run(drive(srv.url, bodies, 8, per_client=n_each))
                key = name if layout == "trades" else f"{name}_{layout}"
                out[key] = {"layout": layout,
                            "single_client_p50_ms": 1e3 * pct(one["latencies"], 50),
                            "p50_ms": 1e3 * pct(res["latencies"], 50),
                            "p99_ms": 1e3 * pct(res["latencies"], 99),
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
    seconds = 5.0 if q else 15.0
    out = {"compute": compute_gain(q)}
    for name, window in (("batched", 5), ("unbatched", 0)):
        srv = Server(db, batch_window_ms=window)
        try:
            srv.wait_ready()
            put_market(srv.url)
            asyncio.run(drive(srv.url, Bodies(10), 32, seconds=2.0))           # warm
            res = asyncio.run(drive(srv.url, Bodies(10), 32, seconds=seconds))
        finally:
            srv.stop()
        out[name] = {"rps": len(res["latencies"]) / res["wall_s"],
                     "p50_ms": 1e3 * pct(res["latencies"], 50),
                     "p99_ms": 1e3 * pct(res["latencies"], 99),
                     "errors": len(res["errors"])}
    out["ratio"] = out["batched"]["rps"] / out["unbatched"]["rps"]
    return out


def phase_soak_restart(db: str, q: bool) -> dict:
    seconds = 10.0 if q else 60.0
    srv = Server(db)
    rss = []
    try:
        srv.wait_ready()
        put_market(srv.url)
        asyncio.run(drive(srv.url, Bodies(10), 32, seconds=3.0))               # warm
        res = asyncio.run(drive(srv.url, Bodies(10), 32, seconds=seconds,
                                sample=lambda: rss.append(rss_mib(srv.proc.pid))))
        rss.append(rss_mib(srv.proc.pid))
    finally:
        srv.stop()
    soak = {"seconds": seconds, "clients": 32, "requests": len(res["latencies"]),
            "errors": len(res["errors"]), "rps": len(res["latencies"]) / res["wall_s"],
            "p50_ms": 1e3 * pct(res["latencies"], 50), "p99_ms": 1e3 * pct(res["latencies"], 99),
            "rss_start_mib": rss[0], "rss_end_mib": rss[-1], "rss_max_mib": max(rss),
            "rss_samples_mib": [round(x, 1) for x in rss],
            "error_kinds": sorted(set(res["errors"]))}
    # restart on the same database: stored market kept, kernels from the disk cache
    srv = Server(db)
    try:
        ready_s = srv.wait_ready()
        t0 = time.perf_counter()
        r = httpx.post(srv.url + "/v1/risk", content=body_of(book(10, variant=-1)),
                       headers={"content-type": "application/json"}, timeout=60)
        first = time.perf_counter() - t0
        assert r.status_code == 200, r.text
    finally:
        srv.stop()
    restart = {"spawn_to_ready_s": ready_s, "first_request_s": first,
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
    lat = phase_latency(db, q)
    print(f"[1] 1,000-trade book ({lat['greek_rows_1000']} Greek rows): library greek_vectors "
          f"{lat['library_greek_vectors_1000_ms']:.0f} ms (median, in-process)")
    for k in ("batched", "batched_columnar", "unbatched"):
        x = lat[k]
        print(f"    {k:16s} (layout {x['layout']}, {x['response_bytes'] / 1e6:.2f} MB): 1 client "
              f"p50 {x['single_client_p50_ms']:.0f} ms; 8 clients p50 {x['p50_ms']:.0f} ms, "
              f"p99 {x['p99_ms']:.0f} ms ({x['requests']} requests, {x['errors']} errors)")
    thr = phase_throughput(db, q)
    print(f"[2] 10-trade requests, 32 clients: batched {thr['batched']['rps']:.0f} req/s "
          f"(p50 {thr['batched']['p50_ms']:.0f} ms), unbatched {thr['unbatched']['rps']:.0f} "
          f"req/s (p50 {thr['unbatched']['p50_ms']:.0f} ms); ratio {thr['ratio']:.2f}x")
    cg = thr["compute"]
    print(f"    in-process compute path, 32 x 10-trade books: alone {cg['alone_ms']:.0f} ms, "
          f"merged {cg['merged_ms']:.0f} ms ({cg['ratio']:.1f}x; no HTTP)")
    sr = phase_soak_restart(db, q)
    s, r = sr["soak"], sr["restart"]
    print(f"[3] soak {s['seconds']:.0f} s at 32 clients: {s['requests']} requests, "
          f"{s['errors']} errors, {s['rps']:.0f} req/s; server RSS {s['rss_start_mib']:.0f} -> "
          f"{s['rss_end_mib']:.0f} MiB (max {s['rss_max_mib']:.0f}; samples "
          f"{s['rss_samples_mib']})")
    if s["errors"]:
        print(f"    soak errors: {s['error_kinds']}")
    print(f"[4] restart: ready {r['spawn_to_ready_s']:.2f} s after spawn; first risk request "
          f"{r['first_request_s'] * 1e3:.0f} ms (spawn to first answer "
          f"{r['spawn_to_first_answer_s']:.2f} s)")
    print_json_last({
        "workload": "service", "quick": q, "server_workers": args.workers,
        "p50_ms_1000_trades_8_clients": lat["batched"]["p50_ms"],
        "p99_ms_1000_trades_8_clients": lat["batched"]["p99_ms"],
        "p50_ms_1000_trades_8_clients_unbatched": lat["unbatched"]["p50_ms"],
        "p99_ms_1000_trades_8_clients_unbatched": lat["unbatched"]["p99_ms"],
        "p50_ms_1000_trades_1_client": lat["batched"]["single_client_p50_ms"],
        "p50_ms_1000_trades_8_clients_columnar": lat["batched_columnar"]["p50_ms"],
        "p99_ms_1000_trades_8_clients_columnar": lat["batched_columnar"]["p99_ms"],
        "p50_ms_1000_trades_1_client_columnar": lat["batched_columnar"]["single_client_p50_ms"],
        "response_bytes_1000_trades": lat["batched"]["response_bytes"],
        "response_bytes_1000_trades_columnar": lat["batched_columnar"]["response_bytes"],
        "library_greek_vectors_1000_ms": lat["library_greek_vectors_1000_ms"],
        "rps_10_trades_32_clients_batched": thr["batched"]["rps"],
        "rps_10_trades_32_clients_unbatched": thr["unbatched"]["rps"],
        "throughput_ratio_batched_unbatched": thr["ratio"],
        "compute_ratio_32x10_alone_vs_merged_in_process": thr["compute"]["ratio"],
        "soak_seconds": s["seconds"], "soak_requests": s["requests"],
        "soak_errors": s["errors"], "rss_start_mib": s["rss_start_mib"],
        "rss_end_mib": s["rss_end_mib"], "rss_max_mib": s["rss_max_mib"],
        "restart_spawn_to_ready_s": r["spawn_to_ready_s"],
        "first_request_after_restart_s": r["first_request_s"],
        "restart_spawn_to_first_answer_s": r["spawn_to_first_answer_s"],
        "env": environment()})


if __name__ == "__main__":
    main()
