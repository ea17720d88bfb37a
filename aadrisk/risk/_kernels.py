"""Small compiled helpers of the risk layer's array assembly."""
from __future__ import annotations

import numpy as np

from .._numba import jit

__all__ = ["rows_of", "first_seen", "scaled_rows"]


@jit
def _merge_search(a, v, out):  # pragma: no cover  (compiled)
    """``out = searchsorted(a, v, side="left")`` for an increasing ``v``, by one merge
    walk; False (``out`` unfinished) as soon as ``v`` decreases."""
    j = 0
    na = a.shape[0]
    for i in range(v.shape[0]):
        x = v[i]
        if i > 0 and x < v[i - 1]:
            return False
        while j < na and a[j] < x:
            j += 1
        out[i] = j
    return True


def rows_of(a: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``np.searchsorted(a, v)`` (``a`` increasing integers), in one pass when ``v`` is
    increasing too (long rows in book order against the priced trades' positions)."""
    a = np.asarray(a)
    v = np.asarray(v)
    if a.dtype == np.int64 and v.dtype == np.int64 and v.ndim == 1 and a.ndim == 1:
        out = np.empty(v.shape[0], dtype=np.int64)
        if _merge_search(a, v, out):
            return out
    return np.searchsorted(a, v)


@jit
def first_seen(codes, k):  # pragma: no cover  (compiled)
    """``codes`` (into a table of ``k`` distinct values) renumbered in order of first
    appearance, and the table index of each new code."""
    new = np.full(k, -1, dtype=np.int64)
    order = np.empty(k, dtype=np.int64)
    out = np.empty_like(codes)
    m = 0
    for i in range(codes.shape[0]):
        c = codes[i]
        if new[c] < 0:
            new[c] = m
            order[m] = c
            m += 1
        out[i] = new[c]
    return out, order[:m]


@jit
def _scale(idx, pos, qty, values, errs, out_pos, out_val, out_err):  # pragma: no cover
    for i in range(idx.shape[0]):
        k = idx[i]
        q = qty[k]
        out_pos[i] = pos[k]
        out_val[i] = values[i] * q
        out_err[i] = errs[i] * abs(q)


def scaled_rows(idx, pos, qty, values, errs, ordered=False
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(pos[idx], values * qty[idx], errs * |qty[idx]|)`` in one pass (rows of trades
    ``idx`` scaled by their quantities); ``ordered``: ``idx`` is non-decreasing (its
    bounds are its ends)."""
    idx, pos = np.asarray(idx, dtype=np.int64), np.asarray(pos, dtype=np.int64)
    qty = np.asarray(qty, dtype=np.float64)
    values, errs = np.asarray(values, dtype=np.float64), np.asarray(errs, dtype=np.float64)
    n = idx.shape[0]
    lo, hi = ((idx[0], idx[-1]) if ordered and idx.ndim == 1 else (idx.min(), idx.max())) \
        if n else (0, 0)
    if values.shape != (n,) or errs.shape != (n,) or pos.shape != qty.shape or \
            (n and (lo < 0 or hi >= qty.shape[0])):
        return pos[idx], values * qty[idx], errs * np.abs(qty[idx])
    out = np.empty(n, dtype=np.int64), np.empty(n), np.empty(n)
    _scale(idx, pos, qty, values, errs, *out)
    return out
