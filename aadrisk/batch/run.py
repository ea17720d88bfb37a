"""The nightly batch run: chunked, resumable, identical for any number of workers.

Data flow (``aadrisk risk BOOK --market MARKET --out DIR``):

1. read the portfolio (JSON / CSV) and the market; reject non-objects and
   duplicate trade ids (the only whole-book checks);
2. split the remaining trades, in book order, into chunks of ``chunk_size``;
   a chunk's *key* is the sha256 of (the portfolio file's sha256 and the
   chunk's positions in it, the market's canonical hash, the options, the
   chunk layout and aadrisk version) -- a resumed run with
   other inputs never reuses a stale chunk;
3. each chunk not already done is ONE :func:`aadrisk.risk.greeks.greek_vectors`
   call (trades grouped by product onto shared tape evaluations) on an executor
   (:mod:`.executors`), see :mod:`.chunk`: the worker encodes its prices,
   Greeks, errors and partial aggregates as Parquet bytes; this process writes
   them, with the chunk's counts, atomically as ONE file
   ``DIR/chunks/<k>-<key>.chunk`` (:func:`.output.write_chunk_file`), whose
   presence marks the chunk done;
4. the chunks are merged in chunk order (= book order) *while later chunks are
   still computing* (:class:`.merge._Merger`): as soon as chunk k and every chunk
   before it are done, its ``trades``, ``greeks`` and ``zero_greeks`` parts are
   appended byte-wise to hidden temp files of the final outputs
   (:class:`.parquet_concat.ParquetConcat`, nothing decoded) and its errors and
   partial aggregates are decoded; after the last chunk only the footers are
   written, the temp files moved into place, the partial sums added
   (:mod:`.aggregates`) and ``errors`` written; ``manifest.json`` last.

A run killed at any point and started again recomputes only the chunks
without a done-marker and ends with the same bytes as an uninterrupted run.

Debug hook (for the kill/resume test and for drills): the environment
variable ``AADRISK_BATCH_PAUSE_AFTER_CHUNKS=N`` makes the run sleep (for an
hour) after it has committed N chunks, so that it can be killed mid-way.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
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

from .aggregates import AGG_COLUMNS, aggregates, combine_aggregates  # noqa: F401
from .chunk import (GREEK_COLUMNS, PARTS, PRICE_COLUMNS, SCHEMAS,  # noqa: F401
                    ChunkTask, compute_chunk, decode_frame, encode_frame)
from .merge import _CONCATENATED, _Closing, _Merger, _Parts, _stem
from .output import (atomic_write_bytes, atomic_write_json, frame_to_bytes, read_chunk_info,
                     write_chunk_file)
from .portfolio import PROBLEM_COLUMNS, Portfolio, canonical_hash

__all__ = ["RunOptions", "RunResult", "ChunkTask", "compute_chunk", "run_batch",
           "aggregates", "DEPTHS", "FINAL_FILES"]

DEPTHS = ("first", "second")
#: final outputs (name -> file stem)
FINAL_FILES = ("trades", "greeks", "zero_greeks", "aggregates", "errors")
#: final file name -> chunk part it is the concatenation of
PAUSE_ENV = "AADRISK_BATCH_PAUSE_AFTER_CHUNKS"
#: version of the chunk files' layout (part of every chunk key)
_SCHEMA_VERSION = 3


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


@dataclasses.dataclass
class RunResult:
    """What a run produced.

    ``errors``, ``aggregates`` and ``manifest`` are small and held; ``prices``,
    ``greeks`` and ``zero_greeks`` (the long per-trade outputs) are read on first
    access -- from the final files when the run wrote Parquet, else from the
    chunks' bytes -- so that a run whose product is its files never decodes them.
    """

    errors: pd.DataFrame
    aggregates: pd.DataFrame
    manifest: dict
    valuation_date: dt.date | None = None
    load: Callable[[str], pd.DataFrame] | None = dataclasses.field(default=None, repr=False)

    @functools.cached_property
    def prices(self) -> pd.DataFrame:
        return self.load("prices")

    @functools.cached_property
    def greeks(self) -> pd.DataFrame:
        return self.load("greeks")

    @functools.cached_property
    def zero_greeks(self) -> pd.DataFrame:
        return self.load("zero_greeks")

    @property
    def ok(self) -> bool:
        return self.errors.empty


# ----------------------------------------------------------------------------- client side
def _chunk_key(pf: Portfolio, positions, trades, market_hash, options: dict) -> str:
    """sha256 of what determines a chunk's results.

    The trades are identified by the portfolio file's sha256 and their positions
    in it (the file as read determines them), which costs nothing per trade; a
    portfolio without a file hash (built in memory) hashes the trades' content.
    """
    h = hashlib.sha256()
    h.update(json.dumps({"market": market_hash, "options": options}, sort_keys=True).encode())
    h.update(json.dumps(list(positions)).encode())
    if pf.sha256:
        h.update(f"portfolio sha256 {pf.sha256}".encode())
    else:
        h.update(json.dumps(list(trades), sort_keys=True, separators=(",", ":"),
                            default=str).encode())
    return h.hexdigest()



_MARKER_KEYS = ("index", "key", "counts", "seconds", "worker", "valuation_date")


def _commit_chunk(chunks_dir: Path, res: dict) -> None:
    write_chunk_file(chunks_dir / f"{_stem(res['index'], res['key'])}.chunk",
                     {k: res[k] for k in _MARKER_KEYS}, {p: res[p] for p in PARTS})


def _is_done(chunks_dir: Path, index: int, key: str) -> dict | None:
    """The info of chunk ``index``'s file if it is there and of this ``key``, else None."""
    info = read_chunk_info(chunks_dir / f"{_stem(index, key)}.chunk")
    if info is None or info.get("key") != key or set(info["_parts"]) != set(PARTS):
        return None
    return {k: v for k, v in info.items() if k != "_parts"}


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
    found, n = set(), 0
    for t in trades:      # one pass; ``type is dict`` first (a Mapping check costs ~1 us)
        if (type(t) is dict or isinstance(t, Mapping)) and "seed" in t:
            found.add(str(t["seed"]))
            n += 1
    seeds = sorted(found)
    return {"trade_seeds": seeds[:100], "n_trades_with_seed": n,
            "note": "closed-form engines draw no random numbers; Monte Carlo trades carry "
                    "their seed in the trade (field 'seed') or use the engine's default, and a "
                    "trade's result does not depend on its chunk or worker"}


def _concat(frames, columns) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)


@dataclasses.dataclass(frozen=True)
class _Chunk:
    """A chunk of the run's layout: its index, key and book positions (no payload yet)."""

    index: int
    key: str
    positions: tuple

    @property
    def n_trades(self) -> int:
        return len(self.positions)


def _plan(pf: Portfolio, market_hash, opts: RunOptions) -> list:
    """The run's chunks in book order (keys only: cheap; the payloads are pickled when a
    chunk is submitted, :func:`_task`)."""
    valid = pf.valid_positions
    keyopts = opts.key_options()
    out = []
    for k, start in enumerate(range(0, len(valid), opts.chunk_size)):
        pos = tuple(valid[start:start + opts.chunk_size])
        key = _chunk_key(pf, pos, (pf.trades[i] for i in pos), market_hash, keyopts)
        out.append(_Chunk(k, key, pos))
    return out


def _task(pf: Portfolio, c: _Chunk, market_raw, market_hash, opts: RunOptions) -> ChunkTask:
    return ChunkTask.make(c.index, c.key, c.positions, (pf.trades[i] for i in c.positions),
                          market_raw, market_hash, opts.depth, pf.path)


def _tasks(pf: Portfolio, market_raw, market_hash, opts: RunOptions) -> list:
    """Every chunk of the run as a :class:`ChunkTask`."""
    return [_task(pf, c, market_raw, market_hash, opts)
            for c in _plan(pf, market_hash, opts)]


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
    tasks = _plan(pf, market_hash, opts)
    t_split = time.perf_counter()
    out = Path(opts.out) if opts.out is not None else None
    chunks_dir = out / "chunks" if out is not None else None
    if out is not None:
        # a directory holding manifest.json is complete: the manifest goes first, comes last
        (out / "manifest.json").unlink(missing_ok=True)
        for name in FINAL_FILES:       # temp files of a killed run's outputs
            for f in out.glob(f".{name}.*.tmp"):
                f.unlink(missing_ok=True)
    results: dict = {}
    infos: dict = {}
    parts = _Parts(tasks, chunks_dir, results)
    merger = _Merger(tasks, parts, out, stream=out is not None and opts.fmt == "parquet")
    todo = []
    closing = None
    try:
        for t in tasks:
            info = _is_done(chunks_dir, t.index, t.key) if (out is not None and opts.resume) \
                else None
            if info is not None:
                infos[t.index] = dict(info, reused=True)
                merger.add(t.index, errors=info.get("counts", {}).get("errors"))
                if progress:
                    progress(t.n_trades, infos[t.index])
            else:
                todo.append(t)
        executor = make_executor(opts.workers, opts.scheduler, len(todo)) if todo else None
        committed = 0
        try:
            if executor is not None:
                # payloads pickled one chunk at a time, as the executor submits them
                lazy = (_task(pf, c, market_raw, market_hash, opts) for c in todo)
                for res in executor.run(compute_chunk, lazy):
                    if chunks_dir is not None:
                        _commit_chunk(chunks_dir, res)
                    else:
                        results[res["index"]] = res
                    infos[res["index"]] = dict({k: res[k] for k in _MARKER_KEYS}, reused=False)
                    merger.add(res["index"], res, errors=res["counts"]["errors"])
                    committed += 1
                    if progress:
                        progress(res["counts"]["trades"], infos[res["index"]])
                    if chunks_dir is not None:
                        _maybe_pause(committed)
                # every chunk is in: the executor (a Dask client's disconnect, a pool's
                # processes) winds down while this thread writes the outputs
                closing = _Closing(executor)
        finally:
            if executor is not None and closing is None:
                executor.close()
        t_compute = time.perf_counter()

        book_problems = pd.DataFrame([p.record() for p in pf.problems], columns=PROBLEM_COLUMNS)
        errors = _concat([book_problems, merger.errors_frame()], PROBLEM_COLUMNS)
        if len(errors):
            errors = errors.sort_values("position", kind="stable").reset_index(drop=True)
            errors["position"] = errors["position"].astype(np.int64)
        agg = combine_aggregates(merger.aggregates, pf.name)
        t_merge = time.perf_counter()
    except BaseException:
        merger.abort()
        if closing is not None:
            closing.join()
        raise

    vdates = sorted({i.get("valuation_date") for i in infos.values() if i.get("valuation_date")})
    valuation_date = dt.date.fromisoformat(vdates[0]) if vdates else None
    if valuation_date is None:
        try:
            valuation_date = dt.date.fromisoformat(str(market_raw.get("valuation_date")))
        except ValueError:
            pass
    frames = {"errors": errors, "aggregates": agg}
    outputs = {}
    try:
        if out is not None:
            ext = "csv" if opts.fmt == "csv" else "parquet"
            for name in FINAL_FILES:
                dest = out / f"{name}.{ext}"
                if ext == "parquet" and name in _CONCATENATED:
                    rows, sha = merger.finish(name)
                else:
                    if name in _CONCATENATED:
                        part = _CONCATENATED[name]
                        frames[part] = parts.frame(part, SCHEMAS[part].names)
                    df = frames[_CONCATENATED.get(name, name)]
                    data = (frame_to_bytes(df, "csv") if ext == "csv" else encode_frame(
                        df, SCHEMAS["final_aggregates" if name == "aggregates" else name]))
                    atomic_write_bytes(dest, data)
                    rows, sha = len(df), hashlib.sha256(data).hexdigest()
                outputs[name] = {"file": dest.name, "rows": int(rows), "sha256": sha}
            keep = {_stem(t) for t in tasks}
            for f in chunks_dir.glob("*") if chunks_dir.exists() else ():
                if f.name.split(".")[0] not in keep or f.name.startswith("."):
                    try:
                        f.unlink()   # stale chunks of other inputs / temp files of a killed run
                    except OSError:
                        pass
    except BaseException:
        merger.abort()
        raise
    finally:
        if closing is not None:
            closing.join()
    t_write = time.perf_counter()

    def load(part: str) -> pd.DataFrame:
        if part in frames:
            return frames[part]
        name = {v: k for k, v in _CONCATENATED.items()}[part]
        if out is not None and opts.fmt == "parquet":
            return decode_frame(out / f"{name}.parquet")
        return parts.frame(part, SCHEMAS[part].names)

    counts = [infos[t.index]["counts"] for t in tasks]
    by_product: dict = {}
    for c in counts:
        for k, v in c.get("by_product", {}).items():
            by_product[k] = by_product.get(k, 0) + v
    manifest = {
        "aadrisk_batch_manifest": 1,
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
        "counts": {"trades_in_file": len(pf.trades),
                   "priced": sum(c["priced"] for c in counts),
                   "rejected": int(len(errors)),
                   "greek_rows": sum(c["greek_rows"] for c in counts),
                   "zero_greek_rows": sum(c["zero_greek_rows"] for c in counts),
                   "aggregate_rows": int(len(agg)),
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
    return RunResult(errors, agg, manifest, valuation_date, load)
