"""Yield curves on pillar zero rates, with discount factors evaluated on the AAD tape.

A :class:`YieldCurve` is defined by pillar times ``t_1 < ... < t_n`` (years,
Act/365F from the valuation date) and pillar zero rates ``z_i``
(continuously compounded, per year): ``DF(t_i) = exp(-z_i t_i)``.

Interpolation (``method``):

* ``'loglinear_df'`` -- linear in ``log DF`` between the nodes
  ``(0, log 1), (t_1, -z_1 t_1), ...`` (piecewise-flat instantaneous
  forwards; QuantLib ``PiecewiseLogLinearDiscount``);
* ``'linear_zero'`` -- linear in the zero rate between pillars, flat zero
  ``z_1`` before ``t_1`` (QuantLib ``PiecewiseLinearZero``).

Extrapolation after ``t_n`` is at the flat **instantaneous forward** at
``t_n``, as QuantLib does with extrapolation enabled: for ``loglinear_df``
this continues the last forward; for ``linear_zero`` it is
``f = z_n + t_n (z_n - z_{n-1}) / (t_n - t_{n-1})`` (so the zero rate is *not*
flat beyond the last pillar).  Before ``t_1`` both methods have the flat zero
``z_1``.

Design of the tape evaluation
-----------------------------
Whatever the method and the region, ``-log DF(t)`` is **linear** in two pillar
zeros::

    -log DF(t) = a(t) * z[iL(t)] + b(t) * z[iR(t)]

with indices ``iL, iR`` and coefficients ``a, b`` that depend only on ``t`` and
the pillar times -- not on rates.  :func:`interp_coeffs` computes them once
with NumPy for all cashflow times of a book.  At pricing, the pillar zeros are
*gathered* per cashflow (``zL = z[iL]``, ``zR = z[iR]``; one NumPy fancy index)
and passed to the recorded program as per-element inputs; the tape computes
``DF = exp(-(a zL + b zR))`` (:func:`tape_df`), so a book of many instruments
of different maturities is one batch over one small program.  The reverse sweep
returns ``dV/dzL`` and ``dV/dzR`` per cashflow; :func:`scatter_pillars`
adds them back onto the pillar each one came from (``np.add.at``), giving
``dV/dz`` per trade and pillar, which carries the pillar's label.

Examples
--------
>>> import numpy as np
>>> c = YieldCurve("EUR", np.array([1.0, 2.0]), np.array([0.01, 0.02]))
>>> [round(float(x), 12) for x in c.discount(np.array([0.5, 1.0, 1.5, 3.0]))]
[0.995012479193, 0.990049833749, 0.975309912028, 0.932393819906]
>>> iL, iR, a, b = interp_coeffs(c.times, np.array([1.5]), c.method)
>>> float(tape_df(a[0], c.zeros[iL[0]], b[0], c.zeros[iR[0]])) == float(c.discount(1.5))
True
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import math as am

__all__ = ["METHODS", "YieldCurve", "interp_coeffs", "interp_coeffs_dt", "tape_df",
           "scatter_pillars"]

METHODS = ("loglinear_df", "linear_zero")


def interp_coeffs(times, t, method="loglinear_df"):
    """Pillar indices and coefficients with ``-log DF(t) = a z[iL] + b z[iR]``.

    Parameters
    ----------
    times : array (n,)
        Pillar times in years, strictly increasing, positive.
    t : array
        Times in years (any shape, ``t >= 0``).
    method : {'loglinear_df', 'linear_zero'}

    Returns
    -------
    iL, iR : int arrays shaped like ``t``
    a, b : float arrays shaped like ``t`` (years)

    Examples
    --------
    >>> iL, iR, a, b = interp_coeffs(np.array([1.0, 2.0]), np.array([0.5, 1.25]))
    >>> iL.tolist(), iR.tolist(), a.tolist(), b.tolist()
    ([0, 0], [0, 1], [0.5, 0.75], [0.0, 0.5])
    """
    if method not in METHODS:
        raise ValueError(f"unknown interpolation {method!r}; known: {', '.join(METHODS)}")
    T = np.asarray(times, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    n = T.shape[0]
    if n == 1:
        z = np.zeros(t.shape, dtype=np.int64)
        return z, z.copy(), t.copy(), np.zeros_like(t)
    # segment k spans [T[k], T[k+1]]; before T[0] and after T[-1] use the end segments
    k = np.clip(np.searchsorted(T, t, side="right") - 1, 0, n - 2)
    iL, iR = k, k + 1
    tL, tR = T[iL], T[iR]
    w = (tR - t) / (tR - tL)              # weight on the left pillar
    if method == "loglinear_df":
        a, b = w * tL, (1.0 - w) * tR
        # extrapolation beyond the last pillar: w < 0 continues the last segment in
        # log DF (flat last forward), which is already what the formula gives
    else:
        a, b = w * t, (1.0 - w) * t
        beyond = t > T[-1]
        if np.any(beyond):   # flat instantaneous forward f = z_n + t_n dz/dt at t_n
            tn, dT = T[-1], T[-1] - T[-2]
            tb = t[beyond]
            a[beyond] = -(tb - tn) * tn / dT
            b[beyond] = tb + (tb - tn) * tn / dT
    before = t < T[0]       # flat zero z_1 (both methods: log DF linear from (0, 0))
    a = np.where(before, t, a)
    b = np.where(before, 0.0, b)
    iR = np.where(before, 0, iR)
    return iL, iR, a, b


def interp_coeffs_dt(times, t, method="loglinear_df"):
    """:func:`interp_coeffs` and the Taylor coefficients of ``a``, ``b`` in ``t`` **as t
    decreases** (the valuation date moving forward).

    Within the interpolation segment of ``t`` the coefficients are polynomials of
    degree <= 2 in ``t``: ``a(t + d) = a + a1 d + a2 d^2`` (likewise ``b``), so a
    program can carry the time dependence of a discount factor on the tape (theta
    with the pillar zeros held: the curve as a function of time to maturity).  A time
    exactly on a pillar uses the segment to its **left** (the one ``t`` moves into as
    time passes): the same ``a z[iL] + b z[iR]``, the one-sided derivative theta needs.

    Returns
    -------
    iL, iR, a, b, a1, b1, a2, b2 : arrays shaped like ``t``

    Examples
    --------
    >>> out = interp_coeffs_dt(np.array([1.0, 2.0]), np.array([0.5, 1.5]), "linear_zero")
    >>> [x.tolist() for x in out[4:]]
    [[1.0, -1.0], [0.0, 2.0], [0.0, -1.0], [0.0, 1.0]]
    >>> iL, iR, a, b = interp_coeffs_dt(np.array([1.0, 2.0]), np.array([1.0]))[:4]
    >>> iL.tolist(), iR.tolist(), a.tolist(), b.tolist()     # on pillar 0: its left side
    ([0], [0], [1.0], [0.0])
    """
    if method not in METHODS:
        raise ValueError(f"unknown interpolation {method!r}; known: {', '.join(METHODS)}")
    T = np.asarray(times, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    n = T.shape[0]
    zero = np.zeros_like(t)
    if n == 1:
        z = np.zeros(t.shape, dtype=np.int64)
        return z, z.copy(), t.copy(), zero, np.ones_like(t), zero.copy(), zero.copy(), \
            zero.copy()
    k = np.clip(np.searchsorted(T, t, side="left") - 1, 0, n - 2)
    iL, iR = k, k + 1
    tL, tR = T[iL], T[iR]
    D = tR - tL
    w = (tR - t) / D
    if method == "loglinear_df":
        a, b = w * tL, (1.0 - w) * tR
        a1, b1 = -tL / D, tR / D
        a2, b2 = zero.copy(), zero.copy()
    else:
        a, b = w * t, (1.0 - w) * t
        a1, b1 = (tR - 2.0 * t) / D, (2.0 * t - tL) / D
        a2, b2 = -1.0 / D, 1.0 / D
        beyond = t > T[-1]
        tn, dT = T[-1], T[-1] - T[-2]
        a = np.where(beyond, -(t - tn) * tn / dT, a)
        b = np.where(beyond, t + (t - tn) * tn / dT, b)
        a1 = np.where(beyond, -tn / dT, a1)
        b1 = np.where(beyond, 1.0 + tn / dT, b1)
        a2 = np.where(beyond, 0.0, a2)
        b2 = np.where(beyond, 0.0, b2)
    before = t <= T[0]        # flat zero z_1 (both methods), including t == T[0]
    a = np.where(before, t, a)
    b = np.where(before, 0.0, b)
    iR = np.where(before, 0, iR)
    a1 = np.where(before, 1.0, a1)
    b1 = np.where(before, 0.0, b1)
    a2 = np.where(before, 0.0, a2)
    b2 = np.where(before, 0.0, b2)
    return iL, iR, a, b, a1, b1, a2, b2


def tape_df(a, zl, b, zr):
    """``exp(-(a zl + b zr))``: a discount factor from gathered pillar zeros.

    Works on floats, NumPy arrays and tape values (then ``zl``/``zr`` are
    the active inputs and ``a``/``b`` constants or per-element inputs).

    Examples
    --------
    >>> round(float(tape_df(1.0, 0.02, 0.0, 0.0)), 12)
    0.980198673307
    """
    return am.exp(-(a * zl + b * zr))


def scatter_pillars(n_rows, n_pillars, rows, idx, values, out=None):
    """Sum ``values`` into an ``(n_rows, n_pillars)`` array at ``(rows, idx)``.

    The adjoint of the gather ``zl = z[idx]``: gradients with respect to the
    gathered copies add up on the pillar they came from.

    Examples
    --------
    >>> scatter_pillars(1, 3, np.array([0, 0]), np.array([2, 2]), np.array([1.0, 0.5])).tolist()
    [[0.0, 0.0, 1.5]]
    """
    if out is None:
        out = np.zeros((n_rows, n_pillars))
    flat = out.reshape(-1)
    lin = (np.asarray(rows, dtype=np.int64) * n_pillars + np.asarray(idx, dtype=np.int64)).ravel()
    flat += np.bincount(lin, weights=np.asarray(values, dtype=np.float64).ravel(),
                        minlength=flat.shape[0])
    return out


@dataclass
class YieldCurve:
    """A yield curve on pillar zero rates.

    Attributes
    ----------
    name : str
        Curve name, e.g. ``'USD-SOFR'``.
    times : array (n,)
        Pillar times, years (Act/365F from the valuation date), increasing.
    zeros : array (n,)
        Continuously compounded zero rates at the pillars, per year.
    method : str
        ``'loglinear_df'`` or ``'linear_zero'`` (see module notes).
    labels : list of str
        One label per pillar (for risk reports).
    """

    name: str
    times: np.ndarray
    zeros: np.ndarray
    method: str = "loglinear_df"
    labels: list = field(default_factory=list)

    def __post_init__(self):
        self.times = np.asarray(self.times, dtype=np.float64)
        self.zeros = np.asarray(self.zeros, dtype=np.float64)
        if self.method not in METHODS:
            raise ValueError(f"curve {self.name}: unknown interpolation {self.method!r}")
        if self.times.ndim != 1 or self.times.shape != self.zeros.shape or self.times.size == 0:
            raise ValueError(f"curve {self.name}: times and zeros must be equal-length 1-d arrays")
        if not np.all(np.isfinite(self.times)) or np.any(self.times <= 0) or \
                np.any(np.diff(self.times) <= 0):
            raise ValueError(f"curve {self.name}: pillar times must be positive and strictly "
                             f"increasing, got {self.times.tolist()}")
        if not self.labels:
            self.labels = [f"{self.name}/{i}" for i in range(self.times.size)]

    def coeffs(self, t):
        """:func:`interp_coeffs` on this curve's pillars."""
        return interp_coeffs(self.times, t, self.method)

    def discount(self, t, zeros=None):
        """Discount factors at times ``t`` (years), NumPy; optional other pillar zeros."""
        z = self.zeros if zeros is None else np.asarray(zeros, dtype=np.float64)
        iL, iR, a, b = self.coeffs(t)
        return np.exp(-(a * z[iL] + b * z[iR]))

    def zero_rate(self, t):
        """Continuously compounded zero rate to ``t > 0`` (years), per year."""
        t = np.asarray(t, dtype=np.float64)
        return -np.log(self.discount(t)) / t
