"""CPU side of a risk request: one ``greek_arrays`` call for several books, split back.

Runs in a worker thread (never on the event loop). The books of a batch share
one market; their trades are concatenated with ids tagged by the book's index
(``"<i>|<id>"``) so that equal ids in different books stay apart, while a
duplicate id *within* a book is still that book's error. After the call the
prices, Greek rows, errors and aggregates are split back per book and each
answer is encoded to JSON bytes (:func:`service.layout.answers`).
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence

from aadrisk.risk.columns import BookColumns
from aadrisk.risk.greeks import greek_arrays

from .layout import answers, json_value, owner  # noqa: F401  (owner, json_value re-exported)

log = logging.getLogger("aadrisk.service")


@dataclasses.dataclass
class Job:
    """One book to evaluate: its trades (JSON-like mappings, the fast path's
    :class:`~aadrisk.risk.columns.BookColumns`, or the request's validated trade models,
    turned into mappings in the worker thread), response metadata, options."""

    trades: list
    meta: dict
    include_zero_greeks: bool = False
    layout: str = "trades"


@dataclasses.dataclass
class Failure:
    """A book that could not be evaluated (status and detail for the HTTP answer)."""

    status: int
    detail: object


def _valid_id(tid) -> bool:
    if isinstance(tid, bool):
        return False
    return (isinstance(tid, str) and bool(tid.strip())) or isinstance(tid, int)


def as_mapping(t) -> dict:
    """A validated trade model as the mapping of the fields the client gave (what
    ``model_dump(mode="json", exclude_unset=True)`` returns for these JSON-typed models,
    in the same key order, without the serializer's per-object cost)."""
    given = t.model_fields_set
    out = {k: v for k, v in t.__dict__.items() if k in given}
    extra = t.__pydantic_extra__
    if extra:
        out.update(extra)
    return out


def tag_trades(jobs: Sequence[Job]) -> tuple[list | BookColumns, list[int] | None]:
    """Concatenate the books as mappings, tagging valid trade ids ``"<i>|<id>"``;
    return (trades, offsets).  A single book is passed as it is, untagged (offsets
    ``None``: its ids are the client's; the fast path's columns stay columns)."""
    if len(jobs) == 1:
        trades = jobs[0].trades
        if not isinstance(trades, BookColumns) and \
                any(hasattr(t, "model_fields_set") for t in trades):
            trades = [as_mapping(t) if hasattr(t, "model_fields_set") else t for t in trades]
        return trades, None
    if all(isinstance(j.trades, BookColumns) for j in jobs):
        return _tag_columns(jobs)
    trades, offsets = [], []
    for i, job in enumerate(jobs):
        offsets.append(len(trades))
        tag = f"{i}|"
        for t in job.trades:     # a BookColumns iterates over its mappings
            if hasattr(t, "model_fields_set"):  # a validated schema object, mapped off the loop
                t = as_mapping(t)
            tid = t.get("trade_id") if isinstance(t, dict) else None
            trades.append({**t, "trade_id": tag + str(tid).strip()} if _valid_id(tid) else t)
    return trades, offsets


def _tag_columns(jobs: Sequence[Job]) -> tuple[BookColumns, list[int]]:
    """:func:`tag_trades` of books that are all :class:`BookColumns`, column by column
    (no mapping per trade): the groups of equal keys merged in order of first
    appearance, as ``BookColumns.from_mappings`` of the tagged mappings groups them."""
    merged: dict[tuple, tuple[list, list]] = {}
    offsets, offset = [], 0
    for i, job in enumerate(jobs):
        offsets.append(offset)
        tag = f"{i}|"
        for keys, positions, columns in job.trades.groups:
            columns = list(columns)
            if "trade_id" in keys:
                k = keys.index("trade_id")
                columns[k] = [tag + str(t).strip() if _valid_id(t) else t
                              for t in columns[k]]
            pos, cols = merged.setdefault(keys, ([], [[] for _ in keys]))
            pos.extend([p + offset for p in positions])
            for acc, col in zip(cols, columns):
                acc.extend(col)
        offset += len(job.trades)
    return BookColumns(offset, [(k, p, c) for k, (p, c) in merged.items()]), offsets


def _evaluate(market, jobs: Sequence[Job]) -> list[bytes]:
    trades, offsets = tag_trades(jobs)
    arrays = greek_arrays(trades, market)
    return answers(arrays, jobs, offsets)


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
