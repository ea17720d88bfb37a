"""Structured payoffs built from path observables: the Phoenix autocallable.

Observation dates are structural (step numbers fixed when the program is
recorded); barriers, coupon and smoothing are inputs.  Indicators are logistic
steps of width ``width`` in log-performance, so the Greeks exist pathwise.

Examples
--------
>>> from aadrisk.mc import MonteCarlo, MultiGBM
>>> payoff = phoenix(obs_steps=(3, 6, 9, 12))
>>> mc = MonteCarlo(MultiGBM(asset_names=("A", "B")), {"phx": payoff}, n_steps=12)
"""
from __future__ import annotations

from .. import math as am
from .payoffs import SMOOTHING_WIDTH

__all__ = ["phoenix", "PHOENIX_PARAMS"]

#: inputs of a Phoenix payoff (per unit notional; barriers as fractions of the initial spots)
PHOENIX_PARAMS = ("coupon", "coupon_barrier", "autocall_barrier", "ki_barrier")


def _worst(path, step):
    worst = None
    for k in range(path.n_assets):
        a = path[k]
        p = a.at(step) / a.spot0
        worst = p if worst is None else am.minimum(worst, p)
    return worst


def phoenix(obs_steps, *, width: float = SMOOTHING_WIDTH, memory: bool = True):
    """A worst-of Phoenix autocallable on all the path's assets, per unit notional.

    At each observation ``k`` (step ``obs_steps[k]``), with ``w`` the worst
    performance ``min_a S_a / S_a(0)``:

    * coupon ``coupon`` if ``w >= coupon_barrier``, plus the coupons missed
      before (``memory``);
    * before the last date, early redemption at 1 if ``w >= autocall_barrier``;
    * at the last date, if never called: 1, less ``1 - w`` if ``w < ki_barrier``
      (a knock-in put observed at maturity).

    Returns ``(payoff_function, parameter_names)`` for :class:`~aadrisk.mc.MonteCarlo`.
    """
    steps = tuple(int(s) for s in obs_steps)
    if not steps or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError("phoenix needs increasing observation steps")

    def payoff(path, *, coupon, coupon_barrier, autocall_barrier, ki_barrier):
        alive, missed, pv = 1.0, 0.0, 0.0
        for k, step in enumerate(steps):
            w = _worst(path, step)
            df = path.discount_to(step)
            hit = am.sigmoid(am.log(w / coupon_barrier), width)
            paid = coupon * (missed + 1.0) if memory else coupon
            pv = pv + alive * df * paid * hit
            missed = (missed + 1.0) * (1.0 - hit) if memory else 0.0
            if k < len(steps) - 1:
                call = am.sigmoid(am.log(w / autocall_barrier), width)
                pv = pv + alive * call * df
                alive = alive * (1.0 - call)
            else:
                ki = am.sigmoid(am.log(ki_barrier / w), width)
                pv = pv + alive * df * (1.0 - ki * am.maximum(1.0 - w, 0.0))
        return pv

    return payoff, PHOENIX_PARAMS
