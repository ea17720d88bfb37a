"""The aggregates of the answers: Greek sums by (label, greek, currency) and prices by
currency, per book of a merged evaluation, from codes by compiled kernels.

Sums are taken in row order from 0.0 (as ``np.bincount`` with weights and the
Python loop they replace did), NaN rows left out; a group of only NaN rows sums
to NaN.
"""
from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import numpy as np

from aadrisk._numba import jit

#: summed by (label, greek, currency, unit) in the aggregates
SUM_COLS = ("value", "value_per_bp", "value_per_vol_point")
KEYS = ("label", "greek", "currency", "unit")


@jit
def _cells(row, book_bounds, lab, lrank, grk, grank, trade_cur, crank, nl, ng, nc, cells):
    """Per Greek row its group's cell ``((book * nl + label) * ng + greek) * nc + currency``
    (label, greek and currency as their ranks in sorted order)."""
    b = 0
    for r in range(row.shape[0]):
        while r >= book_bounds[b + 1]:
            b += 1
        cells[r] = ((b * nl + lrank[lab[r]]) * ng + grank[grk[r]]) * nc \
            + crank[trade_cur[row[r]]]


@jit
def _accumulate(index, v0, v1, v2, size):
    """(the groups ``0 .. size - 1`` with rows, increasing; per column (3, k) their sums) of
    three columns by group ``index[r]``: in row order from 0.0, NaN left out, NaN for a
    group of only NaN rows."""
    sums = np.zeros((size, 3))
    counts = np.zeros((size, 3), dtype=np.int64)
    present = np.zeros(size, dtype=np.bool_)
    for r in range(index.shape[0]):
        g = index[r]
        present[g] = True
        x = v0[r]
        if x == x:
            sums[g, 0] += x
            counts[g, 0] += 1
        x = v1[r]
        if x == x:
            sums[g, 1] += x
            counts[g, 1] += 1
        x = v2[r]
        if x == x:
            sums[g, 2] += x
            counts[g, 2] += 1
    k = 0
    for g in range(size):
        k += present[g]
    groups = np.empty(k, dtype=np.int64)
    out = np.empty((3, k))
    k = 0
    for g in range(size):
        if present[g]:
            groups[k] = g
            for j in range(3):
                out[j, k] = sums[g, j] if counts[g, j] > 0 else np.nan
            k += 1
    return groups, out


@jit
def _totals(codes, price, bounds, totals, first):
    """Per book ``b`` (trades ``bounds[b]:bounds[b + 1]``): sums of its prices by code (in
    order, from 0.0) and each code's first position (-1: absent)."""
    for b in range(bounds.shape[0] - 1):
        for i in range(bounds[b], bounds[b + 1]):
            c = codes[i]
            if first[b, c] < 0:
                first[b, c] = i
            totals[b, c] += price[i]


def price_totals(codes: np.ndarray, table: Sequence[str], price: np.ndarray,
                 bounds: Sequence[int]) -> list[dict]:
    """Per book (trades ``bounds[i]:bounds[i + 1]``): ``{currency: sum of prices}``, the
    currencies in order of first appearance in the book (all books in one kernel call).

    Examples
    --------
    >>> price_totals(np.array([1, 0, 1, 1]), ["EUR", "USD"], np.array([1., 2., 3., 4.]),
    ...              [0, 3, 4])
    [{'USD': 4.0, 'EUR': 2.0}, {'USD': 4.0}]
    """
    n_books = len(bounds) - 1
    totals = np.zeros((n_books, len(table)), dtype=np.float64)
    first = np.full((n_books, len(table)), -1, dtype=np.int64)
    _totals(np.ascontiguousarray(codes, dtype=np.int64),
            np.ascontiguousarray(price, dtype=np.float64), np.asarray(bounds, dtype=np.int64),
            totals, first)
    book, code = np.nonzero(first >= 0)
    order = np.argsort(first[book, code], kind="stable")  # by book, then first appearance
    out: list[dict] = [{} for _ in range(n_books)]
    for b, c, s in zip(book[order].tolist(), code[order].tolist(),
                       totals[book, code][order].tolist()):
        out[b][table[c]] = s
    return out


def sorted_rank(values: Sequence) -> tuple[np.ndarray, list]:
    """(rank of each value in sorted order, the values sorted); None sorts last."""
    order = sorted(range(len(values)), key=lambda k: (values[k] is None, values[k] or ""))
    rank = np.empty(max(len(values), 1), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank, [values[k] for k in order]


def by_label(rows, book_bounds: Sequence[int], labels: tuple, kinds: tuple,
             units_of: Sequence, trade_cur: np.ndarray, currencies: Sequence[str],
             n_books: int) -> list[dict]:
    """Per book: sums of the value columns by (label, greek, currency, unit), columnar,
    keys sorted (strings as tuples, sums as float arrays: orjson writes both as lists,
    NaN as ``null``). The unit is a function of the greek kind, so grouping by (label,
    greek, currency) gives the same groups.

    Parameters
    ----------
    rows : mapping
        Greek rows: ``row`` (trade index), ``label_code``, ``greek_code`` and the
        :data:`SUM_COLS` as float arrays.
    book_bounds : sequence of int
        Rows of book ``i``: ``book_bounds[i]:book_bounds[i + 1]`` (``n_books + 1``).
    labels, kinds : tuple
        What the label and greek codes index; ``units_of[k]``: unit of kind ``k``.
    trade_cur, currencies :
        Currency of each trade as a code into ``currencies``.
    """
    lrank, lsorted = _ranks(labels)
    grank, gsorted = _ranks(kinds)
    crank, csorted = sorted_rank(list(currencies))
    nl, ng, nc = max(len(lsorted), 1), max(len(gsorted), 1), max(len(csorted), 1)
    groups, sums = _sums(rows, book_bounds, (lrank, grank, crank), (nl, ng, nc), trade_cur,
                         n_books)
    rest, gcur = np.divmod(groups, nc)
    rest, ggrk = np.divmod(rest, ng)
    gbook, glab = np.divmod(rest, nl)
    units = dict(zip(kinds, units_of))
    cols = {"label": _pick(lsorted, glab), "greek": _pick(gsorted, ggrk),
            "currency": _pick(csorted, gcur), "unit": _pick([units[k] for k in gsorted], ggrk)}
    for j, c in enumerate(SUM_COLS):
        cols[c] = sums[j]
    bounds = np.searchsorted(gbook, np.arange(n_books + 1)).tolist()
    return [{k: v[bounds[i]:bounds[i + 1]] for k, v in cols.items()} for i in range(n_books)]


def _pick(values: Sequence, codes: np.ndarray) -> tuple:
    """``values[k]`` for each of ``codes``, as a tuple (one C call)."""
    codes = codes.tolist()
    if len(codes) == 1:
        return (values[codes[0]],)
    return tuple(itemgetter(*codes)(values)) if codes else ()


def _sums(rows, book_bounds, ranks: tuple, sizes: tuple, trade_cur, n_books: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """(cells with rows, increasing; their sums of :data:`SUM_COLS`, one row per column) by
    cell ``((book * nl + label) * ng + greek) * nc + currency`` (label, greek, currency:
    their ``ranks``)."""
    (lrank, grank, crank), (nl, ng, nc) = ranks, sizes
    n = len(rows["row"])
    cells = np.empty(n, dtype=np.int64)
    _cells(np.ascontiguousarray(rows["row"], dtype=np.int64),
           np.asarray(book_bounds, dtype=np.int64),
           np.ascontiguousarray(rows["label_code"], dtype=np.int64), lrank,
           np.ascontiguousarray(rows["greek_code"], dtype=np.int64), grank,
           np.ascontiguousarray(trade_cur, dtype=np.int64), crank, nl, ng, nc, cells)
    space = n_books * nl * ng * nc
    if space <= 4 * n + 4096:                       # dense: the cells are the groups
        return _accumulate(cells, *(rows[c] for c in SUM_COLS), space)
    cells, index = np.unique(cells, return_inverse=True)
    groups, sums = _accumulate(np.ascontiguousarray(index.reshape(-1), dtype=np.int64),
                               *(rows[c] for c in SUM_COLS), len(cells))
    return cells[groups], sums


_RANKS: dict = {}


def _ranks(values: tuple) -> tuple[np.ndarray, list]:
    """:func:`sorted_rank` of a table, cached by content (labels and kinds repeat)."""
    hit = _RANKS.get(values)
    if hit is None:
        hit = sorted_rank(values)
        if len(_RANKS) >= 64:
            _RANKS.pop(next(iter(_RANKS)))
        _RANKS[values] = hit
    return hit
