"""The aggregates of the answers: Greek sums by (label, greek, currency) and prices by
currency, per book of a merged evaluation, from codes by compiled kernels.

Sums are taken in row order from 0.0 (as ``np.bincount`` with weights and the
Python loop they replace did), NaN rows left out; a group of only NaN rows sums
to NaN.
"""
from __future__ import annotations

from collections.abc import Sequence

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
def _accumulate(index, v0, v1, v2, sums, counts, present):
    """Sums (row order, from 0.0, NaN left out) and non-NaN counts of three columns by
    group ``index[r]``; ``present``: groups with any row."""
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


def price_totals(codes: np.ndarray, table: Sequence[str], price: np.ndarray,
                 bounds: Sequence[int]) -> list[dict]:
    """Per book (trades ``bounds[i]:bounds[i + 1]``): ``{currency: sum of prices}``, the
    currencies in order of first appearance in the book.

    All books at once: ``np.bincount`` sums by (book, currency) in trade order from 0.0.

    Examples
    --------
    >>> price_totals(np.array([1, 0, 1, 1]), ["EUR", "USD"], np.array([1., 2., 3., 4.]),
    ...              [0, 3, 4])
    [{'USD': 4.0, 'EUR': 2.0}, {'USD': 4.0}]
    """
    n_books, nc = len(bounds) - 1, len(table)
    out: list[dict] = [{} for _ in range(n_books)]
    n = int(bounds[-1]) - int(bounds[0])
    if n == 0 or nc == 0:
        return out
    book = np.repeat(np.arange(n_books, dtype=np.int64), np.diff(np.asarray(bounds)))
    key = book * nc + np.asarray(codes, dtype=np.int64)[bounds[0]:bounds[-1]]
    sums = np.bincount(key, weights=np.asarray(price, dtype=np.float64)[bounds[0]:bounds[-1]],
                       minlength=n_books * nc)
    groups, first = np.unique(key, return_index=True)
    groups = groups[np.argsort(first, kind="stable")]       # by book, then first appearance
    for g, s in zip(groups.tolist(), sums[groups].tolist()):
        out[g // nc][table[g % nc]] = s
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
    keys sorted. The unit is a function of the greek kind, so grouping by (label, greek,
    currency) gives the same groups.

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
    n = len(rows["row"])
    if n == 0:
        return [{k: [] for k in KEYS + SUM_COLS} for _ in range(n_books)]
    lrank, lsorted = _ranks(labels)
    grank, gsorted = _ranks(kinds)
    crank, csorted = sorted_rank(list(currencies))
    nl, ng, nc = max(len(lsorted), 1), max(len(gsorted), 1), max(len(csorted), 1)
    cells = np.empty(n, dtype=np.int64)
    _cells(np.ascontiguousarray(rows["row"], dtype=np.int64),
           np.asarray(book_bounds, dtype=np.int64),
           np.ascontiguousarray(rows["label_code"], dtype=np.int64), lrank,
           np.ascontiguousarray(rows["greek_code"], dtype=np.int64), grank,
           np.ascontiguousarray(trade_cur, dtype=np.int64), crank, nl, ng, nc, cells)
    space = n_books * nl * ng * nc
    dense = space <= 4 * n + 4096
    if dense:
        index, size = cells, space
    else:
        groups, index = np.unique(cells, return_inverse=True)
        index, size = np.ascontiguousarray(index.reshape(-1), dtype=np.int64), len(groups)
    sums = np.zeros((size, 3), dtype=np.float64)
    counts = np.zeros((size, 3), dtype=np.int64)
    present = np.zeros(size, dtype=np.bool_)
    _accumulate(index, *(rows[c] for c in SUM_COLS), sums, counts, present)
    if dense:
        groups = np.flatnonzero(present)
        sums, counts = sums[groups], counts[groups]
    sums[counts == 0] = np.nan
    rest, gcur = np.divmod(groups, nc)
    rest, ggrk = np.divmod(rest, ng)
    gbook, glab = np.divmod(rest, nl)
    gk = [gsorted[k] for k in ggrk.tolist()]
    units = dict(zip(kinds, units_of))
    cols = {"label": [lsorted[k] for k in glab.tolist()], "greek": gk,
            "currency": [csorted[k] for k in gcur.tolist()], "unit": [units[k] for k in gk]}
    for j, c in enumerate(SUM_COLS):
        cols[c] = sums[:, j].tolist()
    bounds = np.searchsorted(gbook, np.arange(n_books + 1)).tolist()
    return [{k: v[bounds[i]:bounds[i + 1]] for k, v in cols.items()} for i in range(n_books)]


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
