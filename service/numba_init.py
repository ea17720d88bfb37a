"""Numba's compile target initialised without importing SciPy.

The first kernel a process loads from Numba's disk cache initialises the CPU
target, which imports ``numba.np.arraymath``; that module checks at import time
whether BLAS is available by importing ``scipy.linalg`` (``ensure_blas``), about
0.2-0.4 s of CPU. None of the service's kernels calls BLAS: they are loops over
a tape. :func:`init_numba_target` initialises the target with that one check
answered from the presence of the ``scipy`` package (``importlib.util.find_spec``,
no import), then restores Numba's ``ensure_blas``: a kernel that does use BLAS
(``np.dot`` and friends) still calls the real one when it is compiled, which
imports SciPy and runs Numba's own checks then.
"""
from __future__ import annotations

import contextlib
import importlib.util
import threading

_lock = threading.Lock()


def _blas_present() -> None:
    """Stand-in for ``numba.np.linalg.ensure_blas`` during the target's initialisation:
    ImportError, as the real one raises, if SciPy is not installed at all."""
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


def init_numba_target() -> bool:
    """Initialise Numba's CPU target (registries of implementations) without SciPy.

    Returns
    -------
    bool
        True if this call initialised it, False if ``numba.np.arraymath`` was already
        imported (nothing to do; SciPy may then be loaded already).

    Examples
    --------
    >>> init_numba_target() in (True, False)
    True
    >>> import numba.np.arraymath as am
    >>> am._HAVE_BLAS == (importlib.util.find_spec("scipy") is not None)
    True
    """
    import sys

    with _lock:
        if "numba.np.arraymath" in sys.modules:
            return False
        from numba.core.registry import cpu_target

        with _deferred_blas_check():
            cpu_target.target_context.refresh()
        return True
