"""Kernels loaded from Numba's disk cache without initialising the compiler.

Before it loads a kernel from the disk cache, Numba "refreshes" its CPU target
(``Cache.load_overload`` calls ``target_context.refresh()``): it imports the
implementation modules (``numba.np.arraymath``, ``numba.np.linalg``,
``numba.cpython.*``, typed containers, ...) and installs every typing and
lowering registry, about 0.3-0.4 s of CPU, and ``numba.np.arraymath`` checks for
BLAS by importing ``scipy.linalg`` (another 0.2-0.4 s). Loading machine code
needs none of it: the compiler's registries are used to type and lower Python
source, not to link object code. What a loaded kernel does need is the symbols
its object code refers to: the Python C API and libm (in the process), Numba's C
helpers and C math functions (added when the target context is built), the NRT
(``rtsys.initialize``) and the hash secret (``numba.cpython.hashing``, added at
its import; the only symbols a registry module adds when imported; parallel
kernels start their thread pool themselves on load).

:func:`init_numba_target` builds the target context, initialises the NRT,
imports ``numba.cpython.hashing`` and replaces ``Cache.load_overload`` with a
version that does just that before loading. A cache miss still compiles as
usual: Numba's compiler refreshes the target itself (``compile_extra``), with
the real BLAS check. If this Numba's ``Cache`` does not have the methods the
replacement calls, the target is refreshed in full instead, with the BLAS check
answered from the presence of the ``scipy`` package (no import) during it.
With the replacement, a loaded kernel's LLVM bitcode is parsed only when needed
(:mod:`service.numba_symbols`).
"""
from __future__ import annotations

import contextlib
import importlib.util
import sys
import threading

from . import numba_symbols

_lock = threading.Lock()
_done: list[bool] = []


def _runtime_ready(target_context) -> None:
    """What machine code loaded from the cache links against, beyond the target context
    itself: the NRT's functions and the hash secret (idempotent, cheap after the first
    call)."""
    import numba.cpython.hashing  # noqa: F401  (adds the _numba_hashsecret_* symbols)
    from numba.core.runtime import rtsys

    rtsys.initialize(target_context)


def _load_overload(self, sig, target_context):
    """``numba.core.caching.Cache.load_overload`` without the full target refresh."""
    _runtime_ready(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


def _blas_present() -> None:
    """Stand-in for ``numba.np.linalg.ensure_blas`` during a full refresh: ImportError,
    as the real one raises, if SciPy is not installed at all."""
    if importlib.util.find_spec("scipy") is None:
        raise ImportError("scipy 0.16+ is required for linear algebra")


@contextlib.contextmanager
def _deferred_blas_check():
    from numba.np import linalg

    real = linalg.ensure_blas
    linalg.ensure_blas = _blas_present
    try:
        yield
    finally:
        linalg.ensure_blas = real


def _full_refresh(target_context) -> None:
    """The fallback: Numba's own refresh, without importing SciPy."""
    with _deferred_blas_check():
        target_context.refresh()


def init_numba_target() -> bool:
    """Make this process load kernels from Numba's disk cache without the target refresh.

    Returns
    -------
    bool
        True if this call did it, False if an earlier call had (nothing to do).

    Examples
    --------
    >>> init_numba_target() in (True, False)
    True
    >>> from numba.core import caching
    >>> caching.Cache.load_overload is _load_overload
    True
    """
    with _lock:
        if _done:
            return False
        from numba.core import caching
        from numba.core.registry import cpu_target

        ctx = cpu_target.target_context   # builds it: helper symbols, C math functions
        if all(hasattr(caching.Cache, a) for a in ("_guard_against_spurious_io_errors",
                                                   "_load_overload", "load_overload")):
            _runtime_ready(ctx)
            caching.Cache.load_overload = _load_overload
            numba_symbols.install()     # and without parsing the kernels' LLVM bitcode
        elif "numba.np.arraymath" not in sys.modules:    # not refreshed yet
            _full_refresh(ctx)
        _done.append(True)
        return True
