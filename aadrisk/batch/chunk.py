"""One chunk of a batch run, as computed by a worker (local process, Dask worker, or in process).

:func:`compute_chunk` prices a :class:`ChunkTask` with ONE
:func:`aadrisk.risk.greeks.greek_vectors` call and returns everything the
client keeps of it already encoded: the chunk's prices, Greeks, zero-rate
Greeks and errors as Parquet bytes of fixed Arrow schemas (:data:`SCHEMAS`),
the chunk's partial aggregates (:func:`.aggregates.partial_aggregates`), the
footer layouts of the parts the run concatenates (:func:`.parquet_concat.part_layout`)
and small counts.  All the per-row work of a run -- pricing, adding book
positions, aggregating, Parquet encoding -- happens here, in parallel over
the workers; the client only writes the bytes and, at the end, concatenates
the chunk files (:mod:`.parquet_concat`) and adds up the partial aggregates.

Fixed schemas (no pandas metadata) make every chunk file of an output --
including a chunk whose trades were all rejected -- have the same Parquet
schema, which the byte-wise concatenation needs.
"""
from __future__ import annotations

import dataclasses
import io
import os
import pickle
import platform
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa

from .aggregates import AGG_COLUMNS, PARTIAL_COLUMNS, partial_aggregates
from .parquet_concat import ParquetConcatError, part_layout
from .portfolio import PROBLEM_COLUMNS

__all__ = ["ChunkTask", "compute_chunk", "encode_frame", "decode_frame", "SCHEMAS", "PARTS",
           "CONCATENATED_PARTS", "PRICE_COLUMNS", "GREEK_COLUMNS"]

PRICE_COLUMNS = ["position", "trade", "product", "model", "underlying", "currency",
                 "quantity", "unit_price", "price", "stderr"]
GREEK_COLUMNS = ["position", "trade", "product", "underlying", "currency", "label", "greek",
                 "value", "unit", "value_per_bp", "value_per_vol_point", "stderr"]
_INT = ("position", "section", "n_trades")
_FLOAT = ("quantity", "unit_price", "price", "stderr", "value", "value_per_bp",
          "value_per_vol_point")


def _schema(columns) -> pa.Schema:
    def typ(c):
        if c in _INT:
            return pa.int64()
        # ``value`` of the errors file is the repr of the bad value (text)
        if c in _FLOAT and columns is not PROBLEM_COLUMNS:
            return pa.float64()
        return pa.large_string()

    return pa.schema([(c, typ(c)) for c in columns])


#: Arrow schema of each chunk part (and of the final file of the same name)
SCHEMAS = {"prices": _schema(PRICE_COLUMNS), "greeks": _schema(GREEK_COLUMNS),
           "zero_greeks": _schema(GREEK_COLUMNS), "errors": _schema(PROBLEM_COLUMNS),
           "aggregates": _schema(PARTIAL_COLUMNS), "final_aggregates": _schema(AGG_COLUMNS)}
#: the files of a chunk, besides its done-marker
PARTS = ("prices", "greeks", "zero_greeks", "errors", "aggregates")
#: the parts concatenated byte-wise into the run's long outputs
CONCATENATED_PARTS = ("prices", "greeks", "zero_greeks")


def frame_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``df`` as an Arrow table cast to ``schema`` (no pandas metadata)."""
    return pa.Table.from_pandas(df.reset_index(drop=True), schema=schema,
                                preserve_index=False).replace_schema_metadata(None)


def encode_frame(df: pd.DataFrame, schema: pa.Schema) -> bytes:
    """Parquet bytes of ``df`` cast to ``schema`` (zstd, dictionaries, no statistics, no
    pandas metadata): the same frame always gives the same bytes."""
    return _encode_table(frame_table(df, schema))


def _encode_table(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", use_dictionary=True,
                   write_statistics=False, write_page_index=False)
    return buf.getvalue()


def decode_frame(data) -> pd.DataFrame:
    """A frame from Parquet bytes or a path."""
    import pyarrow.parquet as pq

    src = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    return pq.read_table(src).to_pandas()


@dataclasses.dataclass(frozen=True)
class ChunkTask:
    """What a worker needs for one chunk (picklable; no open files).

    The chunk's trades travel as ``payload``, ONE bytes object (the trades
    pickled once by the client, :meth:`make`), not as thousands of dicts: a
    Dask scheduler unpickles every task it receives and pickles it again for
    the worker, which costs it (and so the cores the workers need) time per
    dict, but only a copy per bytes object.  :meth:`trades` unpickles them on
    the worker.
    """

    index: int
    key: str
    positions: tuple
    payload: bytes
    market: Mapping
    market_hash: str
    depth: str
    file: str

    @classmethod
    def make(cls, index: int, key: str, positions, trades, market: Mapping,
             market_hash: str, depth: str, file: str) -> "ChunkTask":
        """A task of the given trades (``trades[i]`` is the trade at book position
        ``positions[i]``).

        Examples
        --------
        >>> t = ChunkTask.make(0, "k", (3, 5), ({"a": 1}, {"b": 2}), {}, "h", "first", "f")
        >>> t.n_trades, t.trades()
        (2, [{'a': 1}, {'b': 2}])
        """
        positions, trades = tuple(positions), list(trades)
        if len(positions) != len(trades):
            raise ValueError(f"chunk {index}: {len(positions)} positions for "
                             f"{len(trades)} trades")
        return cls(index, key, positions, pickle.dumps(trades, pickle.HIGHEST_PROTOCOL),
                   market, market_hash, depth, file)

    @property
    def n_trades(self) -> int:
        return len(self.positions)

    def trades(self) -> list:
        """The chunk's trades, in book order (a new list on every call)."""
        return pickle.loads(self.payload)


_MARKETS: dict = {}


def _market(task: ChunkTask):
    """The parsed market, cached per worker process by its canonical hash."""
    from ..market.snapshot import MarketData

    m = _MARKETS.get(task.market_hash)
    if m is None:
        m = MarketData.from_mapping(task.market)
        _MARKETS.clear()
        _MARKETS[task.market_hash] = m
    return m


def _error_records(task: ChunkTask, trades, errors) -> list:
    """Trade errors of a chunk mapped to book positions (ids ``#i`` are chunk-local)."""
    pos_of = {}
    for pos, t in zip(task.positions, trades):
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
    """``df`` with the book position of each row's trade first, columns ``columns``.

    The trade ids are factorized (one C pass over the rows) and only the distinct
    ids looked up: a chunk's Greek rows repeat each trade id some twenty times,
    and a per-row ``Series.map`` over Arrow strings cost ~15 % of a chunk.
    """
    codes, uniques = pd.factorize(df["trade"])
    if (codes < 0).any():
        raise ValueError("a result row without a trade id")
    pos = np.fromiter((pos_of_trade[u] for u in uniques), np.int64, len(uniques))
    df = df.copy()
    df.insert(0, "position", pos[codes])
    return df.reindex(columns=columns)


def _layouts(parts: dict) -> dict:
    """The :class:`~.parquet_concat.PartLayout` of each part the run concatenates (None
    if a part does not allow it: the client then finds out itself)."""
    out = {}
    for name in CONCATENATED_PARTS:
        try:
            out[name] = part_layout(parts[name], name)
        except ParquetConcatError:
            out[name] = None
    return out


def compute_chunk(task: ChunkTask) -> dict:
    """Price one chunk; its parts as Parquet bytes, counts and timings (runs on a worker)."""
    from ..risk.greeks import SECOND_ORDER, greek_vectors

    t0 = time.perf_counter()
    market = _market(task)
    trades = task.trades()
    report = greek_vectors(trades, market)
    t1 = time.perf_counter()
    pos_of_trade = {}
    for pos, t in zip(task.positions, trades):
        if isinstance(t, Mapping) and "trade_id" in t:
            pos_of_trade.setdefault(str(t["trade_id"]).strip(), pos)
    prices = _with_position(report.prices, pos_of_trade, PRICE_COLUMNS)
    greeks = report.greeks
    if task.depth == "first":
        greeks = greeks[~greeks["greek"].isin(SECOND_ORDER)]
    greeks = _with_position(greeks, pos_of_trade, GREEK_COLUMNS)
    zeros = _with_position(report.zero_greeks, pos_of_trade, GREEK_COLUMNS)
    errors = pd.DataFrame(_error_records(task, trades, report.errors), columns=PROBLEM_COLUMNS)
    frames = {"prices": prices, "greeks": greeks, "zero_greeks": zeros, "errors": errors,
              "aggregates": partial_aggregates(prices, greeks)}
    tables = {name: frame_table(df, SCHEMAS[name]) for name, df in frames.items()}
    out = {name: _encode_table(t) for name, t in tables.items()}
    out["layouts"] = _layouts(out)
    # the partial sums also as a table: the client need not decode their Parquet part
    out["aggregates_table"] = tables["aggregates"]
    by_product = prices.groupby("product").size() if len(prices) else {}
    out.update({
        "index": task.index, "key": task.key,
        "counts": {"trades": task.n_trades, "priced": len(prices),
                   "errors": len(errors), "greek_rows": len(greeks),
                   "zero_greek_rows": len(zeros),
                   "by_product": {str(k): int(v) for k, v in dict(by_product).items()}},
        "seconds": {"greek_vectors": t1 - t0, "chunk": time.perf_counter() - t0},
        "worker": f"{platform.node()}:{os.getpid()}",
        "valuation_date": market.valuation_date.isoformat()})
    return out
