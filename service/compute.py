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
import functools
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


def _tagged_ids(ids: list, tag: str, types: frozenset | None) -> list:
    """``ids`` with each valid id ``tag + str(id).strip()`` (``types``: the ids' value types,
    if known; strings only, none blank: one C-level pass)."""
    if types is not None and types == {str}:
        stripped = list(map(str.strip, ids))
        if all(stripped):
            return list(map(tag.__add__, stripped))
    return [tag + str(t).strip() if _valid_id(t) else t for t in ids]


@functools.lru_cache(maxsize=64)
def _tagged_types(types: frozenset) -> frozenset | None:
    """The value types of a trade id column once tagged (valid ids are then strings: every
    int, and strings stay strings); None for subclasses of str or int (not followed)."""
    if any(issubclass(t, (str, int)) and t not in (str, int, bool) for t in types):
        return None
    if types & {str, int}:
        return (types - {int}) | {str}
    return types


def _tag_columns(jobs: Sequence[Job]) -> tuple[BookColumns, list[int]]:
    """:func:`tag_trades` of books that are all :class:`BookColumns`, column by column
    (no mapping per trade): the groups of equal keys merged in order of first
    appearance, as ``BookColumns.from_mappings`` of the tagged mappings groups them. The
    columns' value types are merged too, where every book knows them."""
    merged: dict[tuple, tuple[list, list, list]] = {}
    offsets, offset = [], 0
    for i, job in enumerate(jobs):
        offsets.append(offset)
        tag = f"{i}|"
        for (keys, positions, columns), types in zip(job.trades.groups, job.trades.types):
            columns = list(columns)
            if types is not None:
                types = list(types)
            if "trade_id" in keys:
                k = keys.index("trade_id")
                columns[k] = _tagged_ids(columns[k], tag, None if types is None else types[k])
                if types is not None:
                    types[k] = _tagged_types(types[k])
                    types = None if types[k] is None else types
            got = merged.get(keys)
            if got is None:
                got = merged[keys] = ([], [[] for _ in keys], [])
            pos, cols, known = got
            pos.extend(map(offset.__add__, positions))
            for acc, col in zip(cols, columns):
                acc.extend(col)
            known.append(types)
        offset += len(job.trades)
    groups = [(k, p, c) for k, (p, c, _) in merged.items()]
    types = [None if any(t is None for t in known) else
             tuple(frozenset().union(*col) for col in zip(*known))
             for _, _, known in merged.values()]
    return BookColumns(offset, groups, types), offsets


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
