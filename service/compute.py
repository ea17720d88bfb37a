"""CPU side of a risk request: one ``greek_vectors`` call for several books, split back.

Runs in a worker thread (never on the event loop). The books of a batch share
one market; their trades are concatenated with ids tagged by the book's index
(``"<i>|<id>"``) so that equal ids in different books stay apart, while a
duplicate id *within* a book is still that book's error. After the call the
prices, Greek rows, errors and aggregates are split back per book and each
answer is encoded to JSON bytes (orjson; NaN becomes ``null``).
"""
from __future__ import annotations

import bisect
import dataclasses
import logging
import math
import uuid
from collections.abc import Sequence

import numpy as np
import orjson
import pandas as pd

from aadrisk.risk.greeks import greek_vectors

log = logging.getLogger("aadrisk.service")

#: Greek columns that describe the trade (given once per trade, not per row).
_TRADE_COLS = ("trade", "product", "underlying", "currency")
#: Summed by label in the aggregates (when present).
_SUM_COLS = ("value", "value_per_bp", "value_per_vol_point")


@dataclasses.dataclass
class Job:
    """One book to evaluate: its trades (JSON-like mappings, or the request's validated
    trade models, turned into mappings in the worker thread), response metadata, options."""

    trades: list
    meta: dict
    include_zero_greeks: bool = False


@dataclasses.dataclass
class Failure:
    """A book that could not be evaluated (status and detail for the HTTP answer)."""

    status: int
    detail: object


def _valid_id(tid) -> bool:
    if isinstance(tid, bool):
        return False
    return (isinstance(tid, str) and bool(tid.strip())) or isinstance(tid, int)


def tag_trades(jobs: Sequence[Job]) -> tuple[list, list[int]]:
    """Concatenate the books as mappings, tagging valid trade ids ``"<i>|<id>"``;
    return (trades, offsets)."""
    trades, offsets = [], []
    for i, job in enumerate(jobs):
        offsets.append(len(trades))
        tag = f"{i}|"
        for t in job.trades:
            if hasattr(t, "model_dump"):  # a validated schema object: dumped here, off the loop
                t = t.model_dump(mode="json", exclude_unset=True)
            tid = t.get("trade_id") if isinstance(t, dict) else None
            trades.append({**t, "trade_id": tag + str(tid).strip()} if _valid_id(tid) else t)
    return trades, offsets


def owner(tid: str, offsets: Sequence[int]) -> tuple[int, str]:
    """(book index, the client's id) of an id from the merged report.

    Tagged ids carry the index; the library's fallback ``"#<position>"`` (a trade
    without a usable id) is mapped to the book's own position.
    """
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


def _columns(frame: pd.DataFrame, cols) -> dict[str, list]:
    return {c: frame[c].to_numpy().tolist() for c in cols}


def _split_rows(frame: pd.DataFrame, offsets):
    """Greek rows grouped per trade: (column lists in trade order, {tagged id: (a, b)},
    book index per row)."""
    if frame is None or frame.empty:
        return {}, {}, np.zeros(0, dtype=int)
    codes, uniques = pd.factorize(frame["trade"].to_numpy(object))
    if np.any(np.diff(codes) < 0):
        order = np.argsort(codes, kind="stable")
        frame, codes = frame.iloc[order], codes[order]
    counts = np.bincount(codes, minlength=len(uniques))
    bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
    cols = _columns(frame, [c for c in frame.columns if c not in _TRADE_COLS])
    spans = {u: (bounds[k], bounds[k + 1]) for k, u in enumerate(uniques)}
    book = np.array([owner(u, offsets)[0] for u in uniques], dtype=int)[codes]
    return cols, spans, book


def _by_label(greeks: pd.DataFrame, book: np.ndarray, n_books: int) -> list[dict]:
    """Per book: sums of the value columns by (label, greek, currency, unit), columnar.

    Same result as ``GreekReport.by_label`` (sorted keys; a sum over only NaN is
    NaN), computed with integer keys and ``np.bincount`` (a pandas groupby on
    string columns costs several times more).
    """
    keys = ["label", "greek", "currency", "unit"]
    sums = [c for c in _SUM_COLS if c in greeks.columns]
    if greeks.empty:
        return [{k: [] for k in keys + sums} for _ in range(n_books)]
    codes, uniques = [], []
    for k in keys:
        c, u = pd.factorize(greeks[k].to_numpy(object), sort=True)
        codes.append(c.astype(np.int64))
        uniques.append(np.asarray(u, dtype=object))
    combined = np.asarray(book, dtype=np.int64)
    for c, u in zip(codes, uniques):
        combined = combined * max(len(u), 1) + c
    groups, inverse = np.unique(combined, return_inverse=True)
    # decode the group keys (lexicographic order of (book, label, greek, currency, unit))
    parts, rest = [], groups
    for u in reversed(uniques):
        parts.append(rest % max(len(u), 1))
        rest = rest // max(len(u), 1)
    gbook = rest
    cols = {k: u[p].tolist() for k, u, p in zip(keys, uniques, reversed(parts))}
    for c in sums:
        v = greeks[c].to_numpy(float)
        ok = ~np.isnan(v)
        total = np.bincount(inverse, weights=np.where(ok, v, 0.0), minlength=len(groups))
        count = np.bincount(inverse, weights=ok.astype(float), minlength=len(groups))
        cols[c] = np.where(count > 0, total, np.nan).tolist()
    bounds = np.searchsorted(gbook, np.arange(n_books + 1)).tolist()
    return [{k: v[bounds[i]:bounds[i + 1]] for k, v in cols.items()} for i in range(n_books)]


def _prices_per_book(prices: pd.DataFrame, offsets, n_books):
    """Per book: list of (tagged id, row dict with the client's id)."""
    books = [[] for _ in range(n_books)]
    if prices.empty:
        return books
    cols = list(prices.columns)
    data = _columns(prices, cols)
    for r in range(len(prices)):
        row = {c: data[c][r] for c in cols}
        i, tid = owner(row["trade"], offsets)
        tagged, row["trade"] = row["trade"], tid
        row.setdefault("stderr", None)
        books[i].append((tagged, row))
    return books


def split_report(report, jobs: Sequence[Job], offsets) -> list[dict]:
    """The merged :class:`GreekReport` as one response document per job."""
    n = len(jobs)
    gcols, gspans, gbook = _split_rows(report.greeks, offsets)
    want_zero = any(j.include_zero_greeks for j in jobs)
    zcols, zspans, _ = _split_rows(report.zero_greeks, offsets) if want_zero else ({}, {}, None)
    by_label = _by_label(report.greeks, gbook, n)
    errors = [[] for _ in range(n)]
    for e in report.errors:
        i, tid = owner(str(e.trade_id), offsets)
        value = e.value
        if e.field == "trade_id" and isinstance(value, str):
            value = owner(value, offsets)[1]
        errors[i].append({"trade_id": tid, "field": str(e.field), "value": json_value(value),
                          "reason": str(e.reason)})
    docs = []
    for i, (job, rows) in enumerate(zip(jobs, _prices_per_book(report.prices, offsets, n))):
        trades, totals = [], {}
        for tagged, row in rows:
            a, b = gspans.get(tagged, (0, 0))
            row["greeks"] = {c: v[a:b] for c, v in gcols.items()}
            if job.include_zero_greeks:
                za, zb = zspans.get(tagged, (0, 0))
                row["zero_greeks"] = {c: v[za:zb] for c, v in zcols.items()}
            trades.append(row)
            ccy = row.get("currency") or ""
            totals[ccy] = totals.get(ccy, 0.0) + float(row["price"])
        docs.append({**job.meta, "valuation_date": report.valuation_date.isoformat(),
                     "n_trades": len(job.trades), "n_priced": len(trades), "trades": trades,
                     "errors": errors[i],
                     "aggregates": {"price_by_currency": totals, "by_label": by_label[i]}})
    return docs


def encode(doc) -> bytes:
    """JSON bytes (NaN and infinities become null; numpy scalars are accepted)."""
    return orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)


def _evaluate(market, jobs: Sequence[Job]) -> list[bytes]:
    trades, offsets = tag_trades(jobs)
    report = greek_vectors(trades, market)
    return [encode(d) for d in split_report(report, jobs, offsets)]


def evaluate(market, jobs: Sequence[Job]) -> list[bytes | Failure]:
    """Evaluate ``jobs`` on ``market`` with one ``greek_vectors`` call; JSON bytes per job.

    If the merged call fails (it should not: bad trades are reported per trade),
    each job is retried alone so that one client's input cannot fail another's;
    a job that still fails gets a :class:`Failure` (422, with an error id that
    is logged with the traceback).
    """
    try:
        return _evaluate(market, jobs)
    except Exception:
        if len(jobs) == 1:
            error_id = uuid.uuid4().hex[:12]
            log.exception("risk evaluation failed (error id %s)", error_id)
            return [Failure(422, [{"loc": ["body", "portfolio"], "type": "evaluation_failed",
                                   "msg": "the portfolio could not be evaluated on this "
                                          f"market (error id {error_id})"}])]
    out = []
    for job in jobs:
        out += evaluate(market, [job])
    return out
