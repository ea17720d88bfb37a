"""Math functions that work on floats, NumPy arrays and recorded tape values alike.

A pricer written with these functions runs unchanged on plain numbers (for a
quick check) and on :class:`~aadrisk.tape.record.Var` values (recorded for
AAD).  On tape values each call records one primitive of
:data:`aadrisk.tape.primitives.TABLE` or a short combination of them.

Smoothing widths are in the units of the argument: ``smooth_step(x, w)``
rises from 0.12 to 0.88 over ``[-2w, 2w]``; ``smooth_max(a, b, w)`` exceeds
``max(a, b)`` by at most ``w log 2``.

Examples
--------
>>> from aadrisk import math as am
>>> round(float(am.norm_cdf(1.0)), 10), float(am.maximum(2.0, 3.0))
(0.8413447461, 3.0)
"""
from __future__ import annotations

import builtins
import math as _m

import numpy as np

from .tape import scalar as _s
from .tape.record import gather as _gather_var
from .tape.record import Var, apply

__all__ = ["abs", "atan", "atan2", "cos", "erf", "exp", "floor", "gather", "log", "logical_and", "logical_not", "logical_or",
           "maximum", "minimum", "norm_cdf", "norm_pdf", "pow", "select", "sigmoid", "sin",
           "smooth_max", "smooth_step", "softplus", "sqrt", "stop_gradient", "tanh", "where"]


def _any_var(*xs):
    return builtins.any(isinstance(x, Var) for x in xs)


def _vec(fn):
    vf = np.vectorize(fn, otypes=[float])

    def call(*args):
        if builtins.all(np.ndim(a) == 0 for a in args):
            return fn(*(float(a) for a in args))
        return vf(*args)
    return call


_erf = _vec(_m.erf)
_ncdf = _vec(_s.norm_cdf.py_func)
_sigm = _vec(_s.sigmoid.py_func)
_splus = _vec(_s.softplus.py_func)


def _unary(name, numpy_fn, doc):
    def f(x):
        return apply(name, x) if isinstance(x, Var) else numpy_fn(x)
    f.__name__ = name
    f.__doc__ = doc
    return f


exp = _unary("exp", np.exp, "Exponential.")
log = _unary("log", np.log, "Natural logarithm.")
sqrt = _unary("sqrt", np.sqrt, "Square root.")
abs = _unary("abs", np.abs, "Absolute value (derivative sign(x), 0 at 0).")  # noqa: A001
sin = _unary("sin", np.sin, "Sine (radians).")
cos = _unary("cos", np.cos, "Cosine (radians).")
tanh = _unary("tanh", np.tanh, "Hyperbolic tangent.")
erf = _unary("erf", _erf, "Error function.")
norm_cdf = _unary("norm_cdf", _ncdf, "Standard normal distribution function.")
norm_pdf = _unary("norm_pdf", lambda x: np.exp(-0.5 * np.square(x)) / _m.sqrt(2 * _m.pi),
                  "Standard normal density.")
stop_gradient = _unary("stop_gradient", lambda x: x, "Identity whose derivative is zero.")


floor = _unary("floor", np.floor, "Largest integer <= x (derivative zero; a bucket index).")


def gather(values, index):
    """``values[clip(floor(index), 0, len(values) - 1)]``: a table lookup (see
    :func:`aadrisk.tape.record.gather`); the derivative goes to the entry read."""
    values = list(values)
    if _any_var(index, *values):
        return _gather_var(values, index)
    top = len(values) - 1
    x = np.asarray(index, dtype=float)
    r = np.where(~(x > 0.0), 0, np.where(x >= top, top, np.floor(np.nan_to_num(x)))).astype(int)
    out = np.asarray(values, dtype=float)[r]
    return float(out) if out.ndim == 0 else out


def pow(a, b):  # noqa: A001
    """``a ** b``; for tape values with variable ``b`` it needs ``a > 0``."""
    return a ** b


def atan2(y, x):
    """Angle of the point ``(x, y)`` in radians, in (-pi, pi] (branch cut on x < 0, y = 0)."""
    if _any_var(y, x):
        return apply("atan2", y, x)
    return np.arctan2(y, x)


def atan(x):
    """Arc tangent in radians."""
    return atan2(x, 1.0)


def maximum(a, b):
    """Elementwise maximum (derivative to ``a`` at ties)."""
    if _any_var(a, b):
        return apply("max", a, b)
    return np.maximum(a, b)


def minimum(a, b):
    """Elementwise minimum (derivative to ``a`` at ties)."""
    if _any_var(a, b):
        return apply("min", a, b)
    return np.minimum(a, b)


def where(cond, a, b):
    """``a`` where ``cond`` is true (non-zero), else ``b``; the derivative follows the choice."""
    if _any_var(cond, a, b):
        return apply("where", a, b, cond)
    return np.where(cond, a, b)


def select(conds, choices, default=0.0):
    """First choice whose condition holds, else ``default`` (like :func:`numpy.select`)."""
    out = default
    for cond, choice in reversed(list(zip(conds, choices))):
        out = where(cond, choice, out)
    return out


def sigmoid(x, width=1.0):
    """Logistic ``1 / (1 + exp(-x / width))``."""
    if width <= 0:
        raise ValueError(f"sigmoid width must be positive, got {width}")
    return apply("sigmoid", x, p=width) if isinstance(x, Var) else _sigm(x, width)


smooth_step = sigmoid  # the smoothed indicator 1{x > 0}


def softplus(x, width=1.0):
    """Smooth ``max(x, 0)``: ``width * log(1 + exp(x / width))``."""
    if width <= 0:
        raise ValueError(f"softplus width must be positive, got {width}")
    return apply("softplus", x, p=width) if isinstance(x, Var) else _splus(x, width)


def smooth_max(a, b, width):
    """Smooth ``max(a, b) = b + softplus(a - b, width)``."""
    return b + softplus(a - b, width)


def logical_and(m1, m2):
    """And of 0/1 masks."""
    return m1 * m2


def logical_or(m1, m2):
    """Or of 0/1 masks."""
    return maximum(m1, m2)


def logical_not(m):
    """Not of a 0/1 mask."""
    return 1.0 - m
