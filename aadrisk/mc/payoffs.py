"""Built-in Monte Carlo payoffs, each a small function of a :class:`~aadrisk.mc.path.Path`.

They are written exactly as a user writes a new payoff (docs/monte_carlo.md):
no derivative code; every Greek comes from the tape. ``phi`` is +1 for a call
and -1 for a put (an input, so one recorded program serves both). Discontinuous
payoffs are smoothed so that pathwise derivatives exist: digitals and barriers
use a logistic step of width ``width`` in log-spot (0.005 = about 0.5 % of
spot), the only bias against the exact payoff, which vanishes as the width goes
to zero (the variance of the Greeks grows as it does).

========================  =====================================================  ==========
payoff                    value at maturity (times ``path.df``)                  parameters
========================  =====================================================  ==========
``european``              ``max(phi (S_T - K), 0)``                              strike, phi
``digital``               ``sigmoid(phi log(S_T / K) / width)`` (cash 1)         strike, phi
``asian``                 ``max(phi (mean(S_1..S_N) - K), 0)``                   strike, phi
``geometric_asian``       ``max(phi (geomean(S_1..S_N) - K), 0)``                strike, phi
``barrier``               vanilla x survival (out) or x (1 - survival) (in)      strike, phi, barrier, is_up, is_in
``lookback``              fixed strike: ``max(phi (M - K), 0)``, M = max (call)  strike, phi
                          or min (put) of the path
``basket``                ``max(phi (sum_k w_k S_k(T) / S_k(0) - K), 0)``        strike, phi, weights
``worst_of``              ``max(phi (min_k S_k(T) / S_k(0) - K), 0)``            strike, phi
========================  =====================================================  ==========
"""
from __future__ import annotations

from .. import math as am

__all__ = ["PAYOFFS", "european", "digital", "asian", "geometric_asian", "barrier", "lookback",
           "basket", "worst_of", "SMOOTHING_WIDTH"]

#: default width of smoothed indicators, in log-spot (about 0.5 % of spot)
SMOOTHING_WIDTH = 0.005


def european(path, *, strike, phi):
    return path.df * am.maximum(phi * (path.final - strike), 0.0)


def digital(path, *, strike, phi, width=SMOOTHING_WIDTH):
    return path.df * am.sigmoid(phi * am.log(path.final / strike), width)


def asian(path, *, strike, phi):
    return path.df * am.maximum(phi * (path.average() - strike), 0.0)


def geometric_asian(path, *, strike, phi):
    return path.df * am.maximum(phi * (path.geometric_average() - strike), 0.0)


def barrier(path, *, strike, phi, barrier, is_up, is_in, width=SMOOTHING_WIDTH,
            correction=False):
    """Single barrier monitored at every step; ``is_up`` / ``is_in`` are 0/1 inputs (one
    recorded program serves all four types)."""
    alive = path.survival(barrier, up=is_up, width=width, correction=correction)
    hit = is_in * (1.0 - alive) + (1.0 - is_in) * alive
    return path.df * am.maximum(phi * (path.final - strike), 0.0) * hit


def lookback(path, *, strike, phi):
    """Fixed-strike lookback: call on the path maximum, put on the path minimum."""
    m = am.where(phi > 0.0, path.max(), path.min())
    return path.df * am.maximum(phi * (m - strike), 0.0)


def basket(path, *, strike, phi, **weights):
    """Call/put on a weighted basket of performances ``S_k(T) / S_k(0)``;
    weights are inputs ``w_0, w_1, ...``."""
    perf = 0.0
    for k in range(len(weights)):
        a = path[k]
        perf = perf + weights[f"w_{k}"] * a.final / a.spot0
    return path.df * am.maximum(phi * (perf - strike), 0.0)


def worst_of(path, *, strike, phi):
    """Call/put on the worst performance ``min_k S_k(T) / S_k(0)`` of all the path's assets."""
    worst = None
    for k in range(path.n_assets):
        a = path[k]
        p = a.final / a.spot0
        worst = p if worst is None else am.minimum(worst, p)
    return path.df * am.maximum(phi * (worst - strike), 0.0)


#: payoff name -> (function, parameter names read from the program inputs)
PAYOFFS = {
    "european": (european, ("strike", "phi")),
    "digital": (digital, ("strike", "phi")),
    "asian": (asian, ("strike", "phi")),
    "geometric_asian": (geometric_asian, ("strike", "phi")),
    "barrier": (barrier, ("strike", "phi", "barrier", "is_up", "is_in")),
    "lookback": (lookback, ("strike", "phi")),
}
