"""Server CPU per 1,000-trade request, split by piece, under the load benchmark's clients.

Starts the service (``uvicorn service.app:app``, one process, loopback) from this
script with the fast path's parse and the compute pieces wrapped to add up their
thread CPU time (:data:`PIECES`, plus the garbage collector's), drives it with 8
keep-alive clients (``service_load.Connection`` / ``drive``, the benchmark's
1,000-trade bodies) and prints per round, per request: each piece's CPU, the
server process's total (``os.times``), the rest (HTTP, middlewares, lane, batcher,
thread handoffs, event loop), the clients' own CPU and the latency p50 / p99; then
the medians over the rounds.

Usage: ``python benchmarks/service_cpu_split.py [--rounds 4] [--per-client 8]
[--layout trades] [--trades 1000] [--clients 8]``; the last line is one JSON object (the medians).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

#: (module, function) whose thread CPU time is added up in the server
PIECES = (("service.lane", "parse_risk_body"), ("service.compute", "tag_trades"),
          ("service.compute", "greek_arrays"), ("service.compute", "answers"))


def serve(port: int) -> None:
    """Run the service with :data:`PIECES` timed; SIGUSR1 prints the sums to stderr."""
    import gc
    import importlib

    import uvicorn

    acc: dict[str, float] = {}
    lock = threading.Lock()

    def timed(name, f):
        def g(*a, **k):
            t0 = time.thread_time()
            try:
                return f(*a, **k)
            finally:
                with lock:
                    acc[name] = acc.get(name, 0.0) + time.thread_time() - t0
        return g

    for mod, name in PIECES:
        m = importlib.import_module(mod)
        setattr(m, name, timed(name, getattr(m, name)))
    started: list[float] = []

    def collector(phase, info):
        if phase == "start":
            started.append(time.thread_time())
        elif started:
            with lock:
                acc["gc"] = acc.get("gc", 0.0) + time.thread_time() - started.pop()
    gc.callbacks.append(collector)

    def dump(*_):
        t = os.times()
        print("SPLIT " + json.dumps({**acc, "server_total": t.user + t.system}),
              file=sys.stderr, flush=True)
    signal.signal(signal.SIGUSR1, dump)
    uvicorn.run("service.app:app", host="127.0.0.1", port=port, log_level="warning",
                access_log=False, timeout_keep_alive=75)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--per-client", type=int, default=8)
    ap.add_argument("--layout", default="trades", choices=("trades", "columnar"))
    ap.add_argument("--trades", type=int, default=1000, help="trades per request")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--serve", type=int, help=argparse.SUPPRESS)   # the server process
    args = ap.parse_args()
    if args.serve:
        serve(args.serve)
        return
    import service_load as sl

    port = sl.free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent),
           "AADRISK_DB_PATH": tempfile.mktemp(suffix=".sqlite3")}
    log = tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], env=env,
                            cwd=str(ROOT.parent), stderr=log)
    srv = sl.Server.__new__(sl.Server)
    srv.proc, srv.url, srv.spawned = proc, url, time.perf_counter()
    try:
        srv.wait_ready()
        sl.put_market(url)
        bodies = sl.Bodies(args.trades, pool=3 + args.rounds * args.clients * args.per_client,
                           layout=args.layout)
        sl.run(sl.drive(url, bodies, 1, per_client=3))              # warm

        def split() -> dict:
            proc.send_signal(signal.SIGUSR1)
            time.sleep(0.3)
            log.seek(0)
            return json.loads([x for x in log.read().splitlines()
                               if x.startswith("SPLIT ")][-1][6:])
        rows = []
        for _ in range(args.rounds):
            a, c0 = split(), time.process_time()
            res = sl.run(sl.drive(url, bodies, args.clients, per_client=args.per_client))
            client, b = time.process_time() - c0, split()
            n = len(res["latencies"])
            row = {k: 1e3 * (b.get(k, 0.0) - a.get(k, 0.0)) / n
                   for k in [name for _, name in PIECES] + ["gc", "server_total"]}
            row["rest"] = row["server_total"] - sum(row[name] for _, name in PIECES)
            row |= {"client": 1e3 * client / n, "p50": 1e3 * sl.pct(res["latencies"], 50),
                    "p99": 1e3 * sl.pct(res["latencies"], 99), "errors": len(res["errors"]),
                    "load_average": os.getloadavg()[0]}
            rows.append(row)
            print(" ".join(f"{k} {v:.2f}" for k, v in row.items()), flush=True)
    finally:
        srv.stop()
    print(json.dumps({k: statistics.median(r[k] for r in rows) for k in rows[0]}))


if __name__ == "__main__":
    main()
