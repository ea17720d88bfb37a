"""Hull-White one-factor short rate by exact simulation; European and Bermudan swaptions.

Model (Brigo & Mercurio, *Interest Rate Models*, 2nd ed., 3.3): ``dr = (theta(t) - a r) dt
+ sigma dW`` fitted to today's curve, written ``r = x + phi(t)`` with ``dx = -a x dt +
sigma dW``, ``x(0) = 0`` and ``phi(t) = f(0, t) + sigma^2 (1 - e^{-a t})^2 / (2 a^2)``.

**Exact step.**  Over a step of length ``h`` the state ``x`` and its integral
``I = int_0^t x ds`` move by a joint Gaussian given ``x_s`` (two correlated normals per step):

    x_t = x_s e^{-a h} + e1,        Var e1 = sigma^2 (1 - e^{-2 a h}) / (2 a)
    I_t = I_s + x_s B(h) + e2,      Var e2 = sigma^2 / a^2 (h - 2 B(h) + (1 - e^{-2 a h}) / (2 a))
    Cov(e1, e2) = sigma^2 B(h)^2 / 2,         B(h) = (1 - e^{-a h}) / a,

drawn as ``e1 = s1 z1``, ``e2 = (Cov / s1) z1 + sqrt(Var e2 - Cov^2 / s1^2) z2``
(Glasserman, *Monte Carlo Methods in Financial Engineering*, section 3.3), so the grid
can be coarse (only the event dates) without any discretisation bias.

**Curve.**  The engine's per-step input ``_r`` is the curve's forward rate of the step
(``-ln(P(0, t_k+1) / P(0, t_k)) / dt_k``); ``path.discount_to(k)`` is then today's
discount factor ``P(0, t_k)`` (deterministic!), and the curve Greeks are the sensitivities
to ``_r`` per step.  The *stochastic* discount factor is
:meth:`HullWhite.discount` ``= P(0, t) exp(-I_t - G(t))`` with
``G(t) = int_0^t (phi - f(0, .)) = sigma^2 / (2 a^2) (t - 2 B(0, t) + (1 - e^{-2 a t}) / (2 a))``
(so that its expectation is ``P(0, t)`` exactly), and :meth:`HullWhite.zcb` is the affine
bond price ``P(t_k, t_m; x_k)`` of :func:`aadrisk.models.hull_white.zcb_price`.  Under this
model, use these two (not ``path.df``) in payoffs.

Payment and exercise dates must be grid dates: the model knows its grid (``times``: the
step end times ``t_1 < ... < t_N`` in years, ``t_0 = 0``); pass ``hw.grid(df)`` as the
``_dt`` / ``_r`` inputs.

Examples
--------
>>> import numpy as np
>>> from aadrisk.mc import MonteCarlo
>>> hw = HullWhite(times=(1.0, 2.0, 3.0))
>>> mc = MonteCarlo(hw, {"zcb": (lambda path: hw.discount(path, 3), ())}, n_steps=3)
>>> df = lambda t: np.exp(-0.03 * t)
>>> res = mc.value({"a": 0.1, "sigma": 0.01, **hw.grid(df)}, paths=20_000, seed=1)
>>> bool(abs(res.value["zcb"] - df(3.0)) < 3 * res.stderr["zcb"])
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import math as am
from ..models import hull_white as hwa
from .lsm import exercise_pv, fit_rule
from .models import normal
from .simulate import MonteCarlo

__all__ = ["HullWhite", "swaption_payoff", "BermudanSwaption", "step_moments"]


#: below this ``u = a h`` the step moments use Taylor series (the closed forms cancel)
SERIES_BELOW = 0.25
_NTERMS = 14


def _series(coefs, u):
    tot = 0.0
    for c in reversed(coefs):
        tot = tot * u + c
    return tot


_P = [(-1.0) ** n / math.factorial(n + 1) for n in range(_NTERMS)]          # (1 - e^-u) / u
_Q = [(-2.0) ** n / math.factorial(n + 1) for n in range(_NTERMS)]          # (1 - e^-2u) / 2u
_G = [(-1.0) ** n * (2.0 - 2.0 ** (n - 1)) / math.factorial(n)              # g(u) / u^3
      for n in range(3, 3 + _NTERMS)]


def _small(u, series, closed):
    return am.where(u < SERIES_BELOW, series, closed)


def _g3(u, e):
    """``(u - 2 (1 - e^-u) + (1 - e^-2u) / 2) / u^3`` (-> 1/3 as u -> 0), ``e = e^-u``."""
    return _small(u, _series(_G, u), (u - 2.0 * (1.0 - e) + 0.5 * (1.0 - e * e)) / (u * u * u))


def step_moments(a, sigma, h):
    """Exact step of ``(x, I)`` over ``h``: ``(e^{-a h}, B(h), s1, k, s2)`` with
    ``x' = e x + s1 z1`` and ``I' = I + B x + k z1 + s2 z2`` (``z1, z2`` independent standard
    normals).  Written in ``u = a h`` with Taylor series below :data:`SERIES_BELOW`, so the
    conditional variance of ``I`` (``~ sigma^2 h^3 / 12``) keeps full precision when ``a h``
    is small (the closed form loses ``~ 1 / (a h)^2`` of it to cancellation)."""
    u = a * h
    e = am.exp(-u)
    p = _small(u, _series(_P, u), (1.0 - e) / u)
    q = _small(u, _series(_Q, u), 0.5 * (1.0 - e * e) / u)
    g3 = _g3(u, e)
    s1 = sigma * am.sqrt(h * q)                       # Var x' = sigma^2 h q
    k = 0.5 * sigma * h * p * p * am.sqrt(h / q)      # Cov(x', I') / s1, Cov = sigma^2 h^2 p^2 / 2
    resid = g3 - p * p * p * p / (4.0 * q)            # (Var I' - k^2) / (sigma^2 h^3) -> 1/12
    s2 = sigma * h * am.sqrt(h * am.maximum(resid, 1e-300))
    return e, h * p, s1, k, s2


@dataclass(frozen=True)
class HullWhite:
    """One-factor Hull-White on the grid ``times`` (step end times, years); inputs ``a``,
    ``sigma``; the curve through ``_r`` (see the module notes).  State ``(x, I)``."""

    times: tuple = (1.0,)
    asset_names: tuple = ("x", "I")
    n_assets: int = 2
    inputs: tuple = ("a", "sigma")
    xs: tuple = ()
    n_draws: int = 2

    def __post_init__(self):
        t = np.asarray(self.times, dtype=float)
        if t.ndim != 1 or t.size == 0 or t[0] <= 0 or np.any(np.diff(t) <= 0):
            raise ValueError("HullWhite times must be increasing and positive")
        object.__setattr__(self, "times", tuple(float(v) for v in t))

    # ------------------------------------------------------------------ simulation
    def init(self, kw):
        return (0.0, 0.0)

    def step(self, state, x, kw):
        xs, integ = state
        e, b, s1, k, s2 = step_moments(kw["a"], kw["sigma"], x["_dt"])
        z1, z2 = normal(), normal()
        return (xs * e + s1 * z1, integ + xs * b + k * z1 + s2 * z2)

    def step_vol(self, a, state, x, kw):
        return kw["sigma"]

    # ------------------------------------------------------------------ grid and curve
    def time(self, step: int) -> float:
        """``t_step`` (step 0 is today)."""
        return 0.0 if step == 0 else self.times[step - 1]

    def grid(self, df):
        """Per-step inputs ``_dt`` and ``_r`` (the curve's forward rate per step) from the
        discount function ``df(t)`` (floats)."""
        t = np.concatenate([[0.0], self.times])
        p = np.array([float(df(v)) for v in t])
        dt = np.diff(t)
        return {"_dt": dt, "_r": -np.log(p[1:] / p[:-1]) / dt}

    # ------------------------------------------------------------------ path observables
    @staticmethod
    def _kw(path):
        return path._ctx.kw       # the model inputs (a, sigma) of the recorded program

    def _p0(self, path, step, cache=None):
        """Today's discount factor ``P(0, t_step)`` from the ``_r`` inputs."""
        if step == 0:
            return 1.0
        if cache is not None:
            if step not in cache:
                cache[step] = path.discount_to(step)
            return cache[step]
        return path.discount_to(step)

    def convexity(self, kw, t):
        """``G(t)``: ``P(0, t) = E[exp(-int_0^t r)] = P(0, t) e^{-G} E[e^{-I_t}]``."""
        a, sig = kw["a"], kw["sigma"]
        if t == 0.0:
            return 0.0
        return 0.5 * sig * sig * t ** 3 * _g3(a * t, am.exp(-a * t))

    def discount(self, path, step: int, cache=None):
        """Stochastic discount factor ``exp(-int_0^{t_step} r ds)`` of the path."""
        if step == 0:
            return 1.0
        kw = self._kw(path)
        integ = path["I"].at(step)
        return self._p0(path, step, cache) * am.exp(-integ - self.convexity(kw, self.time(step)))

    def state(self, path, step: int):
        """``x(t_step)`` (``r = x + phi(t)``)."""
        return 0.0 if step == 0 else path["x"].at(step)

    def zcb(self, path, step: int, maturity_step: int, x=None, cache=None):
        """``P(t_step, t_maturity; x_step)``, the affine Hull-White bond price on the path."""
        kw = self._kw(path)
        x = self.state(path, step) if x is None else x
        return hwa.zcb_price(a=kw["a"], sigma=kw["sigma"], t=self.time(step),
                             maturity=self.time(maturity_step),
                             df_t=self._p0(path, step, cache),
                             df_maturity=self._p0(path, maturity_step, cache), x=x)

    def swap(self, path, step: int, pay_steps, strike, x=None, cache=None, accruals=None):
        """Value at ``t_step`` of a payer swap starting then (floating leg at par), fixed
        ``strike`` paid at ``pay_steps``, notional 1; ``accruals`` (one per payment) default
        to the grid's year fractions ``t_p - t_prev``."""
        prev, fixed, last = step, 0.0, None
        for i, p in enumerate(pay_steps):
            last = self.zcb(path, step, p, x=x, cache=cache)
            tau = self.time(p) - self.time(prev) if accruals is None else accruals[i]
            fixed = fixed + tau * last
            prev = p
        return 1.0 - last - strike * fixed


def swaption_payoff(hw: HullWhite, exercise_step: int, pay_steps, *, width: float = 0.0):
    """European swaption payoff ``f(path, *, strike, payer)`` (``payer`` 1 or 0): the
    discounted ``max(+-swap, 0)`` at ``exercise_step``; ``width > 0`` smooths the max
    (softplus of that width, in swap value per unit notional) for pathwise second order
    or tight finite-difference checks."""
    pay_steps = tuple(int(p) for p in pay_steps)

    def payoff(path, *, strike, payer):
        cache = {}
        u = hw.swap(path, exercise_step, pay_steps, strike, cache=cache)
        u = (2.0 * payer - 1.0) * u
        pos = am.softplus(u, width) if width > 0 else am.maximum(u, 0.0)
        return hw.discount(path, exercise_step, cache) * pos
    return payoff


class BermudanSwaption:
    """Bermudan swaption by Longstaff-Schwartz on :class:`HullWhite` (see :mod:`.lsm`).

    The fixed leg pays at the grid steps ``schedule[1:]`` with ``accruals`` (one per
    period, default the grid's year fractions); exercise at ``schedule[j]`` (for ``j`` in
    ``exercise``, default all but the last) enters the swap paying ``schedule[j+1:]``.
    The continuation value is regressed on ``1, x, x^2`` (``x`` the state; in-the-money
    paths) on a pre-simulation with seed ``seed + 1``, then the rule is held fixed on fresh
    paths: Greeks of the fixed rule.  :meth:`payoff` and :attr:`params` let a caller put
    several strikes on the same paths in its own :class:`~.simulate.MonteCarlo` (as the
    book product ``bermudan_swaption`` does).
    """

    def __init__(self, hw: HullWhite, schedule, exercise=None, accruals=None):
        self.hw = hw
        self.schedule = tuple(int(s) for s in schedule)
        n = len(self.schedule)
        if accruals is None:
            accruals = [hw.time(b) - hw.time(a) for a, b in zip(self.schedule[:-1],
                                                                 self.schedule[1:])]
        self.accruals = tuple(float(t) for t in accruals)
        if len(self.accruals) != n - 1:
            raise ValueError("accruals must have one entry per schedule period")
        ex = range(n - 1) if exercise is None else exercise
        self.ex = tuple(sorted(int(j) for j in ex))
        if not self.ex or self.ex[0] < 0 or self.ex[-1] > n - 2:
            raise ValueError("exercise indices must be in 0..len(schedule)-2")
        if self.schedule[0] < 1:
            raise ValueError("the first exercise must be at step >= 1")
        steps = [self.schedule[j] for j in self.ex]
        n_steps = len(hw.times)
        obs = {}
        for k, s in enumerate(steps):
            obs[f"x{k}"] = (lambda path, s=s: hw.state(path, s), ())
            obs[f"i{k}"] = (lambda path, s=s: path["I"].at(s), ())
        self._pre = MonteCarlo(hw, obs, n_steps, name="hw lsm regression paths")
        coef = tuple(f"b{j}_{k}" for k in range(len(steps)) for j in range(3))
        #: parameter names of :meth:`payoff` (strike, payer flag, rule coefficients)
        self.params = ("strike", "payer") + coef
        self._price_mc = None

    @property
    def _price(self):
        """The pricing program (recorded on first use: a caller with its own program for
        :meth:`payoff` only needs the regression)."""
        if self._price_mc is None:
            self._price_mc = MonteCarlo(self.hw, {"bermudan": (self.payoff(), self.params)},
                                        len(self.hw.times), name="hw lsm pricing")
        return self._price_mc

    def payoff(self):
        """Payoff ``f(path, *, strike, payer, **coefficients)`` of the swaption per unit
        notional under the fixed rule (parameters :attr:`params`)."""
        hw, sch, ex, acc = self.hw, self.schedule, self.ex, self.accruals

        def payoff(path, *, strike, payer, **b):
            cache = {}

            def date(j):
                s = sch[j]
                x = hw.state(path, s)
                u = (2.0 * payer - 1.0) * hw.swap(path, s, sch[j + 1:], strike, x=x,
                                                  cache=cache, accruals=acc[j:])
                return x, hw.discount(path, s, cache), am.maximum(u, 0.0)
            return exercise_pv((date(j) for j in ex), b)
        return payoff

    def _swap_np(self, inputs, strike, j, x):
        """Swap values at exercise ``j`` for states ``x`` (numpy), same formula as the tape."""
        hw, sch = self.hw, self.schedule
        a, sig = float(inputs["a"]), float(inputs["sigma"])
        p0 = np.exp(-np.concatenate([[0.0], np.cumsum(np.asarray(inputs["_r"], float)
                                                      * np.asarray(inputs["_dt"], float))]))
        s, fixed, last = sch[j], 0.0, None
        for p, tau in zip(sch[j + 1:], self.accruals[j:]):
            last = hwa.zcb_price(a=a, sigma=sig, t=hw.time(s), maturity=hw.time(p),
                                 df_t=p0[s], df_maturity=p0[p], x=x)
            fixed = fixed + tau * last
        return 1.0 - last - float(strike) * fixed, p0[s]

    def presimulate(self, inputs, *, paths: int, seed: int):
        """The regression paths (state and ``int x dt`` at every exercise date): inputs
        ``a``, ``sigma``, ``_dt``, ``_r`` (floats); reusable for several strikes."""
        keep = {k: inputs[k] for k in ("a", "sigma", "_dt", "_r")}
        return self._pre.program.value(self._pre._inputs(keep), batch=paths, seed=seed)

    def regress(self, inputs, *, strike, payer=1.0, paths: int = 0, seed: int = 0, pre=None):
        """Continuation coefficients per exercise date from a pre-simulation (``pre`` from
        :meth:`presimulate`, else run here on ``paths`` paths with ``seed``)."""
        res = pre if pre is not None else self.presimulate(inputs, paths=paths, seed=seed)
        a, sig = float(inputs["a"]), float(inputs["sigma"])
        w = 2.0 * float(payer) - 1.0
        m = len(self.ex)
        X = [np.asarray(res.value[f"x{k}"]) for k in range(m)]
        intr, D = [], []
        for k, j in enumerate(self.ex):
            u, p0 = self._swap_np(inputs, strike, j, X[k])
            intr.append(np.maximum(w * u, 0.0))
            t = self.hw.time(self.schedule[j])
            G = float(self.hw.convexity({"a": a, "sigma": sig}, t))
            D.append(p0 * np.exp(-np.asarray(res.value[f"i{k}"]) - G))
        return fit_rule(X, intr, D)

    def _inputs(self, inputs, strike, payer, paths, seed, coef):
        dt = np.diff(np.concatenate([[0.0], self.hw.times]))
        if not np.allclose(np.asarray(inputs["_dt"], dtype=float), dt, rtol=0, atol=1e-12):
            raise ValueError("the _dt inputs are not the HullWhite model's grid (use hw.grid)")
        if coef is None:
            coef = self.regress(inputs, strike=strike, payer=payer, paths=paths, seed=seed + 1)
        return {**inputs, "bermudan.strike": strike, "bermudan.payer": payer,
                **{f"bermudan.{k}": v for k, v in coef.items()}}

    def value(self, inputs, *, strike, payer=1.0, paths: int, seed: int = 0, coef=None, **kw):
        """Price (``.value["bermudan"]``) with the rule fitted on seed ``seed + 1``."""
        return self._price.value(self._inputs(inputs, strike, payer, paths, seed, coef),
                                 paths=paths, seed=seed, **kw)

    def grad(self, inputs, *, strike, payer=1.0, paths: int, seed: int = 0, coef=None, **kw):
        """Price and pathwise Greeks (``a``, ``sigma``, ``_r`` per step) with the rule fixed."""
        return self._price.grad(self._inputs(inputs, strike, payer, paths, seed, coef),
                                paths=paths, seed=seed, **kw)
