"""Modules imported on first use: ``from aadrisk._lazy import pandas as pd``.

pandas (and the pyarrow it loads) costs about half a second to import; the
library needs it only to build reports, and a process that never builds one
(the HTTP service answers from NumPy arrays) should not pay for it at start-up.
"""
from __future__ import annotations

import importlib


class LazyModule:
    """A stand-in for module ``name`` that imports it on the first attribute access.

    Examples
    --------
    >>> m = LazyModule("json")
    >>> m.dumps([1])
    '[1]'
    """

    def __init__(self, name: str):
        self.__dict__["_name"] = name

    def _load(self):
        module = self.__dict__.get("_module")
        if module is None:
            module = self.__dict__["_module"] = importlib.import_module(self._name)
        return module

    def __getattr__(self, attr: str):
        return getattr(self._load(), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


pandas = LazyModule("pandas")
