"""American and Bermudan options by Longstaff-Schwartz, with Greeks for a fixed exercise rule.

Two passes, as in Longstaff and Schwartz (2001):

1. **Regression** on a separate pre-simulation (its own seed): the spot at
   every exercise date on every path, from the same recorded model; backwards
   over the dates, the discounted realised cash flows of in-the-money paths are
   regressed on ``1, x, x^2`` (``x = S / K``) to estimate the continuation value.
2. **Pricing** on fresh paths with the rule held fixed: exercise at the first
   date where the intrinsic value is positive and exceeds the fitted
   continuation value.  The coefficients are inputs of the recorded program
   and the exercise decision is a comparison (derivative zero), so the
   pathwise Greeks are those of the option *with the exercise rule held fixed*
   -- by the envelope theorem, the first-order Greeks of the optimal rule.

The regression pass biases the price slightly low (a sub-optimal rule); the
independent pricing paths keep the estimate free of the foresight bias.

Examples
--------
>>> import numpy as np
>>> from aadrisk.mc import GBM
>>> lsm = LongstaffSchwartz(GBM(), n_steps=10, exercise_steps=range(1, 11))
>>> inp = {"spot": 100.0, "div": 0.0, "_dt": np.full(10, 0.1), "_r": np.full(10, 0.06),
...        "_vol": np.full(10, 0.2)}
>>> res = lsm.grad(inp, strike=100.0, phi=-1.0, paths=20_000, seed=1)
>>> 5.5 < res.value["american"] < 6.3     # American put, ~5.9 (Bermudan, 10 dates)
True
"""
from __future__ import annotations

import numpy as np

from .. import math as am
from .simulate import MonteCarlo

__all__ = ["LongstaffSchwartz", "exercise_pv", "fit_rule"]


def exercise_pv(dates, b):
    """Discounted value of exercising by a fitted rule, on the tape.

    ``dates``: per exercise date in order, ``(x, discount, intrinsic)`` (the last
    date always exercises); ``b``: the coefficients ``b<j>_<k>`` of the continuation
    value ``b0 + b1 x + b2 x^2``.  The exercise decision is a comparison
    (derivative zero): Greeks of the rule held fixed.
    """
    dates = list(dates)
    alive, pv = 1.0, 0.0
    for k, (x, df, intrinsic) in enumerate(dates):
        if k == len(dates) - 1:
            return pv + alive * df * intrinsic
        cont = b[f"b0_{k}"] + b[f"b1_{k}"] * x + b[f"b2_{k}"] * x * x
        ex = am.logical_and(intrinsic > 0.0, intrinsic > cont)
        pv = pv + alive * ex * df * intrinsic
        alive = alive * (1.0 - ex)
    return pv


def fit_rule(X, intrinsic, D):
    """Continuation-value coefficients ``b<j>_<k>`` by backward regression (numpy).

    Per exercise date ``k`` (arrays over the pre-simulated paths): the regression
    variable ``X[k]``, the intrinsic value ``intrinsic[k]`` and the discount factor
    ``D[k]`` to today.  In-the-money paths' realised discounted cash flows are
    regressed on ``1, x, x^2``; with fewer than three, the date never exercises.
    """
    m = len(X)
    cash = intrinsic[-1] * D[-1]
    coef = {f"b{j}_{m - 1}": 0.0 for j in range(3)}
    for k in range(m - 2, -1, -1):
        itm = intrinsic[k] > 0
        if itm.sum() >= 3:
            x = X[k][itm]
            A = np.stack([np.ones_like(x), x, x * x], axis=1)
            y = cash[itm] / D[k][itm]                                  # value at date k
            b, *_ = np.linalg.lstsq(A, y, rcond=None)
            idx = np.flatnonzero(itm)[intrinsic[k][itm] > A @ b]
            cash[idx] = intrinsic[k][idx] * D[k][idx]
        else:
            b = np.array([1e300, 0.0, 0.0])                             # never exercise
        coef.update({f"b{j}_{k}": float(b[j]) for j in range(3)})
    return coef


class LongstaffSchwartz:
    """Bermudan (or, with every step an exercise date, American) call/put under ``model``.

    Parameters
    ----------
    model : a single-asset model of :mod:`aadrisk.mc.models`
    n_steps : int
    exercise_steps : steps (1..n_steps) at which exercise is allowed; the last
        step is always one
    """

    def __init__(self, model, n_steps: int, exercise_steps):
        steps = sorted({int(s) for s in exercise_steps} | {int(n_steps)})
        if steps[0] < 1:
            raise ValueError("exercise steps must be in 1..n_steps")
        self.steps, self.n_steps, self.model = tuple(steps), int(n_steps), model
        m = len(steps)
        obs = {f"s{k}": (_observe(s), ()) for k, s in enumerate(steps)}
        obs.update({f"d{k}": (_discount(s), ()) for k, s in enumerate(steps)})
        self._pre = MonteCarlo(model, obs, n_steps, name="lsm regression paths")
        coef = tuple(f"b{j}_{k}" for k in range(m) for j in range(3))
        self._price = MonteCarlo(model, {"american": (self._payoff(), ("strike", "phi") + coef)},
                                 n_steps, name="lsm pricing")

    def _payoff(self):
        steps = self.steps

        def payoff(path, *, strike, phi, **b):
            return exercise_pv(((path.at(s) / strike, path.discount_to(s),
                                 am.maximum(phi * (path.at(s) - strike), 0.0)) for s in steps), b)
        return payoff

    def regress(self, inputs, *, strike, phi, paths: int, seed: int):
        """Continuation-value coefficients per exercise date from a pre-simulation."""
        res = self._pre.program.value(self._pre._inputs(inputs), batch=paths, seed=seed)
        m = len(self.steps)
        S = np.array([res.value[f"s{k}"] for k in range(m)])           # (m, paths)
        D = np.array([res.value[f"d{k}"] for k in range(m)])           # discount factors
        return fit_rule(S / strike, np.maximum(phi * (S - strike), 0.0), D)

    def _inputs(self, inputs, strike, phi, paths, seed, coef):
        if coef is None:
            coef = self.regress(inputs, strike=strike, phi=phi, paths=paths, seed=seed + 1)
        return {**inputs, "american.strike": strike, "american.phi": phi,
                **{f"american.{k}": v for k, v in coef.items()}}

    def value(self, inputs, *, strike, phi, paths: int, seed: int = 0, coef=None, **kw):
        """Price with the rule fitted on ``paths`` pre-simulated paths of seed ``seed + 1``."""
        return self._price.value(self._inputs(inputs, strike, phi, paths, seed, coef),
                                 paths=paths, seed=seed, **kw)

    def grad(self, inputs, *, strike, phi, paths: int, seed: int = 0, coef=None, **kw):
        """Price and pathwise Greeks with the fitted exercise rule held fixed."""
        return self._price.grad(self._inputs(inputs, strike, phi, paths, seed, coef),
                                paths=paths, seed=seed, **kw)


def _observe(step):
    def f(path):
        return path.at(step)
    return f


def _discount(step):
    def f(path):
        return path.discount_to(step)
    return f
