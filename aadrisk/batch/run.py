"""The nightly batch run: chunked, resumable, identical for any number of workers.

Data flow (``aadrisk risk BOOK --market MARKET --out DIR``):

1. read the portfolio (JSON / CSV) and the market; reject non-objects and
   duplicate trade ids (the only whole-book checks);
2. split the remaining trades, in book order, into chunks of ``chunk_size``;
   a chunk's *key* is the sha256 of (its trades and positions, the market's
   canonical hash, the options, the aadrisk version) -- a resumed run with
   other inputs never reuses a stale chunk;
3. each chunk not already done is ONE :func:`aadrisk.risk.greeks.greek_vectors`
   call (trades grouped by product onto shared tape evaluations) on an executor
   (:mod:`.executors`); its prices, Greeks and errors come back as Parquet bytes
   and are written to ``DIR/chunks/<k>-<key>.*.parquet`` atomically, then a
   done-marker ``<k>-<key>.done.json``;
4. the chunks are merged in chunk order (= book order) into the final files
   ``trades``, ``greeks``, ``zero_greeks``, ``aggregates``, ``errors`` and
   ``manifest.json``.

A run killed at any point and started again recomputes only the chunks
without a done-marker and ends with the same bytes as an uninterrupted run.

Debug hook (for the kill/resume test and for drills): the environment
variable ``AADRISK_BATCH_PAUSE_AFTER_CHUNKS=N`` makes the run sleep (for an
hour) after it has committed N chunks, so that it can be killed mid-way.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .output import atomic_write_bytes, atomic_write_json, frame_from_bytes, frame_to_bytes
from .portfolio import PROBLEM_COLUMNS, Portfolio, canonical_hash

__all__ = ["RunOptions", "RunResult", "ChunkTask", "compute_chunk", "run_batch",
           "aggregates", "DEPTHS", "FINAL_FILES"]

DEPTHS = ("first", "second")
#: final outputs (name -> file stem)
FINAL_FILES = ("trades", "greeks", "zero_greeks", "aggregates", "errors")
PRICE_COLUMNS = ["position", "trade", "product", "model", "underlying", "currency",
                 "quantity", "unit_price", "price", "stderr"]
GREEK_COLUMNS = ["position", "trade", "product", "underlying", "currency", "label", "greek",
                 "value", "unit", "value_per_bp", "value_per_vol_point", "stderr"]
AGG_COLUMNS = ["level", "book", "underlying", "label", "currency", "greek", "unit", "value",
               "value_per_bp", "value_per_vol_point", "n_trades"]
PAUSE_ENV = "AADRISK_BATCH_PAUSE_AFTER_CHUNKS"
_SCHEMA_VERSION = 1


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """Options of a run (``chunk_size``, ``depth`` and the aadrisk version key the chunks)."""

    out: Path | None = None
    fmt: str = "parquet"
    chunk_size: int = 5000
    workers: int = 0
    scheduler: str | None = None
    depth: str = "second"
    resume: bool = True

    def key_options(self) -> dict:
        from .. import __version__

        return {"depth": self.depth, "chunk_size": self.chunk_size, "aadrisk": __version__,
                "schema": _SCHEMA_VERSION}


@dataclasses.dataclass(frozen=True)
class ChunkTask:
    """What a worker needs for one chunk (picklable; no open files)."""

    index: int
    key: str
    positions: tuple
    trades: tuple
    market: Mapping
    market_hash: str
    depth: str
    file: str


@dataclasses.dataclass
class RunResult:
    prices: pd.DataFrame
    greeks: pd.DataFrame
    zero_greeks: pd.DataFrame
    errors: pd.DataFrame
    aggregates: pd.DataFrame
    manifest: dict
    valuation_date: dt.date | None = None

    @property
    def ok(self) -> bool:
        return self.errors.empty


# ----------------------------------------------------------------------------- worker side
_MARKETS: dict = {}


def _market(task: ChunkTask):
    from ..market.snapshot import MarketData

    m = _MARKETS.get(task.market_hash)
    if m is None:
        m = MarketData.from_mapping(task.market)
        _MARKETS.clear()
        _MARKETS[task.market_hash] = m
    return m


def _error_records(task: ChunkTask, errors) -> list:
    """Trade errors of a chunk mapped to book positions (ids ``#i`` are chunk-local)."""
    pos_of = {}
    for pos, t in zip(task.positions, task.trades):
        tid = t.get("trade_id") if isinstance(t, Mapping) else None
        if isinstance(tid, (str, int)) and not isinstance(tid, bool) and str(tid).strip():
            pos_of.setdefault(str(tid).strip(), pos)
    out = []
    for e in errors:
        tid, pos = e.trade_id, pos_of.get(e.trade_id)
        if pos is None and tid.startswith("#") and tid[1:].isdigit() \
                and int(tid[1:]) < len(task.positions):
            pos = task.positions[int(tid[1:])]
            tid = f"#{pos}"
        msg = f"trade {tid!r}: field {e.field!r} = {e.value!r}: {e.reason}"
        out.append({"position": -1 if pos is None else int(pos), "trade_id": tid,
                    "field": str(e.field), "value": repr(e.value),
                    "message": f"{task.file}: {msg}", "file": task.file})
    return out


def _with_position(df: pd.DataFrame, pos_of_trade: dict, columns) -> pd.DataFrame:
    df = df.copy()
    df.insert(0, "position", df["trade"].map(pos_of_trade).astype(np.int64))
    return df.reindex(columns=columns)


def compute_chunk(task: ChunkTask) -> dict:
    """Price one chunk; its frames as Parquet bytes (runs in a worker process)."""
    from ..risk.greeks import SECOND_ORDER, greek_vectors

    t0 = time.perf_counter()
    market = _market(task)
    report = greek_vectors(list(task.trades), market)
    t1 = time.perf_counter()
    pos_of_trade = {}
    for pos, t in zip(task.positions, task.trades):
        if isinstance(t, Mapping) and "trade_id" in t:
            pos_of_trade.setdefault(str(t["trade_id"]).strip(), pos)
    prices = _with_position(report.prices, pos_of_trade, PRICE_COLUMNS)
    greeks = report.greeks
    if task.depth == "first":
        greeks = greeks[~greeks["greek"].isin(SECOND_ORDER)]
    greeks = _with_position(greeks, pos_of_trade, GREEK_COLUMNS)
    zeros = _with_position(report.zero_greeks, pos_of_trade, GREEK_COLUMNS)
    errors = pd.DataFrame(_error_records(task, report.errors), columns=PROBLEM_COLUMNS)
    out = {"index": task.index, "key": task.key,
           "prices": frame_to_bytes(prices), "greeks": frame_to_bytes(greeks),
           "zero_greeks": frame_to_bytes(zeros), "errors": frame_to_bytes(errors),
           "counts": {"trades": len(task.trades), "priced": len(prices),
                      "errors": len(errors), "greek_rows": len(greeks),
                      "zero_greek_rows": len(zeros)},
           "seconds": {"greek_vectors": t1 - t0, "chunk": time.perf_counter() - t0},
           "worker": f"{platform.node()}:{os.getpid()}",
           "valuation_date": market.valuation_date.isoformat()}
    return out


# ----------------------------------------------------------------------------- client side
def _chunk_key(positions, trades, market_hash, options: dict) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"market": market_hash, "options": options}, sort_keys=True).encode())
    h.update(json.dumps(list(positions)).encode())
    h.update(json.dumps(list(trades), sort_keys=True, separators=(",", ":"),
                        default=str).encode())
    return h.hexdigest()


def _stem(task_or_index, key=None) -> str:
    if key is None:
        return f"{task_or_index.index:05d}-{task_or_index.key[:16]}"
    return f"{task_or_index:05d}-{key[:16]}"


_PARTS = ("prices", "greeks", "zero_greeks", "errors")


def _commit_chunk(chunks_dir: Path, res: dict) -> None:
    stem = _stem(res["index"], res["key"])
    for part in _PARTS:
        atomic_write_bytes(chunks_dir / f"{stem}.{part}.parquet", res[part])
    marker = {k: res[k] for k in ("index", "key", "counts", "seconds", "worker",
                                  "valuation_date")}
    atomic_write_json(chunks_dir / f"{stem}.done.json", marker)


def _is_done(chunks_dir: Path, index: int, key: str) -> dict | None:
    stem = _stem(index, key)
    marker = chunks_dir / f"{stem}.done.json"
    if not marker.exists():
        return None
    try:
        info = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if info.get("key") != key or not all((chunks_dir / f"{stem}.{p}.parquet").exists()
                                         for p in _PARTS):
        return None
    return info


def _versions() -> dict:
    from .. import __version__

    out = {"aadrisk": __version__, "python": platform.python_version()}
    for mod in ("numpy", "numba", "pandas", "pyarrow", "dask", "distributed", "typer", "rich"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            out[mod] = None
    return out


def _seeds(trades) -> dict:
    seeds = sorted({str(t["seed"]) for t in trades if isinstance(t, Mapping) and "seed" in t})
    return {"trade_seeds": seeds[:100], "n_trades_with_seed":
            sum(1 for t in trades if isinstance(t, Mapping) and "seed" in t),
            "note": "closed-form engines draw no random numbers; Monte Carlo trades carry "
                    "their seed in the trade (field 'seed') or use the engine's default, and a "
                    "trade's result does not depend on its chunk or worker"}


def aggregates(prices: pd.DataFrame, greeks: pd.DataFrame, book: str) -> pd.DataFrame:
    """Sums by book (price per currency), by underlying (price and each Greek kind) and by
    risk factor (label, greek); deterministic (sorted groups, book-ordered input)."""
    parts = []
    if not prices.empty:
        b = prices.groupby("currency", sort=True, dropna=False).agg(value=("price", "sum"),
                                                      n_trades=("trade", "size")).reset_index()
        b["level"], b["book"], b["greek"], b["unit"] = "book", book, "price", "ccy"
        parts.append(b)
        u = prices.groupby(["underlying", "currency"], sort=True, dropna=False).agg(
            value=("price", "sum"), n_trades=("trade", "size")).reset_index()
        u["level"], u["book"], u["greek"], u["unit"] = "underlying", book, "price", "ccy"
        parts.append(u)
    if not greeks.empty:
        vals = ["value", "value_per_bp", "value_per_vol_point"]
        keys = ["underlying", "currency", "greek", "unit"]
        grp = greeks.groupby(keys, sort=True, dropna=False)
        g = grp[vals].sum(min_count=1)
        g["n_trades"] = grp["trade"].nunique()
        g = g.reset_index()
        g["level"], g["book"] = "underlying", book
        parts.append(g)
        keys = ["label", "greek", "currency", "unit"]
        grp = greeks.groupby(keys, sort=True, dropna=False)
        r = grp[vals].sum(min_count=1)
        r["n_trades"] = grp.size()
        r = r.reset_index()
        r["level"], r["book"] = "risk_factor", book
        parts.append(r)
    if not parts:
        return pd.DataFrame(columns=AGG_COLUMNS)
    out = pd.concat(parts, ignore_index=True).reindex(columns=AGG_COLUMNS)
    out["n_trades"] = out["n_trades"].astype(np.int64)
    for c in ("value", "value_per_bp", "value_per_vol_point"):
        out[c] = out[c].astype(float)
    return out


def _concat(frames, columns) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)


def _tasks(pf: Portfolio, market_raw, market_hash, opts: RunOptions):
    valid = pf.valid_positions
    keyopts = opts.key_options()
    out = []
    for k, start in enumerate(range(0, len(valid), opts.chunk_size)):
        pos = tuple(valid[start:start + opts.chunk_size])
        trades = tuple(pf.trades[i] for i in pos)
        key = _chunk_key(pos, trades, market_hash, keyopts)
        out.append(ChunkTask(k, key, pos, trades, market_raw, market_hash, opts.depth,
                             pf.path))
    return out


def _maybe_pause(committed: int) -> None:
    n = os.environ.get(PAUSE_ENV)
    if n and committed >= int(n):
        sys.stderr.write(f"[{PAUSE_ENV}={n}] {committed} chunk(s) committed; pausing\n")
        sys.stderr.flush()
        time.sleep(3600)


def run_batch(pf: Portfolio, market_raw: Mapping, opts: RunOptions, *,
              market_file: dict | None = None, progress: Callable | None = None,
              command: list | None = None, read_seconds: float = 0.0) -> RunResult:
    """Run the book (see the module notes); ``progress(trades_done, chunk_info)`` is called
    after every chunk.  With ``opts.out`` None nothing is written (no resume)."""
    from .executors import make_executor

    if opts.depth not in DEPTHS:
        raise ValueError(f"greek depth {opts.depth!r}: expected one of {DEPTHS}")
    if opts.fmt not in ("parquet", "csv"):
        raise ValueError(f"format {opts.fmt!r}: expected parquet or csv")
    if opts.chunk_size < 1:
        raise ValueError(f"chunk size {opts.chunk_size}: must be >= 1")
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    market_hash = canonical_hash(market_raw)
    tasks = _tasks(pf, market_raw, market_hash, opts)
    t_split = time.perf_counter()
    out = Path(opts.out) if opts.out is not None else None
    chunks_dir = out / "chunks" if out is not None else None
    if out is not None:
        # a directory holding manifest.json is complete: the manifest goes first, comes last
        (out / "manifest.json").unlink(missing_ok=True)
    results: dict = {}
    infos: dict = {}
    todo = []
    for t in tasks:
        info = _is_done(chunks_dir, t.index, t.key) if (out is not None and opts.resume) \
            else None
        if info is not None:
            infos[t.index] = dict(info, reused=True)
            if progress:
                progress(len(t.trades), infos[t.index])
        else:
            todo.append(t)
    executor = make_executor(opts.workers, opts.scheduler, len(todo)) if todo else None
    committed = 0
    try:
        if executor is not None:
            for res in executor.run(compute_chunk, todo):
                if chunks_dir is not None:
                    _commit_chunk(chunks_dir, res)
                else:
                    results[res["index"]] = res
                infos[res["index"]] = {k: res[k] for k in ("index", "key", "counts",
                                                           "seconds", "worker",
                                                           "valuation_date")}
                infos[res["index"]]["reused"] = False
                committed += 1
                if progress:
                    progress(res["counts"]["trades"], infos[res["index"]])
                if chunks_dir is not None:
                    _maybe_pause(committed)
    finally:
        if executor is not None:
            executor.close()
    t_compute = time.perf_counter()

    def part(t, name):
        if chunks_dir is None:
            return frame_from_bytes(results[t.index][name])
        import pyarrow.parquet as pq

        return pq.read_table(chunks_dir / f"{_stem(t)}.{name}.parquet").to_pandas()

    prices = _concat([part(t, "prices") for t in tasks], PRICE_COLUMNS)
    greeks = _concat([part(t, "greeks") for t in tasks], GREEK_COLUMNS)
    zeros = _concat([part(t, "zero_greeks") for t in tasks], GREEK_COLUMNS)
    book_problems = pd.DataFrame([p.record() for p in pf.problems], columns=PROBLEM_COLUMNS)
    errors = _concat([book_problems] + [part(t, "errors") for t in tasks], PROBLEM_COLUMNS)
    if len(errors):
        errors = errors.sort_values("position", kind="stable").reset_index(drop=True)
        errors["position"] = errors["position"].astype(np.int64)
    agg = aggregates(prices, greeks, pf.name)
    t_merge = time.perf_counter()

    vdates = sorted({i.get("valuation_date") for i in infos.values() if i.get("valuation_date")})
    valuation_date = dt.date.fromisoformat(vdates[0]) if vdates else None
    if valuation_date is None:
        try:
            valuation_date = dt.date.fromisoformat(str(market_raw.get("valuation_date")))
        except ValueError:
            pass
    outputs = {}
    if out is not None:
        ext = "csv" if opts.fmt == "csv" else "parquet"
        for name, df in (("trades", prices), ("greeks", greeks), ("zero_greeks", zeros),
                         ("aggregates", agg), ("errors", errors)):
            data = frame_to_bytes(df.reset_index(drop=True), opts.fmt)
            atomic_write_bytes(out / f"{name}.{ext}", data)
            outputs[name] = {"file": f"{name}.{ext}", "rows": int(len(df)),
                             "sha256": hashlib.sha256(data).hexdigest()}
        keep = {_stem(t) for t in tasks}
        for f in chunks_dir.glob("*") if chunks_dir.exists() else ():
            if f.name.split(".")[0] not in keep or f.name.startswith("."):
                try:
                    f.unlink()   # stale chunks of other inputs / temp files of a killed run
                except OSError:
                    pass
    t_write = time.perf_counter()
    by_product = prices.groupby("product").size().to_dict() if len(prices) else {}
    manifest = {
        "aadrisk_batch_manifest": _SCHEMA_VERSION,
        "status": "ok" if errors.empty else "errors",
        "command": command or sys.argv,
        "started_utc": started.isoformat(timespec="seconds"),
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "valuation_date": valuation_date.isoformat() if valuation_date else None,
        "inputs": {"portfolio": {"path": pf.path, "name": pf.name, "sha256": pf.sha256,
                                 "trades": len(pf.trades)},
                   "market": dict(market_file or {}, canonical_sha256=market_hash)},
        "options": {"chunk_size": opts.chunk_size, "greeks": opts.depth, "format": opts.fmt,
                    "workers": opts.workers, "scheduler": opts.scheduler,
                    "executor": getattr(executor, "name", "none (no chunk to compute)"),
                    "executor_workers": getattr(executor, "workers", 0)},
        "versions": _versions(),
        "seeds": _seeds(pf.trades),
        "counts": {"trades_in_file": len(pf.trades), "priced": int(len(prices)),
                   "rejected": int(len(errors)), "greek_rows": int(len(greeks)),
                   "zero_greek_rows": int(len(zeros)), "aggregate_rows": int(len(agg)),
                   "chunks": len(tasks),
                   "chunks_computed": sum(1 for i in infos.values() if not i["reused"]),
                   "chunks_reused": sum(1 for i in infos.values() if i["reused"]),
                   "by_product": {str(k): int(v) for k, v in sorted(by_product.items())}},
        "timings": {"read_s": round(read_seconds, 4), "split_s": round(t_split - t0, 4),
                    "compute_s": round(t_compute - t_split, 4),
                    "merge_s": round(t_merge - t_compute, 4),
                    "write_s": round(t_write - t_merge, 4),
                    "total_s": round(t_write - t0 + read_seconds, 4),
                    "chunks": [dict(index=i, **{k: infos[i][k] for k in
                                                ("seconds", "worker", "reused")})
                               for i in sorted(infos)]},
        "outputs": outputs,
    }
    if out is not None:
        atomic_write_json(out / "manifest.json", manifest)
    return RunResult(prices, greeks, zeros, errors, agg, manifest, valuation_date)
