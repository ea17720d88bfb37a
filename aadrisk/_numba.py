"""The one place where aadrisk sets Numba options.

Every compiled kernel in the package is decorated with :func:`jit` (serial)
or :func:`pjit` (parallel).  Both cache their machine code on disk
(``cache=True``), so a second process starts without recompiling.  Fast-math
is off on purpose: results must be bit-identical for any batch size and
thread count, which rules out reassociation and vectorised transcendental
libraries whose last bit differs from the scalar path.
"""
from __future__ import annotations

import numba

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


def jit(fn=None, **extra):
    """Serial Numba kernel with aadrisk's options (``cache=True``)."""
    opts = {**_OPTIONS, **extra}
    if fn is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(fn)


def pjit(fn=None, **extra):
    """Parallel Numba kernel (``prange``) with aadrisk's options."""
    return jit(fn, parallel=True, **extra)
