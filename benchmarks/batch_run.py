"""Nightly batch run: 100,000 analytic trades end to end, the mixed book, Dask 1 vs 2 workers.

Measures (all wall clock, the machine's load average printed alongside):

1. **End to end**: ``aadrisk risk BOOK.json -m market_full.json --out DIR --fresh --quiet``
   as a fresh subprocess on a generated book of ``--trades`` (100,000) European
   options on the SPX surface / USD curve / AAPL, SX5E flat-vol market of
   ``portfolios/market_full.json`` with full second-order Greek vectors (delta,
   gamma, div, par deltas of every quote, bucketed vegas, cross-gammas) and
   zero-rate sensitivities: process start (imports), reading the JSON,
   pricing on every core (default ``--workers``), writing Parquet, exit.
   The manifest's timings split it (read / compute / merge / write; sum of the
   chunks' ``greek_vectors`` seconds).  One warm-up run on a small book first,
   so that the Numba cache is loaded, not compiled, in the timed run.
2. **Mixed book**: the same command on ``portfolios/mixed_1000.json`` (every
   product of the library registered in this tree).
3. **Dask**: a ``LocalCluster`` of 1 worker and one of 2 workers (one thread and
   ``NUMBA_NUM_THREADS=1`` each: one core per worker), the same ``--dask-trades``
   book in chunks of ``--dask-chunk``, results written; each cluster warmed by
   one run, then ``--repeats`` timed runs alternating between the clusters;
   throughput = trades / median seconds; ratio = 2-worker / 1-worker.  Both
   clusters get the same Dask settings: ``--dask-config batch`` (default) the
   ones docs/batch.md recommends for batch clusters
   (:data:`aadrisk.batch.executors.BATCH_DASK_CONFIG`), ``default`` Dask's own.

Run: ``python benchmarks/batch_run.py`` (``--help``).  Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MARKET = ROOT / "portfolios" / "market_full.json"
MIXED = ROOT / "portfolios" / "mixed_1000.json"
CLI = [sys.executable, "-c", "from aadrisk.cli import app; app()", "risk"]


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _load():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def cli_run(book, out, *extra):
    """Wall seconds of one CLI run in a fresh process, and its manifest."""
    cmd = CLI + [str(book), "-m", str(MARKET), "--out", str(out), "--fresh", "--quiet",
                 *map(str, extra)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=_env(), cwd=ROOT, capture_output=True, text=True)
    sec = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"run failed ({p.returncode}): {p.stderr[-2000:]}")
    return sec, json.loads((Path(out) / "manifest.json").read_text())


def dask_ratio(book_path, trades, chunk, repeats, tmp, config="batch"):
    import logging

    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    import dask
    import psutil
    from distributed import LocalCluster

    logging.getLogger("distributed").setLevel(logging.ERROR)

    from aadrisk.batch.portfolio import load_market_file, load_portfolio
    from aadrisk.batch.run import RunOptions, run_batch

    from aadrisk.market.snapshot import MarketData

    def read():
        """What `aadrisk risk` does before the run: read both files, parse the market once."""
        pf = load_portfolio(book_path)
        raw, _ = load_market_file(MARKET)
        MarketData.from_mapping(raw)
        return pf, raw

    clusters = {}
    times = {1: [], 2: []}
    with_read = {1: [], 2: []}
    compute = {1: [], 2: []}
    busy = {1: [], 2: []}
    cpu = {1: [], 2: []}
    if config == "batch":
        from aadrisk.batch.executors import BATCH_DASK_CONFIG
    else:
        BATCH_DASK_CONFIG = {}
    me = psutil.Process()

    def cpu_seconds(procs):
        return sum(sum(p.cpu_times()[:2]) for p in procs)

    try:
        with dask.config.set(BATCH_DASK_CONFIG):
            for n in (1, 2):
                clusters[n] = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=40,
                                           env={"NUMBA_NUM_THREADS": "1"})

        workers = {n: [psutil.Process(w.process.pid) for w in c.workers.values()]
                   for n, c in clusters.items()}

        def one(n, tag):
            out = Path(tmp) / f"dask{n}-{tag}"
            t_read = time.perf_counter()
            pf, raw = read()
            c0, w0 = cpu_seconds([me]), cpu_seconds(workers[n])
            t0 = time.perf_counter()
            r = run_batch(pf, raw, RunOptions(out=out, chunk_size=chunk, resume=False,
                                              scheduler=clusters[n].scheduler_address))
            t1 = time.perf_counter()
            used = (cpu_seconds([me]) - c0, cpu_seconds(workers[n]) - w0)
            sec, read_s = t1 - t0, t0 - t_read
            shutil.rmtree(out, ignore_errors=True)
            tm = r.manifest["timings"]
            busy = sum(ch["seconds"]["chunk"] for ch in tm["chunks"])
            return sec, tm["compute_s"], busy, read_s, used

        for n in (1, 2):
            print(f"  warm-up dask {n} worker(s): {one(n, 'warm')[0]:.2f} s", flush=True)
        for r in range(repeats):
            for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                s, cs, b, rd, (cc, wc) = one(n, r)
                cpu[n].append((cc, wc))
                times[n].append(s)
                with_read[n].append(s + rd)
                compute[n].append(cs)
                busy[n].append(b)
                print(f"  repeat {r}: {n} worker(s) {s:.2f} s ({trades / s:,.0f} trades/s; "
                      f"+ reading the inputs {rd:.2f} s; "
                      f"chunk phase {cs:.2f} s; sum of chunk times in the workers {b:.2f} s, "
                      f"concurrency {b / cs:.2f}; CPU seconds: this process (client, "
                      f"schedulers, nannies) {cc:.2f}, the {n} worker process(es) {wc:.2f}; "
                      f"load {_load()})", flush=True)
    finally:
        for c in clusters.values():
            c.close()
    med = {n: statistics.median(v) for n, v in times.items()}
    cmed = {n: statistics.median(v) for n, v in compute.items()}
    cmed["busy"] = {n: statistics.median(v) for n, v in busy.items()}
    cmed["with_read"] = {n: statistics.median(v) for n, v in with_read.items()}
    cmed["cpu"] = {n: [statistics.median(x[i] for x in v) for i in (0, 1)]
                   for n, v in cpu.items()}
    return med, times, cmed


def end_to_end(a, tmp, big, small):
    """The 100k run and the mixed-book run (fresh CLI processes)."""
    w, _ = cli_run(small, Path(tmp) / "warm", "--chunk-size", 250)
    print(f"warm-up (mixed book, kernels from the cache): {w:.2f} s", flush=True)

    load0 = _load()
    sec, man = cli_run(big, Path(tmp) / "big", "--chunk-size", a.chunk_size)
    t, c = man["timings"], man["counts"]
    gv = sum(ch["seconds"]["greek_vectors"] for ch in t["chunks"])
    size = sum(f.stat().st_size for f in (Path(tmp) / "big").glob("*.parquet"))
    print(f"\n{a.trades:,} trades end to end: {sec:.2f} s wall ({a.trades / sec:,.0f} trades/s), "
          f"load before {load0}", flush=True)
    print(f"  executor {man['options']['executor']} x{man['options']['executor_workers']}; "
          f"read {t['read_s']:.2f} s, compute {t['compute_s']:.2f} s (sum of greek_vectors "
          f"over chunks {gv:.2f} s), merge {t['merge_s']:.2f} s, write {t['write_s']:.2f} "
          f"s; the rest is process start and imports", flush=True)
    print(f"  {c['priced']:,} trades priced, {c['greek_rows']:,} Greek rows, "
          f"{c['zero_greek_rows']:,} zero-rate rows, {size / 2**20:.1f} MiB Parquet",
          flush=True)

    msec, mman = cli_run(MIXED, Path(tmp) / "mixed")
    print(f"\nmixed_1000 end to end: {msec:.2f} s wall "
          f"(products {mman['counts']['by_product']}; executor "
          f"{mman['options']['executor']} x{mman['options']['executor_workers']})",
          flush=True)

    return {"trades": a.trades,
            "seconds_end_to_end": round(sec, 3), "trades_per_s": round(a.trades / sec, 1),
            "greeks_rows": c["greek_rows"], "zero_greek_rows": c["zero_greek_rows"],
            "read_s": t["read_s"], "compute_s": t["compute_s"],
            "greek_vectors_s_sum": round(gv, 3), "merge_s": t["merge_s"],
            "write_s": t["write_s"], "parquet_mib": round(size / 2**20, 2),
            "executor": man["options"]["executor"],
            "workers": man["options"]["executor_workers"],
            "chunk_size": a.chunk_size, "mixed_trades": mman["counts"]["trades_in_file"],
            "mixed_seconds": round(msec, 3),
            "mixed_products": mman["counts"]["by_product"], "load_avg_before": load0}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trades", type=int, default=100_000)
    ap.add_argument("--chunk-size", type=int, default=5000)
    ap.add_argument("--dask-trades", type=int, default=30_000)
    ap.add_argument("--dask-chunk", type=int, default=2500)
    ap.add_argument("--repeats", type=int, default=3, help="Dask timed repeats per cluster")
    ap.add_argument("--skip-dask", action="store_true")
    ap.add_argument("--only-dask", action="store_true", help="skip the 100k and mixed runs")
    ap.add_argument("--dask-config", choices=("batch", "default"), default="batch",
                    help="Dask settings of both clusters: aadrisk's BATCH_DASK_CONFIG "
                         "(docs/batch.md) or Dask's defaults")
    a = ap.parse_args(argv)

    from aadrisk.batch.generate import generate_book, write_json

    cores = len(os.sched_getaffinity(0))
    print(f"batch benchmark: {cores} cores; load average {_load()} (machine shared with "
          "other jobs)", flush=True)
    raw = json.loads(MARKET.read_text())
    with tempfile.TemporaryDirectory(prefix="aadrisk-bench-") as tmp:
        big = Path(tmp) / "big.json"
        doc, _ = generate_book(a.trades, raw, products=["european_option"], seed=20241126,
                               name=f"european_{a.trades}")
        write_json(big, doc)
        small = Path(tmp) / "small.json"
        write_json(small, {"name": "warm", "trades": json.loads(MIXED.read_text())["trades"]})
        print(f"book: {a.trades:,} european options ({big.stat().st_size / 2**20:.1f} MiB "
              "JSON) on portfolios/market_full.json", flush=True)

        res = {"workload": "batch", "cores": cores, "load_avg_start": _load()}
        if not a.only_dask:
            res.update(end_to_end(a, tmp, big, small))
        if not a.skip_dask:
            dbook = Path(tmp) / "dask.json"
            write_json(dbook, {"name": "dask", "trades": doc["trades"][:a.dask_trades]})
            print(f"\nDask LocalCluster 1 vs 2 workers ({a.dask_trades:,} trades, chunks of "
                  f"{a.dask_chunk}, 1 thread and NUMBA_NUM_THREADS=1 per worker, "
                  f"Dask settings: {a.dask_config}):", flush=True)
            med, times, cmed = dask_ratio(dbook, a.dask_trades, a.dask_chunk, a.repeats, tmp,
                                          a.dask_config)
            ratio = med[1] / med[2]
            cratio = cmed[1] / cmed[2]
            print(f"  median end to end: 1 worker {med[1]:.2f} s ({a.dask_trades / med[1]:,.0f} "
                  f"trades/s), 2 workers {med[2]:.2f} s ({a.dask_trades / med[2]:,.0f} "
                  f"trades/s): ratio {ratio:.2f}x", flush=True)
            rmed = cmed["with_read"]
            print(f"  median with reading the inputs (load_portfolio, market file, market "
                  f"parse, as the CLI): 1 worker {rmed[1]:.2f} s, 2 workers {rmed[2]:.2f} s: "
                  f"ratio {rmed[1] / rmed[2]:.2f}x", flush=True)
            print(f"  median chunk phase (workers pricing, client writing chunks): 1 worker "
                  f"{cmed[1]:.2f} s, 2 workers {cmed[2]:.2f} s: ratio {cratio:.2f}x", flush=True)
            ccpu = cmed["cpu"]
            print(f"  median CPU seconds per run, this process / workers: 1 worker "
                  f"{ccpu[1][0]:.2f} / {ccpu[1][1]:.2f}, 2 workers {ccpu[2][0]:.2f} / "
                  f"{ccpu[2][1]:.2f}", flush=True)
            res.update({"dask_trades": a.dask_trades, "dask_chunk": a.dask_chunk,
                        "dask_config": a.dask_config,
                        "dask_1_worker_s": round(med[1], 3), "dask_2_workers_s": round(med[2], 3),
                        "dask_ratio": round(ratio, 3),
                        "dask_chunk_phase_1_worker_s": round(cmed[1], 3),
                        "dask_chunk_phase_2_workers_s": round(cmed[2], 3),
                        "dask_chunk_phase_ratio": round(cratio, 3),
                        "dask_with_read_1_worker_s": round(rmed[1], 3),
                        "dask_with_read_2_workers_s": round(rmed[2], 3),
                        "dask_ratio_with_read": round(rmed[1] / rmed[2], 3),
                        "dask_cpu_s_client_process": {str(k): round(v[0], 3)
                                                      for k, v in cmed["cpu"].items()},
                        "dask_cpu_s_workers": {str(k): round(v[1], 3)
                                               for k, v in cmed["cpu"].items()},
                        "dask_worker_busy_s": {str(k): round(v, 3)
                                               for k, v in cmed["busy"].items()},
                        "dask_times_s": {str(k): [round(x, 3) for x in v]
                                         for k, v in times.items()}})
        res["load_avg_after"] = _load()
    print(json.dumps(res))


if __name__ == "__main__":
    main()
