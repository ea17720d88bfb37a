"""The one place where aadrisk sets Numba options.

Every compiled kernel in the package is decorated with :func:`jit` (serial)
or :func:`pjit` (parallel).  Both cache their machine code on disk
(``cache=True``), so a second process starts without recompiling.  Fast-math
is off on purpose: results must be bit-identical for any batch size and
thread count, which rules out reassociation and vectorised transcendental
libraries whose last bit differs from the scalar path.

``jit(noalias=True)`` promises the compiler that no two array arguments of the
kernel overlap where one of them is written (Numba's ``noalias`` lowering flag,
which Numba sets itself for its parallel loops).  Without it a loop that stores
to one array and reads another at computed positions (a table lookup) cannot be
vectorised: the compiler must assume the store may change what a later path
reads.  It changes no arithmetic, so results are bit-identical.

``jit(refcount=False)`` compiles a kernel without Numba's reference counting of
arrays (the ``_nrt`` option). Each call of an inlined helper that takes arrays
otherwise costs two atomic operations per array (an increment when its arguments
are bound, a decrement when it returns), which in a byte-writing loop called per
record cost more than the bytes. Such a kernel may not allocate arrays (its caller
passes any scratch space) nor return one.
"""
from __future__ import annotations

import numba
from numba.core.compiler import Compiler

_OPTIONS = dict(cache=True, nogil=True, fastmath=False, error_model="numpy")


class _NoAliasCompiler(Compiler):
    """Numba's default pipeline, with the kernel's pointer arguments marked ``noalias``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.state.flags.noalias = True


def jit(fn=None, noalias=False, refcount=True, **extra):
    """Serial Numba kernel with aadrisk's options (``cache=True``); ``noalias`` and
    ``refcount``: see the module's docstring (``noalias`` only for kernels whose array
    arguments never overlap, ``refcount=False`` only for kernels that allocate nothing)."""
    opts = {**_OPTIONS, **extra}
    if not refcount:
        opts["_nrt"] = False
    if noalias:
        opts["pipeline_class"] = _NoAliasCompiler
    if fn is None:
        return lambda f: numba.njit(**opts)(f)
    return numba.njit(**opts)(fn)


def pjit(fn=None, **extra):
    """Parallel Numba kernel (``prange``) with aadrisk's options."""
    return jit(fn, parallel=True, **extra)
