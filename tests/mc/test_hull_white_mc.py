"""Hull-White Monte Carlo (aadrisk.mc.rates): exact simulation against the analytic model
(aadrisk.models.hull_white, itself tested against QuantLib), AAD Greeks against same-seed
central differences, Bermudan swaptions by LSM against European bounds and QuantLib's tree.

Grid: annual steps t = 1..7 (exact simulation: no discretisation bias on a coarse grid).
"""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.mc import MonteCarlo
from aadrisk.mc.rates import BermudanSwaption, HullWhite, step_moments, swaption_payoff
from aadrisk.models import hull_white as hwa

A, SIG = 0.1, 0.01
TIMES = tuple(float(k) for k in range(1, 8))
HW = HullWhite(times=TIMES)


def sloped(t):
    """Discount curve with forward f(t) = 0.02 + 0.003 t."""
    return float(np.exp(-(0.02 * t + 0.0015 * t * t)))


def flat(t, r=0.03):
    return float(np.exp(-r * t))


def _inputs(df=sloped, a=A, sigma=SIG):
    return {"a": a, "sigma": sigma, **HW.grid(df)}


def _analytic_swaption(df, expiry, pays, strike, payer, a=A, sigma=SIG):
    return float(hwa.swaption_price(a=a, sigma=sigma, expiry=float(expiry), df_expiry=df(expiry),
                                    times=[float(t) for t in pays],
                                    dfs=[df(float(t)) for t in pays], accruals=[1.0] * len(pays),
                                    strike=strike, is_payer=payer))


def _moments_60_digits(a, h, sigma):
    """Reference: the closed-form step moments in 60-digit decimal arithmetic."""
    from decimal import Decimal, localcontext
    with localcontext() as ctx:
        ctx.prec = 60
        a, h, s = Decimal(a), Decimal(h), Decimal(sigma)
        e = (-a * h).exp()
        b = (1 - e) / a
        v1 = s * s * (1 - e * e) / (2 * a)
        v2 = s * s / (a * a) * (h - 2 * b + (1 - e * e) / (2 * a))
        s1 = v1.sqrt()
        k = s * s * b * b / 2 / s1
        return [float(v) for v in (e, b, s1, k, (v2 - k * k).sqrt())]


@pytest.mark.parametrize("a", [1e-4, 1e-3, 0.05, 0.3, 2.0])
@pytest.mark.parametrize("h", [1 / 365, 1 / 52, 1.0, 5.0])
def test_step_moments_keep_full_precision(a, h):
    """The conditional st. dev. of int x dt (~ sigma h^1.5 / sqrt(12)) loses ~1/(a h)^2 of
    its precision to cancellation in the closed form; the series branch keeps it."""
    got = step_moments(a, 0.01, h)
    for g, r in zip(got, _moments_60_digits(a, h, 0.01)):
        assert abs(float(g) / r - 1) < 1e-13, (a, h, got)


@pytest.fixture(scope="module")
def europeans():
    """Payer and receiver 2y-into-5y, bond prices, on the sloped curve: 200k paths."""
    pay = {"zcb7": (lambda p: HW.discount(p, 7), ()),
           "zcb2x7": (lambda p: HW.discount(p, 2) * HW.zcb(p, 2, 7), ()),
           "zcb4x6": (lambda p: HW.discount(p, 4) * HW.zcb(p, 4, 6), ()),
           "payer": (swaption_payoff(HW, 2, range(3, 8)), ("strike", "payer")),
           "receiver": (swaption_payoff(HW, 2, range(3, 8)), ("strike", "payer"))}
    mc = MonteCarlo(HW, pay, n_steps=7)
    inp = {**_inputs(), "payer.strike": 0.03, "payer.payer": 1.0,
           "receiver.strike": 0.03, "receiver.payer": 0.0}
    return mc.grad(inp, paths=200_000, seed=11, wrt=["a", "sigma"])


def test_bond_prices_reprice_the_curve(europeans):
    """E[D(T)] = P(0, T), E[D(t) P(t, T; x_t)] = P(0, T): the fit to the initial curve."""
    r = europeans
    for name, T in (("zcb7", 7.0), ("zcb2x7", 7.0), ("zcb4x6", 6.0)):
        assert abs(r.value[name] - sloped(T)) < 3 * r.stderr[name], (name, r.value[name])
    # the discount factor is genuinely stochastic (not the curve's): a positive spread
    assert r.stderr["zcb7"] > 1e-4


@pytest.mark.parametrize("name,payer", [("payer", 1.0), ("receiver", 0.0)])
def test_european_swaption_matches_jamshidian(europeans, name, payer):
    ref = _analytic_swaption(sloped, 2.0, range(3, 8), 0.03, payer)
    r = europeans
    assert abs(r.value[name] - ref) < 3 * r.stderr[name], (r.value[name], r.stderr[name], ref)
    # vega and d/da against central differences of the analytic price, within 3 se
    for p, h in (("sigma", 1e-5), ("a", 1e-4)):
        kw = {"a": A, "sigma": SIG}
        up = _analytic_swaption(sloped, 2.0, range(3, 8), 0.03, payer, **{**kw, p: kw[p] + h})
        dn = _analytic_swaption(sloped, 2.0, range(3, 8), 0.03, payer, **{**kw, p: kw[p] - h})
        fd = (up - dn) / (2 * h)
        g, se = r.grad[name][p], r.grad_stderr[name][p]
        assert abs(g - fd) < 3 * se, (p, g, se, fd)


@pytest.fixture(scope="module")
def smooth_mc():
    pay = {"swpn": (swaption_payoff(HW, 3, range(4, 8), width=0.002), ("strike", "payer")),
           "bond": (lambda p: HW.discount(p, 2) * HW.zcb(p, 2, 6), ())}
    return MonteCarlo(HW, pay, n_steps=7)


@pytest.mark.parametrize("out", ["swpn", "bond"])
def test_aad_greeks_equal_same_seed_central_differences(smooth_mc, out):
    base = {**_inputs(), "swpn.strike": 0.031, "swpn.payer": 1.0}
    paths, seed = 4000, 7
    res = smooth_mc.grad(base, paths=paths, seed=seed, wrt=["a", "sigma", "_r"])

    def val(inp):
        return smooth_mc.value(inp, paths=paths, seed=seed).value[out]

    checks = [("a", None, 1e-6), ("sigma", None, 1e-6)] + [("_r", k, 1e-7) for k in (0, 2, 4, 6)]
    for name, k, h in checks:
        up, dn = dict(base), dict(base)
        if k is None:
            up[name], dn[name] = base[name] + h, base[name] - h
            g = res.grad[out][name]
        else:
            up[name], dn[name] = base[name].copy(), base[name].copy()
            up[name][k] += h
            dn[name][k] -= h
            g = res.grad[out][name][k]
        fd = (val(up) - val(dn)) / (2 * h)
        if out == "bond" and name == "_r" and k == 6:
            assert g == 0.0 and fd == 0.0   # the bond matures at step 6: no dependence
            continue
        assert abs(g - fd) <= 1e-6 * abs(fd), (out, name, k, g, fd)


# ---------------------------------------------------------------------------- Bermudan
SCHEDULE = tuple(range(1, 8))     # exercise at 1..6 into the swap paying annually to 7


@pytest.fixture(scope="module")
def bermudan_flat():
    b = BermudanSwaption(HW, SCHEDULE)
    inp = _inputs(flat)
    res = b.grad(inp, strike=0.0305, payer=1.0, paths=50_000, seed=21, wrt=["a", "sigma", "_r"])
    return b, inp, res


def test_bermudan_above_every_european(bermudan_flat):
    _, _, res = bermudan_flat
    v, se = res.value["bermudan"], res.stderr["bermudan"]
    euro = [_analytic_swaption(flat, float(s), range(s + 1, 8), 0.0305, 1.0) for s in range(1, 7)]
    assert v >= max(euro) - 3 * se, (v, se, euro)
    assert v > max(euro) + 3 * se       # early exercise is worth something here
    assert v < sum(euro)                 # and less than all the Europeans together


def test_bermudan_against_quantlib_tree(bermudan_flat):
    """QuantLib HullWhite + TreeSwaptionEngine (and FdHullWhiteSwaptionEngine) on the same
    flat curve (3 % continuous, Act/365F), dates today + 365 k days so year fractions are
    exactly k.  LSM is low-biased by its sub-optimal rule: 3 se plus 0.5 % of the price."""
    ql = pytest.importorskip("QuantLib")
    _, _, res = bermudan_flat
    v, se = res.value["bermudan"], res.stderr["bermudan"]
    today = ql.Date(15, 5, 2024)
    ql.Settings.instance().evaluationDate = today
    dc = ql.Actual365Fixed()
    curve = ql.YieldTermStructureHandle(ql.FlatForward(today, 0.03, dc, ql.Continuous))
    dates = [today + 365 * k for k in range(1, 8)]
    sched = ql.Schedule(ql.DateVector(dates), ql.NullCalendar(), ql.Unadjusted)
    index = ql.IborIndex("HW1Y", ql.Period(1, ql.Years), 0, ql.EURCurrency(), ql.NullCalendar(),
                         ql.Unadjusted, False, dc, curve)
    swap = ql.VanillaSwap(ql.Swap.Payer, 1.0, sched, 0.0305, dc, sched, index, 0.0, dc)
    swap.setPricingEngine(ql.DiscountingSwapEngine(curve))
    model = ql.HullWhite(curve, A, SIG)
    swpn = ql.Swaption(swap, ql.BermudanExercise(dates[:-1]))
    swpn.setPricingEngine(ql.TreeSwaptionEngine(model, 700))
    tree = swpn.NPV()
    swpn.setPricingEngine(ql.FdHullWhiteSwaptionEngine(model, 400, 400))
    fdm = swpn.NPV()
    assert abs(tree - fdm) < 2e-3 * tree, (tree, fdm)     # the two references agree
    assert abs(v - tree) < 3 * se + 0.005 * tree, (v, se, tree)
    assert v < tree + 3 * se                                 # a fixed rule cannot beat it
    # European check of the same QuantLib set-up: Jamshidian = our analytic formula
    eu = ql.Swaption(swap, ql.EuropeanExercise(dates[0]))
    eu.setPricingEngine(ql.JamshidianSwaptionEngine(model))
    ours = _analytic_swaption(flat, 1.0, range(2, 8), 0.0305, 1.0)
    assert abs(eu.NPV() - ours) < 1e-6 * ours, (eu.NPV(), ours)


@pytest.mark.parametrize("payer", [1.0, 0.0])
def test_bermudan_greeks_equal_bumps_with_the_rule_fixed(payer):
    """Payer and receiver; the exercise rule (regression coefficients) held fixed, so the
    bumps cross no exercise boundary at these sizes and equal the pathwise Greeks."""
    b, inp = BermudanSwaption(HW, SCHEDULE), _inputs(flat)
    paths, seed = 4000, 3
    coef = b.regress(inp, strike=0.0305, payer=payer, paths=paths, seed=seed + 1)
    res = b.grad(inp, strike=0.0305, payer=payer, paths=paths, seed=seed, coef=coef,
                 wrt=["a", "sigma", "_r"])

    def val(i):
        return b.value(i, strike=0.0305, payer=payer, paths=paths, seed=seed,
                       coef=coef).value["bermudan"]

    for name, k, h in (("a", None, 1e-7), ("sigma", None, 1e-9), ("_r", 0, 1e-8),
                       ("_r", 3, 1e-8)):
        up, dn = dict(inp), dict(inp)
        if k is None:
            up[name], dn[name] = inp[name] + h, inp[name] - h
            g = res.grad["bermudan"][name]
        else:
            up[name], dn[name] = inp[name].copy(), inp[name].copy()
            up[name][k] += h
            dn[name][k] -= h
            g = res.grad["bermudan"][name][k]
        fd = (val(up) - val(dn)) / (2 * h)
        assert abs(g - fd) <= 1e-6 * abs(fd), (name, k, g, fd)
    # only the discounting reads the first step's rate: d/d_r0 = -dt0 * price
    assert abs(res.grad["bermudan"]["_r"][0] + res.value["bermudan"]) < 1e-12


def test_grid_mismatch_is_refused():
    b = BermudanSwaption(HW, SCHEDULE)
    inp = {**_inputs(flat), "_dt": np.full(7, 0.5)}
    with pytest.raises(ValueError, match="_dt"):
        b.value(inp, strike=0.03, paths=100, seed=1)


def test_antithetic_pairs_price_the_swaption():
    """Antithetic pairs replay both normals of each step negated (the (x, I) step draws two)."""
    mc = MonteCarlo(HW, {"s": (swaption_payoff(HW, 2, range(3, 8)), ("strike", "payer"))},
                    n_steps=7, antithetic=True)
    r = mc.value({**_inputs(), "s.strike": 0.03, "s.payer": 1.0}, paths=20_000, seed=4)
    ref = _analytic_swaption(sloped, 2.0, range(3, 8), 0.03, 1.0)
    assert abs(r.value["s"] - ref) < 3 * r.stderr["s"], (r.value["s"], r.stderr["s"], ref)
