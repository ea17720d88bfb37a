"""aadrisk: a risk engine whose Greeks come from adjoint algorithmic differentiation.

Pricing code is written once in plain Python with :mod:`aadrisk.math`, recorded
on a tape by :func:`record`, and evaluated by Numba kernels over a batch of
trades or Monte Carlo paths, with reverse, forward and second-order modes.
"""
from .math import (abs, atan, atan2, cos, erf, exp, floor, gather, log, maximum, minimum, norm_cdf, norm_pdf, pow, select,
                   sigmoid, sin, smooth_max, smooth_step, softplus, sqrt, stop_gradient, tanh,
                   where)
from .tape.custom import custom_derivative, implied_vol_bachelier, implied_vol_black
from .tape import (InputError, NonFiniteError, Program, Result, TapeControlFlowError, TapeError,
                   TapeScopeError, Var, normal, record, scan, table)

__version__ = "0.1.0"

__all__ = [
    "abs", "atan", "atan2", "floor", "cos", "erf", "exp", "log", "maximum", "minimum", "norm_cdf",
    "norm_pdf", "pow", "select", "sigmoid", "sin", "smooth_max", "smooth_step", "softplus",
    "sqrt", "stop_gradient", "tanh", "where", "custom_derivative", "implied_vol_bachelier",
    "implied_vol_black", "InputError", "NonFiniteError", "Program", "Result",
    "TapeControlFlowError", "TapeError", "TapeScopeError", "Var", "gather", "normal", "record",
    "scan", "table",
]
