"""Path observables for Monte Carlo payoffs: write a payoff as a small function of the path.

A payoff is a plain Python function ``payoff(path, **params)`` of a
:class:`Path`, written with :mod:`aadrisk.math`; it never contains derivative
code, and every Greek of it comes from the tape.  The simulation never stores
whole paths: each observable the payoff asks for (``path.average()``,
``path.max()``, ``path.survival(...)``, ``path.at(step)`` ...) becomes one
running accumulator carried by the time-stepping loop.  To find out which, the
payoff is called twice: once *declaring* (observables return a placeholder,
the loop is not built yet) and once *evaluating* on the accumulated values.
So a payoff must ask for the same observables, in the same order, on both
calls -- plain straight-line code does.

Multi-asset paths: ``path[k]`` (or ``path["SPX"]``) is the path of asset
``k``; ``path`` itself is asset 0.

Examples
--------
>>> import aadrisk as ad
>>> def up_and_out_call(path, *, strike, barrier):
...     alive = path.survival(barrier, up=True, width=0.005)   # smoothed knock-out
...     return path.df * ad.maximum(path.final - strike, 0.0) * alive
"""
from __future__ import annotations

import math

from .. import math as am

__all__ = ["Path", "Observable"]


class Observable:
    """One running accumulator: ``init`` value, ``update(acc, s, x)`` per step, ``result``."""

    def __init__(self, init, update, result=None):
        self.init = init
        self.update = update
        self.result = result or (lambda acc, ctx: acc)


class Path:
    """The observables of one simulated path (see the module notes).

    Attributes
    ----------
    final : value of the asset at the last step (ccy)
    spot0 : the initial spot
    df : discount factor from today to the last step (on the model's rates)
    n_steps : number of time steps
    """

    def __init__(self, ctx, asset: int = 0, names=None, declared=None):
        self._ctx = ctx            # simulation context (shared by all assets' views)
        self._asset = asset
        self._names = list(names or [])
        self._declared = declared  # list of observables (declare pass) / values (evaluate)

    # ----------------------------------------------------------------- plumbing
    def __getitem__(self, k):
        if isinstance(k, str):
            if k not in self._names:
                raise KeyError(f"no asset {k!r} in the path (assets: {self._names})")
            k = self._names.index(k)
        if not 0 <= k < self._ctx.n_assets:
            raise IndexError(f"asset {k} out of range (n_assets={self._ctx.n_assets})")
        return Path(self._ctx, k, self._names, self._declared)

    def _obs(self, key, make):
        return self._ctx.observable((self._asset,) + key, lambda: make(self._asset))

    @property
    def n_assets(self) -> int:
        return self._ctx.n_assets

    @property
    def n_steps(self) -> int:
        return self._ctx.n_steps

    @property
    def final(self):
        return self._ctx.final(self._asset)

    @property
    def spot0(self):
        return self._ctx.spot0(self._asset)

    @property
    def df(self):
        return self._ctx.df()

    # ----------------------------------------------------------------- observables
    def average(self):
        """Arithmetic average of the asset over the steps 1..N (each step's end)."""
        n = self.n_steps
        return self._obs(("avg",), lambda a: Observable(
            0.0, lambda acc, s, x: acc + s[a], lambda acc, ctx: acc / n))

    def geometric_average(self):
        """Geometric average of the asset over the steps 1..N."""
        n = self.n_steps
        return self._obs(("gavg",), lambda a: Observable(
            0.0, lambda acc, s, x: acc + am.log(s[a]), lambda acc, ctx: am.exp(acc / n)))

    def max(self):
        """Running maximum over the steps 1..N (pathwise derivative exists a.e.)."""
        return self._obs(("max",), lambda a: Observable(
            -math.inf, lambda acc, s, x: am.maximum(acc, s[a])))

    def min(self):
        """Running minimum over the steps 1..N."""
        return self._obs(("min",), lambda a: Observable(
            math.inf, lambda acc, s, x: am.minimum(acc, s[a])))

    def at(self, step: int):
        """The asset at the end of step ``step`` (1..N; N = the last step)."""
        step = int(step)
        if not 1 <= step <= self.n_steps:
            raise ValueError(f"path.at({step}): step must be in 1..{self.n_steps}")
        return self._obs(("at", step), lambda a: Observable(
            0.0, lambda acc, s, x: am.where(x["_k"] == float(step - 1), s[a], acc)))

    def survival(self, barrier, *, up, width: float = 0.005, correction: bool = False):
        """Smoothed probability-like factor that the path never crossed ``barrier``.

        Product over the monitoring steps of ``sigmoid(+-log(S / B) / width)`` (a
        smoothed indicator of staying on the safe side; ``width`` in log-spot,
        0.005 = about 0.5 % of spot).  ``up`` is True / False, or a 0/1 input (one
        recorded program then serves up and down barriers).  ``correction=True``
        applies the Broadie-Glasserman-Kou continuity correction: the barrier moved
        towards the spot, ``B exp(+-0.5826 vol sqrt(dt))`` with the model's vol of the
        step, so that the discretely monitored price approximates continuous
        monitoring at ``B``.
        """
        if isinstance(up, (bool, int, float)):
            sgn = -1.0 if up else 1.0
            key = bool(up)
        else:
            sgn = 1.0 - 2.0 * up          # -1 for an up barrier, +1 for a down barrier
            key = id(up)

        def make(a):
            def update(acc, s, x):
                b = barrier
                if correction:
                    # towards the spot: discrete monitoring there ~ continuous at B
                    b = barrier * am.exp(sgn * 0.5826 * self._ctx.step_vol(a, s, x)
                                         * am.sqrt(x["_dt"]))
                # times 1/B (one uniform value per step): no division per path
                return acc * am.sigmoid(sgn * am.log(s[a] * (1.0 / b)), width)
            return Observable(1.0, update)
        return self._obs(("surv", id(barrier), key, float(width), bool(correction)), make)

    def discount_to(self, step: int):
        """Discount factor from today to the end of step ``step``."""
        step = int(step)
        if not 1 <= step <= self.n_steps:
            raise ValueError(f"path.discount_to({step}): step must be in 1..{self.n_steps}")
        return self._ctx.observable(("df", step), lambda: Observable(
            0.0, lambda acc, s, x: am.where(x["_k"] == float(step - 1), am.exp(-x["_ldf"]),
                                            acc)))
