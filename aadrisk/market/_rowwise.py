"""The compiled loop behind :func:`aadrisk.market.bootstrap.rowwise_matmul`.

``np.einsum("...j,jk->...k", a, b, optimize=False)`` of two C-contiguous float64
matrices with ``b`` of at least two columns iterates with ``k`` innermost: for each
row ``i`` and each ``j`` in increasing order, ``out[i, k] += a[i, j] * b[j, k]`` from
zeros (no fused multiply-add).  :func:`matmul_rows` does exactly that, without
einsum's per-row iterator overhead (einsum spends ~0.1 ms on a 700 x 7 by 7 x 7
product).  With one column einsum sums along ``j`` innermost in another order: those
shapes stay with einsum.  tests/market/test_rowwise.py checks the equality on
random shapes and special values.
"""
from __future__ import annotations

import numpy as np

from .._numba import jit

__all__ = ["matmul_rows", "fits"]


@jit
def _matmul_rows(a, b, out):  # pragma: no cover  (compiled)
    n, p = a.shape
    q = b.shape[1]
    for i in range(n):
        for k in range(q):
            out[i, k] = 0.0
        for j in range(p):
            x = a[i, j]
            for k in range(q):
                out[i, k] += x * b[j, k]


def fits(a, b) -> bool:
    """Whether :func:`matmul_rows` gives einsum's result for ``a``, ``b`` bit for bit."""
    return (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
            and a.dtype == np.float64 and b.dtype == np.float64 and a.flags.c_contiguous
            and b.flags.c_contiguous and a.shape[1] == b.shape[0] and b.shape[1] >= 2)


def matmul_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` summed in einsum's order (``a``, ``b``: see :func:`fits`)."""
    out = np.empty((a.shape[0], b.shape[1]))
    _matmul_rows(a, b, out)
    return out
