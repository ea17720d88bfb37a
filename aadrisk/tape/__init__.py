"""The AAD core: recording (:mod:`record`), the primitive table
(:mod:`primitives`), compiled kernels (:mod:`kernels`), the program API
(:mod:`program`) and the pure-Python reference evaluator (:mod:`reference`)."""
from .program import InputError, NonFiniteError, Program, Result
from .record import (TapeControlFlowError, TapeError, TapeScopeError, Var, gather, normal,
                     record, scan, table)

__all__ = ["InputError", "NonFiniteError", "Program", "Result", "TapeControlFlowError",
           "TapeError", "TapeScopeError", "Var", "gather", "normal", "record", "scan", "table"]
