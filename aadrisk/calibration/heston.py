"""Heston calibration to an implied-vol surface, with the AAD Jacobian.

Residuals are in **implied-vol space**: ``r_i = sigma_BS(heston_price(theta; K_i, T_i)) -
sigma_i^mkt`` (Black vol of the out-of-the-money option, through
:func:`aadrisk.implied_vol_black`, whose derivative is the implicit-function-theorem
one), weighted by the quote weights.  The residual function is recorded once; all
quotes are one batch with **per-element copies of the five parameters**, so one
reverse sweep returns the full ``N x 5`` Jacobian (a parameter given as a per-element
array gets a per-element gradient).  :meth:`HestonProblem.fd_jacobian` gives the
central finite-difference Jacobian (10 value sweeps) for comparison.

Parameters (names as in the market snapshot ``models.heston.<U>``): ``v0``, ``kappa``,
``theta``, ``xi`` (vol of variance, ``sigma`` of :func:`aadrisk.models.heston_price`),
``rho``.  Default bounds :data:`BOUNDS`; the optional Feller condition
``2 kappa theta >= xi^2`` is enforced by projecting ``xi`` down to ``sqrt(2 kappa theta)``.
"""
from __future__ import annotations

import time

import numpy as np

from .. import math as am
from ..models.heston import heston_price
from ..tape.custom import implied_vol_black
from ..tape.record import record
from ._common import CalibrationError, check_calendar, equity_inputs, free_mask
from .lm import levenberg_marquardt
from .report import CalibrationResult

__all__ = ["PARAMS", "BOUNDS", "HestonProblem", "calibrate_heston", "heston_iv"]

PARAMS = ("v0", "kappa", "theta", "xi", "rho")
_TAPE = ("v0", "kappa", "theta", "sigma", "rho")
BOUNDS = {"v0": (1e-4, 4.0), "kappa": (1e-2, 20.0), "theta": (1e-4, 4.0), "xi": (1e-2, 5.0),
          "rho": (-0.999, 0.999)}


def heston_iv(*, spot, strike, expiry, rate, div, is_call, v0, kappa, theta, sigma, rho):
    """Black implied vol of the Heston price (floats or tape values)."""
    p = heston_price(spot=spot, strike=strike, expiry=expiry, rate=rate, div=div, v0=v0,
                     kappa=kappa, theta=theta, sigma=sigma, rho=rho, is_call=is_call)
    return implied_vol_black(price=p, forward=spot * am.exp((rate - div) * expiry), strike=strike,
                             expiry=expiry, discount=am.exp(-rate * expiry), is_call=is_call)


_PROGRAMS = {}


def heston_iv_program():
    """The recorded :func:`heston_iv` (recorded once per process)."""
    if "iv" not in _PROGRAMS:
        _PROGRAMS["iv"] = record(heston_iv, name="heston_iv")
    return _PROGRAMS["iv"]


def heston_price_program():
    """The recorded :func:`aadrisk.models.heston_price` (for trades)."""
    if "price" not in _PROGRAMS:
        _PROGRAMS["price"] = record(heston_price, name="heston_price")
    return _PROGRAMS["price"]


class HestonProblem:
    """The residuals of one surface: market inputs per quote, Jacobians and Hessians."""

    def __init__(self, quotes, market=None, *, spot=None, rate=None, div=None):
        if spot is None:
            spot, rate, div = equity_inputs(quotes, market)
        self.quotes = quotes
        a = quotes.arrays()
        self.n = len(a["t"])
        self.spot = float(spot)
        self.t, self.strike, self.vol, self.weight = a["t"], a["strike"], a["vol"], a["weight"]
        self.rate = np.broadcast_to(np.asarray(rate, float), self.t.shape).copy()
        self.div = np.broadcast_to(np.asarray(div, float), self.t.shape).copy()
        fwd = self.spot * np.exp((self.rate - self.div) * self.t)
        self.is_call = (self.strike >= fwd).astype(float)      # out-of-the-money option
        self.prog = heston_iv_program()

    def inputs(self, x) -> dict:
        x = np.asarray(x, float).reshape(-1)
        d = {"spot": self.spot, "strike": self.strike, "expiry": self.t, "rate": self.rate,
             "div": self.div, "is_call": self.is_call}
        for name, v in zip(_TAPE, x):
            d[name] = np.full(self.n, float(v))
        return d

    def model_vols(self, x) -> np.ndarray:
        return self.prog.value(self.inputs(x)).value

    def jacobian(self, x):
        """Model vols and their ``N x 5`` Jacobian from one reverse sweep."""
        res = self.prog.grad(self.inputs(x), wrt=list(_TAPE))
        return res.value, np.stack([res.grad[n] for n in _TAPE], axis=1)

    def fd_jacobian(self, x, rel=1e-5):
        """Central finite differences: 10 value sweeps."""
        x = np.asarray(x, float).reshape(-1)
        J = np.empty((self.n, len(x)))
        for k in range(len(x)):
            h = rel * max(abs(x[k]), 1e-2)
            xp, xm = x.copy(), x.copy()
            xp[k] += h
            xm[k] -= h
            J[:, k] = (self.model_vols(xp) - self.model_vols(xm)) / (2 * h)
        return J

    def residuals(self, X):
        """For :func:`levenberg_marquardt`: ``X`` (1, 5) -> ``r`` (1, N), ``J`` (1, N, 5)."""
        v, J = self.jacobian(X[0])
        return (v - self.vol)[None], J[None]

    def hessians(self, x) -> np.ndarray:
        """``(N, 5, 5)`` second derivatives of each model vol (forward-over-reverse)."""
        H = self.prog.hessian(self.inputs(x), list(_TAPE))
        return np.stack([np.stack([np.asarray(H[a][b]) for b in _TAPE], axis=-1) for a in _TAPE],
                        axis=1)


def initial_guess(p: HestonProblem) -> np.ndarray:
    """ATM-ish short and long vols for ``v0`` / ``theta``; kappa 1.5, xi 0.6, rho from the skew."""
    t = p.t
    fwd = p.spot * np.exp((p.rate - p.div) * t)
    y = np.log(p.strike / fwd)
    short = t == t.min()
    long_ = t == t.max()
    atm_s = p.vol[short][np.argmin(np.abs(y[short]))]
    atm_l = p.vol[long_][np.argmin(np.abs(y[long_]))]
    skew = 0.0
    if short.sum() >= 2:
        skew = np.polyfit(y[short], p.vol[short], 1)[0]
    rho = float(np.clip(-0.7 if skew < -0.05 else (0.0 if abs(skew) <= 0.05 else 0.3), -0.9, 0.9))
    return np.array([atm_s ** 2, 1.5, atm_l ** 2, 0.6, rho])


def calibrate_heston(quotes, market=None, *, x0=None, feller=False, bounds=None, max_iter=100,
                     gtol=1e-10, ftol=1e-7, xtol=1e-9, check_arbitrage=True, problem=None,
                     spot=None, rate=None, div=None) -> CalibrationResult:
    """Fit Heston to the quotes (:class:`~aadrisk.calibration.quotes.SurfaceQuotes`).

    Parameters
    ----------
    quotes : SurfaceQuotes; market : MarketData (spot, discount curve, dividend yield) --
        or give ``spot``, ``rate``, ``div`` (per quote) directly.
    x0 : dict or sequence of ``v0, kappa, theta, xi, rho`` (default :func:`initial_guess`).
    feller : enforce ``2 kappa theta >= xi^2``.
    bounds : dict param -> (lo, hi), overriding :data:`BOUNDS`.
    gtol, ftol, xtol : convergence tolerances of :func:`levenberg_marquardt`.  Default
        ``ftol = 1e-7``: stop when an accepted step lowers the cost by less than 1e-7
        relative (the RMSE by 5e-8).  On surfaces with very short expiries and far wings
        the quadrature's fixed nodes make the AAD Jacobian differ slightly from the
        derivative of the computed values, and LM then crawls linearly along the flat
        kappa valley at the 1e-8 level; pass tighter tolerances (e.g. 1e-14) when
        comparing with bump-and-recalibrate.
    """
    t0 = time.perf_counter()
    if len([q for q in quotes.quotes if q.weight > 0]) < len(PARAMS):
        raise CalibrationError(f"{quotes.underlying}: Heston needs at least 5 quotes with "
                               f"positive weight, got {len(quotes.quotes)}")
    p = problem or HestonProblem(quotes, market, spot=spot, rate=rate, div=div)
    if check_arbitrage:
        check_calendar(quotes, p.spot, p.rate, p.div)
    b = dict(BOUNDS)
    b.update(bounds or {})
    lo = np.array([b[k][0] for k in PARAMS])
    hi = np.array([b[k][1] for k in PARAMS])
    if x0 is None:
        x = initial_guess(p)
    elif isinstance(x0, dict):
        x = initial_guess(p)
        for k, v in x0.items():
            if k not in PARAMS:
                raise CalibrationError(f"initial guess: unknown Heston parameter {k!r}; "
                                       f"expected {list(PARAMS)}")
            x[PARAMS.index(k)] = float(v)
    else:
        x = np.asarray(x0, float)

    def project(X):
        if not feller:
            return X
        X = X.copy()
        cap = np.sqrt(2.0 * X[:, 1] * X[:, 2])
        X[:, 3] = np.minimum(X[:, 3], cap)
        return X

    res = levenberg_marquardt(p.residuals, x[None], weights=p.weight[None], lower=lo, upper=hi,
                              project=project, max_iter=max_iter, gtol=gtol,
                              ftol=ftol, xtol=xtol)
    xs = res.x[0]
    secs = time.perf_counter() - t0
    model_vols = res.residuals[0] + p.vol
    params = {k: float(v) for k, v in zip(PARAMS, xs)}
    u = quotes.underlying
    free = free_mask(xs, lo, hi)
    if feller:
        free[3] &= xs[3] < np.sqrt(2 * xs[1] * xs[2]) - 1e-12

    def state():
        return {"x": xs, "J": res.jacobian[0], "r": res.residuals[0], "w": p.weight,
                "H": p.hessians(xs), "free": free}

    return CalibrationResult(
        model="heston", name=u, params=params, labels=quotes.labels, market=p.vol.copy(),
        model_vals=model_vols, weights=p.weight.copy(),
        groups=[q.expiry.isoformat() for q in quotes.quotes], x_axis=p.strike.copy(),
        iterations=int(res.iterations[0]), seconds=secs, converged=bool(res.converged[0]),
        message=res.message[0], n_evals=res.n_evals,
        extra={"param_labels": [f"model/heston/{u}/{k}" for k in PARAMS], "state": state,
               "problem": p, "lm": res})
