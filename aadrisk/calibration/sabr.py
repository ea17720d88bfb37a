"""SABR calibration per expiry (alpha, rho, nu; beta fixed), all expiries in lockstep.

Residuals are in implied-vol space: ``r_i = sabr_vol(F_e, K_i, T_e; alpha_e, beta, nu_e,
rho_e) - sigma_i^mkt`` (Hagan's lognormal vol *is* a Black implied vol, so no inversion is
needed).  The ``E`` expiries are ``E`` independent least-squares problems solved in
lockstep by the batched :func:`~aadrisk.calibration.lm.levenberg_marquardt`: every
iteration evaluates all quotes of all expiries in **one** reverse sweep of the recorded
:func:`aadrisk.models.sabr_vol`, with each quote carrying its own expiry's parameters as
per-element inputs (so the per-element gradients are the rows of each expiry's Jacobian).

Output layout (market snapshot): ``models.sabr.<U>.expiries.<EXPIRY-ISO> = {alpha, beta, nu, rho}``,
labels ``model/sabr/<U>/<EXPIRY-ISO>/<param>``.
"""
from __future__ import annotations

import time

import numpy as np

from ..models.sabr import sabr_vol
from ..tape.record import record
from ._common import CalibrationError, check_calendar, equity_inputs, free_mask
from .lm import levenberg_marquardt
from .report import CalibrationResult

__all__ = ["PARAMS", "SabrProblem", "calibrate_sabr", "sabr_vol_program"]

PARAMS = ("alpha", "nu", "rho")
_PROG = {}


def sabr_vol_program():
    if "vol" not in _PROG:
        _PROG["vol"] = record(sabr_vol, name="sabr_vol")
    return _PROG["vol"]


class SabrProblem:
    """Quotes of all expiries, padded to ``E x Nmax`` (padding has weight 0)."""

    def __init__(self, quotes, market=None, *, beta=1.0, spot=None, rate=None, div=None):
        if not 0.0 <= beta <= 1.0:
            raise CalibrationError(f"SABR beta = {beta}: must be in [0, 1]")
        if spot is None:
            spot, rate, div = equity_inputs(quotes, market)
        a = quotes.arrays()
        t = a["t"]
        rate = np.broadcast_to(np.asarray(rate, float), t.shape)
        div = np.broadcast_to(np.asarray(div, float), t.shape)
        self.spot, self.rate, self.div = float(spot), rate, div
        self.quotes = quotes
        self.beta = float(beta)
        self.expiries = quotes.expiries
        E = len(self.expiries)
        groups = {e: [] for e in self.expiries}
        for n, q in enumerate(quotes.quotes):
            groups[q.expiry].append(n)
        nmax = max(len(v) for v in groups.values())
        self.E, self.nmax = E, nmax
        self.index = np.zeros((E, nmax), dtype=int)      # quote index per slot
        self.mask = np.zeros((E, nmax), dtype=bool)
        for e, (exp, idx) in enumerate(groups.items()):
            self.index[e, :len(idx)] = idx
            self.index[e, len(idx):] = idx[0]
            self.mask[e, :len(idx)] = True
        fwd_q = self.spot * np.exp((rate - div) * t)
        self.forward = fwd_q[self.index]                  # (E, nmax), constant per row
        self.t = t[self.index]
        self.strike = a["strike"][self.index]
        self.vol = a["vol"][self.index]
        self.weight = np.where(self.mask, a["weight"][self.index], 0.0)
        self.prog = sabr_vol_program()

    def inputs(self, X) -> dict:
        X = np.asarray(X, float)
        n = self.E * self.nmax
        d = {"forward": self.forward.ravel(), "strike": self.strike.ravel(),
             "expiry": self.t.ravel(), "beta": self.beta}
        for k, name in enumerate(PARAMS):
            d[name] = np.repeat(X[:, k], self.nmax)
        assert len(d["alpha"]) == n
        return d

    def model_vols(self, X) -> np.ndarray:
        return self.prog.value(self.inputs(X)).value.reshape(self.E, self.nmax)

    def residuals(self, X):
        res = self.prog.grad(self.inputs(X), wrt=list(PARAMS))
        v = res.value.reshape(self.E, self.nmax)
        J = np.stack([res.grad[n].reshape(self.E, self.nmax) for n in PARAMS], axis=-1)
        return v - self.vol, J

    def hessians(self, X) -> np.ndarray:
        """(E, nmax, 3, 3) second derivatives of each model vol."""
        H = self.prog.hessian(self.inputs(X), list(PARAMS))
        out = np.stack([np.stack([np.asarray(H[a][b]) for b in PARAMS], axis=-1)
                        for a in PARAMS], axis=1)        # (n, 3, 3)
        return out.reshape(self.E, self.nmax, 3, 3)


def initial_guess(p: SabrProblem) -> np.ndarray:
    """alpha from the vol nearest the money, nu 0.5, rho from the sign of the skew."""
    X = np.empty((p.E, 3))
    for e in range(p.E):
        m = p.mask[e]
        y = np.log(p.strike[e, m] / p.forward[e, 0])
        atm = p.vol[e, m][np.argmin(np.abs(y))]
        slope = np.polyfit(y, p.vol[e, m], 1)[0] if m.sum() >= 2 else 0.0
        X[e] = [atm * p.forward[e, 0] ** (1.0 - p.beta), 0.5,
                float(np.clip(slope / max(atm, 1e-4), -0.7, 0.7))]
    return X


def calibrate_sabr(quotes, market=None, *, beta=1.0, x0=None, max_iter=100, gtol=1e-12,
                   check_arbitrage=True, spot=None, rate=None, div=None,
                   bounds=None) -> CalibrationResult:
    """Fit SABR (alpha, nu, rho) per expiry with ``beta`` fixed.

    ``x0``: optional dict ``{alpha?, nu?, rho?}`` applied to every expiry.  Each expiry
    needs at least 3 quotes with positive weight.
    """
    t0 = time.perf_counter()
    quotes.require_strikes(3, "SABR (alpha, nu, rho)")
    p = SabrProblem(quotes, market, beta=beta, spot=spot, rate=rate, div=div)
    if check_arbitrage:
        check_calendar(quotes, p.spot, p.rate, p.div)
    X = initial_guess(p)
    for k, v in (x0 or {}).items():
        if k not in PARAMS:
            raise CalibrationError(f"initial guess: unknown SABR parameter {k!r}; "
                                   f"expected {list(PARAMS)}")
        X[:, PARAMS.index(k)] = float(v)
    b = {"alpha": (1e-8, np.inf), "nu": (1e-4, 10.0), "rho": (-0.999, 0.999)}
    b.update(bounds or {})
    lo = np.array([b[k][0] for k in PARAMS])
    hi = np.array([b[k][1] for k in PARAMS])
    res = levenberg_marquardt(p.residuals, X, weights=p.weight, lower=lo, upper=hi,
                              max_iter=max_iter, gtol=gtol)
    secs = time.perf_counter() - t0
    u = quotes.underlying
    N = len(quotes.quotes)
    model_vals = np.empty(N)
    model_vals[p.index[p.mask]] = (res.residuals + p.vol)[p.mask]
    params = {}
    labels = []
    for e, exp in enumerate(p.expiries):
        iso = exp.isoformat()
        params[iso] = {"alpha": float(res.x[e, 0]), "beta": p.beta, "nu": float(res.x[e, 1]),
                       "rho": float(res.x[e, 2])}
        labels += [f"model/sabr/{u}/{iso}/{k}" for k in PARAMS]
    bad = [f"{p.expiries[e].isoformat()}: {res.message[e]}" for e in range(p.E)
           if not res.converged[e]]
    msg = "; ".join(bad) if bad else "; ".join(sorted(set(res.message)))
    free = free_mask(res.x, lo, hi)

    def state():
        return {"X": res.x, "J": res.jacobian, "r": res.residuals, "w": p.weight,
                "H": p.hessians(res.x), "free": free, "index": p.index, "mask": p.mask}

    return CalibrationResult(
        model="sabr", name=u, params=params, labels=quotes.labels,
        market=np.array([q.vol for q in quotes.quotes]), model_vals=model_vals,
        weights=np.array([q.weight for q in quotes.quotes]),
        groups=[q.expiry.isoformat() for q in quotes.quotes],
        x_axis=np.array([q.strike for q in quotes.quotes]),
        iterations=int(res.iterations.max()), seconds=secs, converged=bool(res.converged.all()),
        message=msg, n_evals=res.n_evals,
        extra={"param_labels": labels, "state": state, "problem": p, "lm": res,
               "iterations_per_expiry": res.iterations})
