"""Response documents of a merged evaluation, built from arrays (no DataFrames).

:func:`answers` turns the :class:`aadrisk.risk.greeks.GreekArrays` of one
``greek_arrays`` call over several books (ids tagged ``"<i>|<id>"``, see
:mod:`service.compute`) into the JSON answer of each book, in either layout:

* ``"trades"`` (default): one object per trade with its Greek vector as
  equal-length lists (label, greek, value, unit, value_per_bp,
  value_per_vol_point, stderr);
* ``"columnar"``: the trades as columns, and the Greek rows of the whole book
  as columns with the strings given once -- ``labels`` / ``greeks`` / ``units``
  lists and, per row, integer indexes into them (``trade`` indexes the trade
  columns) next to the value columns.

Numeric columns stay NumPy arrays (orjson writes them natively, NaN as
``null``); the trades of a book and their Greek rows are contiguous in the
merged arrays (both sorted by book position), so a book is a slice. A
``trades`` answer's records are written by :func:`service.jsonwrite.write_records`
straight into the answer's buffer, between the JSON of the rest of its document.
"""
from __future__ import annotations

import bisect
import dataclasses
import functools
import math
from collections.abc import Sequence
from operator import itemgetter

import numpy as np
import orjson

from aadrisk.risk.greeks import scaled_columns

from .aggregates import by_label, price_totals
from .jsonwrite import Coded, Group, Table, Text, encoded_table, write_records

LAYOUTS = ("trades", "columnar")
#: per-trade columns of the answer, in order
PRICE_COLS = ("trade", "product", "model", "underlying", "currency", "quantity",
              "unit_price", "price", "stderr")
#: per-row Greek columns of a trade's vector, in order
GREEK_COLS = ("label", "greek", "value", "unit", "value_per_bp", "value_per_vol_point",
              "stderr")


def owner(tid: str, offsets: Sequence[int] | None) -> tuple[int, str]:
    """(book index, the client's id) of an id from the merged report.

    Tagged ids carry the index; the library's fallback ``"#<position>"`` (a trade
    without a usable id) is mapped to the book's own position.  ``offsets`` None: a
    single untagged book (every id is the client's).
    """
    if offsets is None:
        return 0, tid
    head, sep, rest = tid.partition("|")
    if sep and head.isdigit():
        return int(head), rest
    if tid.startswith("#") and tid[1:].isdigit():
        pos = int(tid[1:])
        i = bisect.bisect_right(offsets, pos) - 1
        return i, f"#{pos - offsets[i]}"
    return 0, tid  # pragma: no cover - every id is tagged or positional


def client_ids(ids: list, offsets: Sequence[int] | None, bounds: Sequence[int]) -> list:
    """:func:`owner`'s client id of each of ``ids``, book ``i`` being ``ids[bounds[i]:
    bounds[i + 1]]``: its tag ``"<i>|"`` cut off (books whose ids do not all carry it by
    :func:`owner`, id by id).

    Examples
    --------
    >>> client_ids(["0|a", "0|#1", "1|b|c", "#3"], [0, 2], [0, 2, 4])
    ['a', '#1', 'b|c', '#1']
    """
    if offsets is None:
        return ids
    out: list = []
    for i in range(len(bounds) - 1):
        chunk = ids[bounds[i]:bounds[i + 1]]
        tag = f"{i}|"
        rest = list(map(itemgetter(slice(len(tag), None)), chunk))
        # every id is tag + rest exactly when the joins agree (the pieces line up)
        if "".join(chunk) != tag * bool(chunk) + tag.join(rest):
            rest = [owner(t, offsets)[1] for t in chunk]
        out += rest
    return out


def json_value(x):
    """A JSON-safe copy of an error's offending value (client input or a library label)."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return x if -2**63 <= x < 2**63 else str(x)  # JSON encoders stop at 64 bits
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, (list, tuple)):
        return [json_value(v) for v in x]
    if isinstance(x, dict):
        return {str(k): json_value(v) for k, v in x.items()}
    if hasattr(x, "isoformat"):
        return x.isoformat()
    return str(x)


def factorize(values) -> tuple[np.ndarray, list]:
    """(codes, distinct values in order of first appearance) of a sequence of strings."""
    uniques = list(dict.fromkeys(values))
    index = {v: k for k, v in enumerate(uniques)}
    codes = np.fromiter(map(index.__getitem__, values), dtype=np.int64, count=len(values))
    return codes, uniques


def _refactorize(factorized: tuple[np.ndarray, list], a: int, b: int
                 ) -> tuple[np.ndarray, list]:
    """:func:`factorize` of ``values[a:b]`` from the factorization of ``values``:
    (codes, indexes into the whole sequence's distinct values), distinct values in
    order of first appearance within the slice, with NumPy (no per-row Python).

    Examples
    --------
    >>> vals = ["x", "y", "x", "z", "y"]
    >>> codes, which = _refactorize(factorize(vals), 1, 5)
    >>> codes.tolist(), [factorize(vals)[1][k] for k in which]
    ([0, 1, 2, 0], ['y', 'x', 'z'])
    >>> factorize(vals[1:5])[0].tolist()
    [0, 1, 2, 0]
    """
    sl = factorized[0][a:b]
    if len(sl) == 0:
        return np.zeros(0, dtype=np.int64), []
    present, first = np.unique(sl, return_index=True)
    order = np.argsort(first, kind="stable")          # distinct codes by first appearance
    which = present[order]
    remap = np.empty(len(factorized[1]), dtype=np.int64)
    remap[which] = np.arange(len(which))
    return remap[sl], which.tolist()


class _Rows:
    """The Greek rows (first/second order, or zero-rate) of a merged evaluation: value
    columns as arrays, codes into the label and kind tables, slices per book."""

    def __init__(self, cols: dict, offsets: Sequence[int], labels: tuple, kinds: tuple):
        """``offsets``: position of each book's first trade in the merged book;
        ``labels`` / ``kinds``: the strings the ``label_code`` / ``greek_code`` columns
        index."""
        self.cols = cols
        self.n = len(cols["value"])
        self.label_codes = (cols["label_code"], labels)
        self.greek_codes = (cols["greek_code"], kinds)
        self.kind = _kind_info(kinds)
        self.kind_units = self.kind.units  # unit of each distinct greek kind (greek_codes)
        codes = np.asarray(cols["greek_code"])
        value = np.ascontiguousarray(cols["value"], dtype=float)
        self.arrays = {"value": value, "value_per_bp": value * self.kind.bp[codes],
                       "value_per_vol_point": value * self.kind.vp[codes],
                       "stderr": np.ascontiguousarray(cols["stderr"], dtype=float)}
        self.book_bounds = np.searchsorted(cols["_pos"], np.asarray(offsets)).tolist() + [self.n]

    def group(self, name: str) -> Group:
        """The rows as the nested lists of the ``trades`` layout (:data:`GREEK_COLS`)."""
        labels = encoded_table(self.label_codes[1])
        ar = self.arrays
        codes = {"label": Coded(self.label_codes[0], labels),
                 "greek": Coded(self.greek_codes[0], self.kind.table),
                 "unit": Coded(self.greek_codes[0], self.kind.unit_table)}
        return Group(name, self.cols["row"],
                     [(c, codes[c] if c in codes else Text.floats(ar[c])) for c in GREEK_COLS])

    def columnar(self, a: int, b: int, first_trade: int) -> dict:
        """Rows [a, b) with the strings given once and indexes per row."""
        lab_codes, which = _refactorize(self.label_codes, a, b)
        labels = [self.label_codes[1][k] for k in which]
        grk_codes, kinds = _refactorize(self.greek_codes, a, b)
        gk = self.greek_codes[1]
        greeks = [gk[k] for k in kinds]
        units = [self.kind_units[k] for k in kinds]
        ar = self.arrays
        return {"labels": labels, "greeks": greeks, "units": units,
                "trade": self.cols["row"][a:b] - first_trade, "label": lab_codes,
                "greek": grk_codes, "value": ar["value"][a:b],
                "value_per_bp": ar["value_per_bp"][a:b],
                "value_per_vol_point": ar["value_per_vol_point"][a:b],
                "stderr": ar["stderr"][a:b]}


@dataclasses.dataclass(frozen=True)
class _Kinds:
    """What the answers need of a table of greek kinds (computed once per table)."""

    units: list
    bp: np.ndarray
    vp: np.ndarray
    table: Table
    unit_table: Table


@functools.lru_cache(maxsize=64)
def _kind_info(kinds: tuple) -> _Kinds:
    units, bp, vp = scaled_columns(kinds)
    return _Kinds(units, bp, vp, encoded_table(kinds), encoded_table(tuple(units)))


#: one-byte codes (a column of at most 256 distinct strings is coded with one C call)
_BYTE = [bytes([k]) for k in range(256)]


def _strings(column: np.ndarray) -> tuple[np.ndarray, tuple] | None:
    """(codes, distinct values in order of first appearance) of a column of strings (an
    object array) or None; None if it holds anything else (each value is then written
    as it is).

    Examples
    --------
    >>> codes, table = _strings(np.array(["b", "a", "b", None], dtype=object))
    >>> codes.tolist(), table
    ([0, 1, 0, 2], ('b', 'a', None))
    >>> _strings(np.array(["a", 1], dtype=object)) is None
    True
    """
    values = column.tolist()
    n = len(values)
    if n and type(values[0]) is str and values[-1] == values[0] and \
            values.count(values[0]) == n:                                # one value
        return np.zeros(n, dtype=np.int64), (values[0],)
    try:
        where = dict.fromkeys(values)
    except TypeError:
        return None
    if not all(type(v) is str or v is None for v in where):
        return None
    table = tuple(where)
    if len(table) == 1:
        return np.zeros(n, dtype=np.int64), table
    if n < 2 or len(table) > 256:
        for k, v in enumerate(table):
            where[v] = k
        return np.fromiter(map(where.__getitem__, values), dtype=np.int64, count=n), table
    for k, v in enumerate(table):
        where[v] = _BYTE[k]
    codes = np.frombuffer(b"".join(itemgetter(*values)(where)), dtype=np.uint8)
    return codes.astype(np.int64), table


def _price_fields(pr: dict, trade_ids: list, strings: dict) -> list[tuple]:
    """The record fields of the ``trades`` layout (:data:`PRICE_COLS`): floats from the
    arrays, strings by code, the rest by value."""
    fields = []
    for c in PRICE_COLS:
        col = pr[c]
        if c == "trade":
            fields.append((c, Text.values(trade_ids)))
        elif c in strings:
            fields.append((c, Coded(strings[c][0], encoded_table(strings[c][1]))))
        elif getattr(col, "dtype", None) is not None and col.dtype.kind == "f":
            fields.append((c, Text.floats(col)))
        else:
            fields.append((c, Text.values(col.tolist())))
    return fields


def _errors(errors, offsets, n_books: int) -> list[list[dict]]:
    out = [[] for _ in range(n_books)]
    for e in errors:
        i, tid = owner(str(e.trade_id), offsets)
        value = e.value
        if e.field == "trade_id" and isinstance(value, str):
            value = owner(value, offsets)[1]
        out[i].append({"trade_id": tid, "field": str(e.field), "value": json_value(value),
                       "reason": str(e.reason)})
    return out


#: where a ``trades`` answer's records go in the JSON of the rest of its document (orjson
#: writes a fragment verbatim; a NUL byte is escaped everywhere else)
_HOLE = orjson.Fragment(b"\0")


def _around(doc: bytes) -> tuple[memoryview, memoryview]:
    """The JSON of a document before and after its hole (views, no copy)."""
    k = doc.index(b"\0")
    view = memoryview(doc)
    return view[:k], view[k + 1:]


def answers(greek_arrays, jobs: Sequence, offsets: Sequence[int]) -> list[bytes]:
    """The JSON answer of each job from the merged :class:`GreekArrays`.

    A ``trades`` answer is written in one buffer: the JSON of the rest of its document
    around the records that :func:`service.jsonwrite.write_records` writes (one copy
    of the records, into the answer's bytes). A ``columnar`` document is encoded by
    orjson (NaN and infinities as ``null``).

    Parameters
    ----------
    greek_arrays : aadrisk.risk.greeks.GreekArrays
        Of the concatenated, id-tagged books.
    jobs : sequence of service.compute.Job
        The books, in merge order (``job.layout``: ``"trades"`` or ``"columnar"``).
    offsets : sequence of int, or None
        Position of each book's first trade in the merged book; None: one book, ids
        not tagged.
    """
    n = len(jobs)
    pr = greek_arrays.prices
    n_p = len(pr["_pos"])
    errors = _errors(greek_arrays.errors, offsets, n)
    tagged, offsets = offsets is not None, [0] if offsets is None else offsets
    pbounds = np.searchsorted(pr["_pos"], np.asarray(offsets)).tolist() + [n_p]
    trade_ids = client_ids(pr["trade"].tolist(), offsets if tagged else None, pbounds)
    tables = (tuple(greek_arrays.labels), tuple(greek_arrays.kinds))
    greeks = _Rows(greek_arrays.greeks, offsets, *tables)
    zeros = _Rows(greek_arrays.zero_greeks, offsets, *tables) \
        if any(j.include_zero_greeks for j in jobs) else None
    strings = {c: _strings(pr[c]) for c in ("product", "model", "underlying", "currency")}
    strings = {c: v for c, v in strings.items() if v is not None}
    if "currency" in strings:
        raw, table = strings["currency"]
        ccy_codes, ccys = factorize([c or "" for c in table])
        ccy_codes = ccy_codes[raw] if len(table) else raw
    else:
        ccy_codes, ccys = factorize([c or "" for c in pr["currency"].tolist()])
    price = pr["price"] if n_p else np.zeros(0)
    totals = price_totals(ccy_codes, ccys, price, pbounds)
    rows = {"row": greeks.cols["row"], "label_code": greeks.label_codes[0],
            "greek_code": greeks.greek_codes[0], **greeks.arrays}
    by_label_ = by_label(rows, greeks.book_bounds, *tables, greeks.kind_units, ccy_codes,
                         ccys, n)
    valuation_date = greek_arrays.valuation_date.isoformat()
    pcols = None
    out: list = []
    for i, job in enumerate(jobs):
        a, b = pbounds[i], pbounds[i + 1]
        doc = {**job.meta, "valuation_date": valuation_date, "n_trades": len(job.trades),
               "n_priced": b - a}
        if job.layout == "columnar":
            if pcols is None:
                pcols = {c: pr[c].tolist() for c in PRICE_COLS}
                pcols["trade"] = trade_ids
            doc["layout"] = "columnar"
            doc["trades"] = {c: v[a:b] for c, v in pcols.items()}
            doc["greeks"] = greeks.columnar(greeks.book_bounds[i], greeks.book_bounds[i + 1], a)
            if job.include_zero_greeks:
                doc["zero_greeks"] = zeros.columnar(zeros.book_bounds[i],
                                                    zeros.book_bounds[i + 1], a)
        else:
            doc["trades"] = _HOLE
        doc["errors"] = errors[i]
        doc["aggregates"] = {"price_by_currency": totals[i], "by_label": by_label_[i]}
        out.append(orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY))
    for zero in dict.fromkeys(j.include_zero_greeks for j in jobs if j.layout != "columnar"):
        mine = [j.layout != "columnar" and j.include_zero_greeks == zero for j in jobs]
        groups = [greeks.group("greeks")] + ([zeros.group("zero_greeks")] if zero else [])
        wrap = [_around(out[i]) if mine[i] else (b"", b"") for i in range(n)]
        records = write_records(_price_fields(pr, trade_ids, strings), groups, pbounds, wrap)
        out = [records[i] if mine[i] else out[i] for i in range(n)]
    return out
