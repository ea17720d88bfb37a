"""Custom derivative rules: a sub-computation with its own adjoint.

:func:`custom_derivative` attaches given partial derivatives to a value that
the tape cannot (or should not) differentiate itself -- the result of a root
solve, a calibration, a lookup.  The rule is expressed with tape operations,
so reverse, forward *and* second-order modes all see it: the result is

    y = y0 + sum_i q_i (x_i - stop(x_i)),   q_i = (p_i + stop(p_i)) / 2,

whose value is ``y0``, whose first derivatives are the ``p_i`` and whose
second derivatives are the symmetrised derivatives of the ``p_i`` -- exact when
the ``p_i`` are the true partials (the rule is evaluated at a first-order
copy of ``y`` so that its own dependence on ``y`` is followed too).

:func:`implied_vol_black` and :func:`implied_vol_bachelier` use it: a
safeguarded Newton solve (a non-differentiable primitive) differentiated by
the implicit function theorem, ``dsigma/dx = -(dV/dx) / (dV/dsigma)``.

Examples
--------
>>> import aadrisk as ad
>>> from aadrisk.tape.custom import implied_vol_black
>>> prog = ad.record(lambda *, price: implied_vol_black(price=price, forward=100.0,
...                  strike=100.0, expiry=1.0))
>>> res = prog.grad({"price": 7.965567455405804})
>>> round(float(res.value[0]), 10), round(float(res.grad["price"]), 6)
(0.2, 0.025192)
"""
from __future__ import annotations

from .. import math as am
from .record import Var, apply


def custom_derivative(value, inputs, rule):
    """Give ``value`` the partial derivatives ``rule(inputs, y)`` with respect to ``inputs``.

    Parameters
    ----------
    value : Var
        The value as computed (its own derivatives, if any, are discarded).
    inputs : sequence of Var or float
        The arguments the value depends on.
    rule : callable
        ``rule(inputs, y) -> [dy/dx_i]``: tape expressions of the inputs and
        of the value ``y``.

    Returns
    -------
    Var
        Same value, with the given derivatives (first and second order).
    """
    y0 = am.stop_gradient(value)
    xs = list(inputs)
    deltas = [x - am.stop_gradient(x) if isinstance(x, Var) else 0.0 for x in xs]
    p0 = [am.stop_gradient(p) for p in rule(xs, y0)]
    y1 = y0
    for p, d in zip(p0, deltas):
        y1 = y1 + p * d
    y = y0
    for p, ps, d in zip(rule(xs, y1), p0, deltas):
        if isinstance(d, Var):
            y = y + 0.5 * (p + ps) * d
    return y


def implied_vol_black(*, price, forward, strike, expiry, discount=1.0, is_call=1.0):
    """Black (lognormal) implied volatility, per year, with IFT derivatives.

    ``price`` is the discounted option price, ``forward`` and ``strike`` in
    the same currency units, ``expiry`` in years, ``discount`` the discount
    factor to expiry, ``is_call`` 1 for a call and 0 for a put.
    Derivatives follow every argument (price, forward, strike, expiry,
    discount); NaN outside the no-arbitrage bounds.
    """
    c = price / (discount * forward)
    x = strike / forward
    theta = 2.0 * is_call - 1.0

    def rule(args, s):
        cc, xx = args
        d1 = -am.log(xx) / s + 0.5 * s
        vega = am.norm_pdf(d1)
        return [1.0 / vega, theta * am.norm_cdf(theta * (d1 - s)) / vega]

    if not any(isinstance(v, Var) for v in (c, x, theta)):
        from .scalar import iv_black_stdev
        return iv_black_stdev(float(c), float(x), float(theta)) / float(expiry) ** 0.5
    stdev = custom_derivative(apply("iv_black_stdev", c, x, theta), [c, x], rule)
    return stdev / am.sqrt(expiry)


def implied_vol_bachelier(*, price, forward, strike, expiry, discount=1.0, is_call=1.0):
    """Bachelier (normal) implied volatility, in price units per sqrt(year), with IFT derivatives."""
    v = price / discount
    theta = 2.0 * is_call - 1.0
    m = theta * (forward - strike)

    def rule(args, s):
        d = args[1] / s
        n = am.norm_pdf(d)
        return [1.0 / n, -am.norm_cdf(d) / n]

    if not any(isinstance(a, Var) for a in (v, m)):
        from .scalar import iv_bachelier_stdev
        return iv_bachelier_stdev(float(v), float(m)) / float(expiry) ** 0.5
    stdev = custom_derivative(apply("iv_bachelier_stdev", v, m), [v, m], rule)
    return stdev / am.sqrt(expiry)
