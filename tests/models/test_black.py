"""Black-76, Bachelier and BSM digitals against QuantLib (oracle only) and identities.

Oracles: ``blackFormula`` / ``bachelierBlackFormula`` and ``BlackCalculator`` /
``BachelierCalculator`` (analytic deltaForward, gammaForward, vega, vanna, volga,
strikeSensitivity) for options on a forward (vanna and volga against central
differences of QuantLib's analytic deltaForward / vega, 1e-6 relative: QuantLib
1.44's own ``BlackCalculator.volga`` / ``BachelierCalculator.vanna,volga`` do not
match the second derivative of its price -- e.g. Black F=100, K=110, T=0.5,
vol=0.25, df=0.98: ``volga`` 39.964 while d2V/dvol2 = vega d1 d2 / vol = 28.259); ``AnalyticEuropeanEngine`` with
``CashOrNothingPayoff`` / ``AssetOrNothingPayoff`` for digitals (analytic delta,
gamma, vega, rho, dividendRho, theta).  Tolerances: prices 1e-10 relative;
first-order Greeks 1e-9 relative (absolute floor 1e-10 x scale), second-order
1e-8 relative (same floor).
"""
from __future__ import annotations

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.models import (asset_or_nothing_price, bachelier_price, black_price,
                            cash_or_nothing_price)

from _qlsetup import assert_close, bsm_process, setup_today

ql = pytest.importorskip("QuantLib")

N = 300


def _fwd_cases(seed, normal=False):
    rng = np.random.default_rng(seed)
    F = rng.uniform(50.0, 150.0, N)
    K = F * np.exp(rng.uniform(-0.5, 0.5, N))
    T = rng.integers(10, 5 * 365, N) / 365.0
    vol = rng.uniform(0.05, 0.6, N) * (F if normal else 1.0)
    df = np.exp(-rng.uniform(0.0, 0.08, N) * T)
    is_call = rng.integers(0, 2, N).astype(float)
    return dict(forward=F, strike=K, expiry=T, vol=vol, discount=df, is_call=is_call)


def _ql_fwd(c, i, calc):
    typ = ql.Option.Call if c["is_call"][i] else ql.Option.Put
    payoff = ql.PlainVanillaPayoff(typ, c["strike"][i])
    sd = c["vol"][i] * np.sqrt(c["expiry"][i])
    return calc(payoff, c["forward"][i], sd, c["discount"][i])


@pytest.mark.parametrize("model,fn,calc,normal", [
    ("black", black_price, ql.BlackCalculator, False),
    ("bachelier", bachelier_price, ql.BachelierCalculator, True)])
def test_forward_models_vs_quantlib(model, fn, calc, normal):
    c = _fwd_cases(11 if normal else 7, normal)
    prog = ad.record(fn)
    # one mixed batch of calls and puts: price, gradient and second order
    g = prog.grad(c, wrt=["forward", "strike", "vol"])
    h_f = prog.hvp(c, {"forward": 1.0}, wrt=["forward", "vol"])
    h_v = prog.hvp(c, {"vol": 1.0}, wrt=["vol"])
    want = {k: np.empty(N) for k in ["v", "d", "k", "vega", "g", "vanna", "volga"]}
    for i in range(N):
        bc = _ql_fwd(c, i, calc)
        T = c["expiry"][i]
        want["v"][i] = bc.value()
        want["d"][i] = bc.deltaForward()
        want["k"][i] = bc.strikeSensitivity()
        want["vega"][i] = bc.vega(T)
        want["g"][i] = bc.gammaForward()
        hF, hv = 1e-4 * c["forward"][i], 1e-4 * c["vol"][i]
        sd_up = (c["vol"][i] + hv) * np.sqrt(T)
        sd_dn = (c["vol"][i] - hv) * np.sqrt(T)
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if c["is_call"][i] else ql.Option.Put,
                                       c["strike"][i])
        up = calc(payoff, c["forward"][i], sd_up, c["discount"][i])
        dn = calc(payoff, c["forward"][i], sd_dn, c["discount"][i])
        want["vanna"][i] = (up.deltaForward() - dn.deltaForward()) / (2 * hv)
        want["volga"][i] = (up.vega(T) - dn.vega(T)) / (2 * hv)
    F = c["forward"]
    assert_close(g.value, want["v"], 1e-10, 1e-12 * F, f"{model} price")
    # float path (no tape) agrees with the tape
    assert_close(fn(**c), g.value, 1e-13, 1e-14 * F, f"{model} float vs tape")
    assert_close(g.grad["forward"], want["d"], 1e-9, 1e-10, f"{model} deltaForward")
    assert_close(g.grad["strike"], want["k"], 1e-9, 1e-10, f"{model} dV/dK")
    assert_close(g.grad["vol"], want["vega"], 1e-9, 1e-10 * F, f"{model} vega")
    assert_close(h_f.hvp["forward"], want["g"], 1e-8, 1e-10 / F, f"{model} gamma")
    vol_scale = F if normal else 1.0
    assert_close(h_f.hvp["vol"], want["vanna"], 1e-6, 1e-8 / vol_scale, f"{model} vanna")
    assert_close(h_v.hvp["vol"], want["volga"], 1e-6, 1e-8 * F / vol_scale ** 2,
                 f"{model} volga")


def test_black_price_matches_blackformula():
    c = _fwd_cases(3)
    got = black_price(**c)
    want = [ql.blackFormula(ql.Option.Call if c["is_call"][i] else ql.Option.Put,
                            c["strike"][i], c["forward"][i],
                            c["vol"][i] * np.sqrt(c["expiry"][i]), c["discount"][i])
            for i in range(N)]
    assert_close(got, want, 1e-10, 1e-12 * c["forward"], "blackFormula")
    cn = _fwd_cases(4, normal=True)
    got = bachelier_price(**cn)
    want = [ql.bachelierBlackFormula(ql.Option.Call if cn["is_call"][i] else ql.Option.Put,
                                     cn["strike"][i], cn["forward"][i],
                                     cn["vol"][i] * np.sqrt(cn["expiry"][i]), cn["discount"][i])
            for i in range(N)]
    assert_close(got, want, 1e-10, 1e-12 * cn["forward"], "bachelierBlackFormula")


@pytest.mark.parametrize("fn", [black_price, bachelier_price])
def test_put_call_parity(fn):
    c = _fwd_cases(5, normal=fn is bachelier_price)
    call = fn(**{**c, "is_call": 1.0})
    put = fn(**{**c, "is_call": 0.0})
    assert_close(call - put, c["discount"] * (c["forward"] - c["strike"]), 1e-12,
                 1e-12 * c["forward"], "parity")


def test_bachelier_negative_forward_and_atm():
    # rates can be negative in the normal model; ATM value is df * vol sqrt(T) / sqrt(2 pi)
    v = bachelier_price(forward=-0.002, strike=-0.002, expiry=4.0, vol=0.007, discount=0.9,
                        is_call=1.0)
    assert v == pytest.approx(0.9 * 0.007 * 2.0 / np.sqrt(2 * np.pi), rel=1e-15)
    want = ql.bachelierBlackFormula(ql.Option.Put, 0.001, -0.002, 0.007 * 2.0, 0.9)
    got = bachelier_price(forward=-0.002, strike=0.001, expiry=4.0, vol=0.007, discount=0.9,
                          is_call=0.0)
    assert got == pytest.approx(want, rel=1e-12)


def _digital_cases(seed):
    rng = np.random.default_rng(seed)
    S = rng.uniform(50.0, 150.0, 120)
    return dict(spot=S, strike=S * np.exp(rng.uniform(-0.4, 0.4, S.size)),
                days=rng.integers(10, 3 * 365, S.size), vol=rng.uniform(0.08, 0.5, S.size),
                rate=rng.uniform(-0.01, 0.08, S.size), div=rng.uniform(0.0, 0.05, S.size),
                is_call=rng.integers(0, 2, S.size).astype(float),
                cash=rng.uniform(1.0, 20.0, S.size))


@pytest.mark.parametrize("kind", ["cash", "asset"])
def test_digitals_vs_quantlib_analytic_greeks(kind):
    c = _digital_cases(21 if kind == "cash" else 22)
    n = c["spot"].size
    today = setup_today()
    want = {k: np.empty(n) for k in ["v", "delta", "gamma", "vega", "rho", "qrho", "theta"]}
    for i in range(n):
        proc, _ = bsm_process(today, c["spot"][i], c["rate"][i], c["div"][i], c["vol"][i])
        typ = ql.Option.Call if c["is_call"][i] else ql.Option.Put
        payoff = (ql.CashOrNothingPayoff(typ, c["strike"][i], c["cash"][i]) if kind == "cash"
                  else ql.AssetOrNothingPayoff(typ, c["strike"][i]))
        opt = ql.VanillaOption(payoff, ql.EuropeanExercise(today + int(c["days"][i])))
        opt.setPricingEngine(ql.AnalyticEuropeanEngine(proc))
        want["v"][i], want["delta"][i], want["gamma"][i] = opt.NPV(), opt.delta(), opt.gamma()
        want["vega"][i], want["rho"][i] = opt.vega(), opt.rho()
        want["qrho"][i], want["theta"][i] = opt.dividendRho(), opt.theta()
    inputs = {k: c[k] for k in ["spot", "strike", "vol", "rate", "div", "is_call"]}
    inputs["expiry"] = c["days"] / 365.0
    if kind == "cash":
        inputs["cash"] = c["cash"]
        prog = ad.record(cash_or_nothing_price)
        scale = c["cash"]
    else:
        prog = ad.record(asset_or_nothing_price)
        scale = c["spot"]
    g = prog.grad(inputs, wrt=["spot", "vol", "rate", "div", "expiry"])
    h = prog.hvp(inputs, {"spot": 1.0}, wrt=["spot"])
    assert_close(g.value, want["v"], 1e-10, 1e-13 * scale, f"{kind} price")
    assert_close(g.grad["spot"], want["delta"], 1e-9, 1e-11 * scale / c["spot"], "delta")
    assert_close(h.hvp["spot"], want["gamma"], 1e-8, 1e-10 * scale / c["spot"] ** 2, "gamma")
    assert_close(g.grad["vol"], want["vega"], 1e-9, 1e-11 * scale, "vega")
    assert_close(g.grad["rate"], want["rho"], 1e-9, 1e-11 * scale, "rho")
    assert_close(g.grad["div"], want["qrho"], 1e-9, 1e-11 * scale, "dividend rho")
    # QuantLib's theta is dV/dt (calendar time) = -dV/dT
    assert_close(-g.grad["expiry"], want["theta"], 1e-9, 1e-11 * scale, "theta")


def test_digitals_sum_to_vanilla():
    c = _digital_cases(23)
    args = {k: c[k] for k in ["spot", "strike", "vol", "rate", "div", "is_call"]}
    args["expiry"] = c["days"] / 365.0
    from aadrisk.models import bsm_price
    w = 2.0 * c["is_call"] - 1.0
    van = w * (asset_or_nothing_price(**args) - cash_or_nothing_price(**args, cash=c["strike"]))
    assert_close(van, bsm_price(**args), 1e-11, 1e-12 * c["spot"], "AoN - K CoN = vanilla")


def test_mixed_batch_one_program_call_matches_floats():
    c = _fwd_cases(31)
    prog = ad.record(black_price)
    res = prog.value(c).value
    per = [black_price(**{k: float(v[i]) for k, v in c.items()}) for i in range(N)]
    assert_close(res, per, 1e-14, 1e-14 * c["forward"], "batch vs float")
    cn = _fwd_cases(32, normal=True)
    res = ad.record(bachelier_price).value(cn).value
    per = [bachelier_price(**{k: float(v[i]) for k, v in cn.items()}) for i in range(N)]
    assert_close(res, per, 1e-14, 1e-14 * cn["forward"], "bachelier batch vs float")
    d = _digital_cases(33)
    args = {k: d[k] for k in ["spot", "strike", "vol", "rate", "div", "is_call", "cash"]}
    args["expiry"] = d["days"] / 365.0
    res = ad.record(cash_or_nothing_price).value(args).value
    per = [cash_or_nothing_price(**{k: float(v[i]) for k, v in args.items()})
           for i in range(d["spot"].size)]
    assert_close(res, per, 1e-14, 1e-15 * d["cash"], "digital batch vs float")
