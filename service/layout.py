"""Response documents of a merged evaluation, built from arrays (no DataFrames).

:func:`documents` turns the :class:`aadrisk.risk.greeks.GreekArrays` of one
``greek_arrays`` call over several books (ids tagged ``"<i>|<id>"``, see
:mod:`service.compute`) into one JSON-ready document per book, in either layout:

* ``"trades"`` (default): one object per trade with its Greek vector as
  equal-length lists (label, greek, value, unit, value_per_bp,
  value_per_vol_point, stderr);
* ``"columnar"``: the trades as columns, and the Greek rows of the whole book
  as columns with the strings given once -- ``labels`` / ``greeks`` / ``units``
  lists and, per row, integer indexes into them (``trade`` indexes the trade
  columns) next to the value columns.

Numeric columns stay NumPy arrays (orjson writes them natively, NaN as
``null``); the trades of a book and their Greek rows are contiguous in the
merged arrays (both sorted by book position), so a book is a slice.
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np
import orjson

from aadrisk.risk.greeks import scaled_columns

from .jsonwrite import Records, coded_spans, float_spans, value_spans

LAYOUTS = ("trades", "columnar")
#: per-trade columns of the answer, in order
PRICE_COLS = ("trade", "product", "model", "underlying", "currency", "quantity",
              "unit_price", "price", "stderr")
#: per-row Greek columns of a trade's vector, in order
GREEK_COLS = ("label", "greek", "value", "unit", "value_per_bp", "value_per_vol_point",
              "stderr")
#: summed by (label, greek, currency, unit) in the aggregates
SUM_COLS = ("value", "value_per_bp", "value_per_vol_point")


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


def _sorted_codes(codes: np.ndarray, uniques: list) -> tuple[np.ndarray, list]:
    """The same grouping with codes renumbered in sorted order of the values."""
    order = sorted(range(len(uniques)), key=lambda k: (uniques[k] is None, uniques[k] or ""))
    rank = np.empty(max(len(uniques), 1), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[codes], [uniques[k] for k in order]


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
    columns as arrays, strings as lists, slices per book and per trade."""

    def __init__(self, cols: dict, n_prices: int, offsets: Sequence[int], labels: Sequence,
                 kinds: Sequence):
        """``offsets``: position of each book's first trade in the merged book;
        ``labels`` / ``kinds``: the strings the ``label_code`` / ``greek_code`` columns
        index."""
        self.cols = cols
        self.n = len(cols["value"])
        self.label_codes = (cols["label_code"], list(labels))
        self.greek_codes = (cols["greek_code"], list(kinds))
        codes, kinds = self.greek_codes
        units, bp, vp = scaled_columns(kinds)
        self.kind_units = units          # unit of each distinct greek kind (greek_codes)
        self._spans = None
        value = np.ascontiguousarray(cols["value"], dtype=float)
        self.arrays = {"value": value, "value_per_bp": value * bp[codes],
                       "value_per_vol_point": value * vp[codes],
                       "stderr": np.ascontiguousarray(cols["stderr"], dtype=float)}
        # rows of price row k: [trade_bounds[k], trade_bounds[k + 1])
        self.trade_bounds = np.searchsorted(cols["row"], np.arange(n_prices + 1)).tolist()
        self.book_bounds = np.searchsorted(cols["_pos"], np.asarray(offsets)).tolist() + [self.n]

    def spans(self) -> dict:
        """Every row of each Greek column (:data:`GREEK_COLS`) as JSON text
        (:mod:`service.jsonwrite`), encoded once for all books."""
        if self._spans is None:
            codes, kinds = self.greek_codes
            ar = self.arrays
            sp = {"label": coded_spans(*self.label_codes), "greek": coded_spans(codes, kinds),
                  "unit": coded_spans(codes, self.kind_units),
                  **{c: float_spans(ar[c]) for c in
                     ("value", "value_per_bp", "value_per_vol_point", "stderr")}}
            self._spans = {c: sp[c] for c in GREEK_COLS}
        return self._spans

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


def _unique(codes: np.ndarray, space: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` of codes in ``0 .. space - 1``; by a
    table of the code space (no sort) when it is not much larger than ``codes``.

    Examples
    --------
    >>> [x.tolist() for x in _unique(np.array([5, 2, 5, 0]), 8)]
    [[0, 2, 5], [2, 1, 2, 0]]
    """
    if space > 4 * len(codes) + 4096:
        return np.unique(codes, return_inverse=True)
    seen = np.zeros(space, dtype=bool)
    seen[codes] = True
    rank = np.cumsum(seen) - 1
    return np.flatnonzero(seen), rank[codes]


def _by_label(rows: _Rows, currency_codes: np.ndarray, currencies: list,
              n_books: int) -> list[dict]:
    """Per book: sums of the value columns by (label, greek, currency, unit), columnar,
    keys sorted (a sum over only NaN is NaN).  The unit is a function of the greek kind,
    so grouping by (label, greek, currency) gives the same groups."""
    keys = ("label", "greek", "currency", "unit")
    if rows.n == 0:
        return [{k: [] for k in keys + SUM_COLS} for _ in range(n_books)]
    lab, labels = _sorted_codes(*rows.label_codes)
    grk, greeks = _sorted_codes(*rows.greek_codes)
    units_of = dict(zip(rows.greek_codes[1], rows.kind_units))
    cur, curs = _sorted_codes(currency_codes, currencies)
    cur = cur[rows.cols["row"]]
    book = np.repeat(np.arange(n_books), np.diff(rows.book_bounds))
    nl, ng, nc = max(len(labels), 1), max(len(greeks), 1), max(len(curs), 1)
    combined = ((book * nl + lab) * ng + grk) * nc + cur
    groups, inverse = _unique(combined, n_books * nl * ng * nc)
    gcur = groups % nc
    rest = groups // nc
    ggrk = rest % ng
    rest = rest // ng
    glab = rest % nl
    gbook = rest // nl
    gk = [greeks[k] for k in ggrk.tolist()]
    cols = {"label": [labels[k] for k in glab.tolist()], "greek": gk,
            "currency": [curs[k] for k in gcur.tolist()], "unit": [units_of[k] for k in gk]}
    for c in SUM_COLS:
        v = rows.arrays[c]
        ok = ~np.isnan(v)
        total = np.bincount(inverse, weights=np.where(ok, v, 0.0), minlength=len(groups))
        count = np.bincount(inverse, weights=ok.astype(float), minlength=len(groups))
        cols[c] = np.where(count > 0, total, np.nan).tolist()
    bounds = np.searchsorted(gbook, np.arange(n_books + 1)).tolist()
    return [{k: v[bounds[i]:bounds[i + 1]] for k, v in cols.items()} for i in range(n_books)]


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


def _records(pr: dict, pcols: dict, greeks: _Rows, zeros: _Rows | None) -> Records:
    """The trades of the ``trades`` layout as JSON records: the price columns (floats
    from the arrays, the rest by value), then the Greek vector (and zero-rate vector)."""
    fields = {c: float_spans(pr[c]) if getattr(pr[c], "dtype", None) is not None
              and pr[c].dtype.kind == "f" else value_spans(pcols[c]) for c in PRICE_COLS}
    groups = {"greeks": (greeks.spans(), greeks.trade_bounds)}
    if zeros is not None:
        groups["zero_greeks"] = (zeros.spans(), zeros.trade_bounds)
    return Records(fields, groups)


def documents(greek_arrays, jobs: Sequence, offsets: Sequence[int]) -> list[dict]:
    """One response document per job from the merged :class:`GreekArrays`.

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
    pcols = {c: pr[c].tolist() for c in PRICE_COLS}
    if offsets is not None:
        pcols["trade"] = [owner(t, offsets)[1] for t in pcols["trade"]]
    errors = _errors(greek_arrays.errors, offsets, n)
    offsets = [0] if offsets is None else offsets
    pbounds = np.searchsorted(pr["_pos"], np.asarray(offsets)).tolist() + [n_p]
    tables = (greek_arrays.labels, greek_arrays.kinds)
    greeks = _Rows(greek_arrays.greeks, n_p, offsets, *tables)
    zeros = _Rows(greek_arrays.zero_greeks, n_p, offsets, *tables) \
        if any(j.include_zero_greeks for j in jobs) else None
    ccy_codes, ccys = factorize([c or "" for c in pcols["currency"]])
    by_label = _by_label(greeks, ccy_codes, ccys, n)
    records = {}       # the trades layout's records, with and without zero_greeks
    docs = []
    for i, job in enumerate(jobs):
        a, b = pbounds[i], pbounds[i + 1]
        totals: dict[str, float] = {}
        for ccy, price in zip(pcols["currency"][a:b], pcols["price"][a:b]):
            ccy = ccy or ""
            totals[ccy] = totals.get(ccy, 0.0) + float(price)
        doc = {**job.meta, "valuation_date": greek_arrays.valuation_date.isoformat(),
               "n_trades": len(job.trades), "n_priced": b - a}
        if job.layout == "columnar":
            doc["layout"] = "columnar"
            doc["trades"] = {c: v[a:b] for c, v in pcols.items()}
            doc["greeks"] = greeks.columnar(greeks.book_bounds[i], greeks.book_bounds[i + 1], a)
            if job.include_zero_greeks:
                doc["zero_greeks"] = zeros.columnar(zeros.book_bounds[i],
                                                    zeros.book_bounds[i + 1], a)
        else:
            zero = job.include_zero_greeks
            if zero not in records:
                records[zero] = _records(pr, pcols, greeks, zeros if zero else None)
            doc["trades"] = orjson.Fragment(records[zero].array(a, b))
        doc["errors"] = errors[i]
        doc["aggregates"] = {"price_by_currency": totals, "by_label": by_label[i]}
        docs.append(doc)
    return docs
