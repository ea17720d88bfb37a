"""Imports without the garbage collector's scans: :func:`imports_without_gc`.

Importing the service (FastAPI, Pydantic, NumPy, Numba, aadrisk) creates hundreds
of thousands of long-lived objects and next to no garbage, yet the collector runs
~200 times meanwhile and once more in full during the warm-up: about 0.25 s of
CPU of a restart (measured 2026-11-27, loaded 2-core machine). The context
manager pauses it during the imports, then moves every object alive to the
permanent generation (``gc.freeze``), which is where :func:`service.app.tune_gc`
puts the objects alive at start-up anyway; without the freeze, the first
collection after the pause would scan them all at once. Reference counting still
frees frozen objects; only a reference cycle among them is never collected.
"""
from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def imports_without_gc():
    """Pause the collector for the block; on success, freeze the objects alive and
    restore its previous state (enabled or not).

    Examples
    --------
    >>> with imports_without_gc():
    ...     import json
    >>> gc.get_freeze_count() > 0
    True
    >>> gc.unfreeze()
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
