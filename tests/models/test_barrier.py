"""Single barrier options against QuantLib's AnalyticBarrierEngine (oracle only).

* Haug's table (E. G. Haug, *Option Pricing Formulas*, McGraw-Hill 1998, p. 72,
  as reproduced in QuantLib's test-suite/barrieroption.cpp, testHaugValues):
  S=100, q=0.04, r=0.08, T=0.5, rebate 3, published to 4 decimals.
* Seeded random books: prices to 1e-10 relative (absolute floor 1e-12 x spot).
* Greeks from one Program.grad / hvp against central differences of QuantLib
  prices (QuantLib has no analytic barrier Greeks): relative bump 1e-4 (spot:
  1e-4 x spot), tolerance 1e-6 relative + 1e-8 x natural scale (gamma 1e-4).
* Identities: knock-in + knock-out = vanilla (no rebate); breached barrier
  convention (out = rebate, in = vanilla); mixed book = one Program call.
"""
from __future__ import annotations

import numpy as np
import pytest

import aadrisk as ad
from aadrisk.models import barrier_price, bsm_price

from _qlsetup import assert_close, bsm_process, central_diff, setup_today

ql = pytest.importorskip("QuantLib")

# (type, barrier, strike, vol, is_call, value) -- Haug (1998) p. 72 via QuantLib test-suite
HAUG = [
    ("DownOut", 95.0, 90, 0.25, 1, 9.0246), ("DownOut", 95.0, 100, 0.25, 1, 6.7924),
    ("DownOut", 95.0, 110, 0.25, 1, 4.8759), ("DownOut", 100.0, 90, 0.25, 1, 3.0000),
    ("DownOut", 100.0, 100, 0.25, 1, 3.0000), ("DownOut", 100.0, 110, 0.25, 1, 3.0000),
    ("UpOut", 105.0, 90, 0.25, 1, 2.6789), ("UpOut", 105.0, 100, 0.25, 1, 2.3580),
    ("UpOut", 105.0, 110, 0.25, 1, 2.3453),
    ("DownIn", 95.0, 90, 0.25, 1, 7.7627), ("DownIn", 95.0, 100, 0.25, 1, 4.0109),
    ("DownIn", 95.0, 110, 0.25, 1, 2.0576), ("DownIn", 100.0, 90, 0.25, 1, 13.8333),
    ("DownIn", 100.0, 100, 0.25, 1, 7.8494), ("DownIn", 100.0, 110, 0.25, 1, 3.9795),
    ("UpIn", 105.0, 90, 0.25, 1, 14.1112), ("UpIn", 105.0, 100, 0.25, 1, 8.4482),
    ("UpIn", 105.0, 110, 0.25, 1, 4.5910),
    ("DownOut", 95.0, 90, 0.30, 1, 8.8334), ("UpOut", 105.0, 110, 0.30, 1, 2.4315),
    ("DownIn", 95.0, 110, 0.30, 1, 2.8517), ("UpIn", 105.0, 100, 0.30, 1, 9.7278),
    ("DownOut", 95.0, 90, 0.25, 0, 2.2798), ("DownOut", 95.0, 100, 0.25, 0, 2.2947),
    ("DownOut", 95.0, 110, 0.25, 0, 2.6252), ("DownOut", 100.0, 100, 0.25, 0, 3.0000),
    ("UpOut", 105.0, 90, 0.25, 0, 3.7760), ("UpOut", 105.0, 100, 0.25, 0, 5.4932),
    ("UpOut", 105.0, 110, 0.25, 0, 7.5187),
    ("DownIn", 95.0, 90, 0.25, 0, 2.9586), ("DownIn", 95.0, 100, 0.25, 0, 6.5677),
    ("DownIn", 95.0, 110, 0.25, 0, 11.9752), ("DownIn", 100.0, 90, 0.25, 0, 2.2845),
    ("DownIn", 100.0, 100, 0.25, 0, 5.9085), ("DownIn", 100.0, 110, 0.25, 0, 11.6465),
    ("UpIn", 105.0, 90, 0.25, 0, 1.4653), ("UpIn", 105.0, 100, 0.25, 0, 3.3721),
    ("UpIn", 105.0, 110, 0.25, 0, 7.0846),
    ("DownOut", 95.0, 110, 0.30, 0, 2.6246), ("UpOut", 105.0, 90, 0.30, 0, 4.2293),
    ("DownIn", 95.0, 100, 0.30, 0, 7.7989), ("UpIn", 105.0, 110, 0.30, 0, 8.3686),
]


def _flags(kind):
    return float(kind.startswith("Down")), float(kind.endswith("In"))


def test_haug_table_one_program_call():
    down, is_in = np.array([_flags(k) for k, *_ in HAUG]).T
    inputs = dict(spot=100.0, strike=np.array([r[2] for r in HAUG], float),
                  barrier=np.array([r[1] for r in HAUG]), rebate=3.0, expiry=0.5,
                  vol=np.array([r[3] for r in HAUG]), rate=0.08, div=0.04,
                  is_call=np.array([r[4] for r in HAUG], float), is_down=down, is_in=is_in)
    got = ad.record(barrier_price).value(inputs).value
    want = np.array([r[5] for r in HAUG])
    # the published figures are not all correctly rounded; 1e-4 is QuantLib's own tolerance
    assert np.max(np.abs(got - want)) <= 1e-4, np.c_[got, want]


def _random_book(seed, n, rebate=True):
    rng = np.random.default_rng(seed)
    S = rng.uniform(80.0, 120.0, n)
    down = rng.integers(0, 2, n).astype(float)
    dist = rng.uniform(0.03, 0.3, n)
    H = np.where(down > 0.5, S * (1.0 - dist), S * (1.0 + dist))
    return dict(spot=S, strike=S * np.exp(rng.uniform(-0.3, 0.3, n)), barrier=H,
                rebate=rng.uniform(0.0, 5.0, n) if rebate else 0.0,
                days=rng.integers(20, 3 * 365, n), vol=rng.uniform(0.1, 0.5, n),
                rate=rng.uniform(-0.01, 0.08, n), div=rng.uniform(0.0, 0.06, n),
                is_call=rng.integers(0, 2, n).astype(float), is_down=down,
                is_in=rng.integers(0, 2, n).astype(float))


def _inputs(b):
    d = {k: v for k, v in b.items() if k != "days"}
    d["expiry"] = b["days"] / 365.0
    return d


def _ql_option(today, b, i):
    kinds = {(1, 1): ql.Barrier.DownIn, (1, 0): ql.Barrier.DownOut,
             (0, 1): ql.Barrier.UpIn, (0, 0): ql.Barrier.UpOut}
    typ = ql.Option.Call if b["is_call"][i] else ql.Option.Put
    reb = b["rebate"][i] if np.ndim(b["rebate"]) else b["rebate"]
    opt = ql.BarrierOption(kinds[int(b["is_down"][i]), int(b["is_in"][i])], b["barrier"][i],
                           float(reb), ql.PlainVanillaPayoff(typ, b["strike"][i]),
                           ql.EuropeanExercise(today + int(b["days"][i])))
    proc, quotes = bsm_process(today, b["spot"][i], b["rate"][i], b["div"][i], b["vol"][i])
    opt.setPricingEngine(ql.AnalyticBarrierEngine(proc))
    return opt, quotes


def test_prices_and_greeks_vs_quantlib():
    n = 160
    b = _random_book(41, n)
    today = setup_today()
    prog = ad.record(barrier_price)
    inputs = _inputs(b)
    g = prog.grad(inputs, wrt=["spot", "vol", "rate", "div", "barrier"])
    h = prog.hvp(inputs, {"spot": 1.0}, wrt=["spot"])
    want = {k: np.empty(n) for k in ["v", "delta", "gamma", "vega", "rho", "qrho"]}
    for i in range(n):
        opt, q = _ql_option(today, b, i)
        want["v"][i] = opt.NPV()
        hs = 1e-4 * b["spot"][i]
        want["delta"][i] = central_diff(opt.NPV, q["spot"], hs)
        x0 = q["spot"].value()
        q["spot"].setValue(x0 + hs)
        up = opt.NPV()
        q["spot"].setValue(x0 - hs)
        dn = opt.NPV()
        q["spot"].setValue(x0)
        want["gamma"][i] = (up - 2.0 * want["v"][i] + dn) / hs ** 2
        want["vega"][i] = central_diff(opt.NPV, q["vol"], 1e-4 * b["vol"][i])
        want["rho"][i] = central_diff(opt.NPV, q["rate"], 1e-5)
        want["qrho"][i] = central_diff(opt.NPV, q["div"], 1e-5)
    S = b["spot"]
    assert_close(g.value, want["v"], 1e-10, 1e-12 * S, "price")
    assert_close(prog.value(inputs).value, g.value, 0.0, 0.0, "value == grad value")
    assert_close(g.grad["spot"], want["delta"], 1e-6, 1e-8, "delta")
    assert_close(h.hvp["spot"], want["gamma"], 1e-4, 1e-6 / S, "gamma")
    assert_close(g.grad["vol"], want["vega"], 1e-6, 1e-8 * S, "vega")
    assert_close(g.grad["rate"], want["rho"], 1e-6, 1e-8 * S, "rho")
    assert_close(g.grad["div"], want["qrho"], 1e-6, 1e-8 * S, "dividend rho")


def test_in_plus_out_is_vanilla():
    b = _random_book(43, 400, rebate=False)
    x = _inputs(b)
    vin = barrier_price(**{**x, "is_in": 1.0})
    vout = barrier_price(**{**x, "is_in": 0.0})
    van = bsm_price(spot=x["spot"], strike=x["strike"], expiry=x["expiry"], vol=x["vol"],
                    rate=x["rate"], div=x["div"], is_call=x["is_call"])
    assert_close(vin + vout, van, 1e-11, 1e-12 * x["spot"], "in + out")
    # and on the tape, including the sum of gradients
    p = ad.record(lambda **k: barrier_price(**{**k, "is_in": 1.0})
                  + barrier_price(**{**k, "is_in": 0.0}),
                  inputs=[k for k in x if k != "is_in"])
    q = ad.record(bsm_price)
    xi = {k: v for k, v in x.items() if k != "is_in"}
    g1 = p.grad(xi, wrt=["spot", "vol"])
    g2 = q.grad({k: x[k] for k in ["spot", "strike", "expiry", "vol", "rate", "div",
                                   "is_call"]}, wrt=["spot", "vol"])
    assert_close(g1.grad["spot"], g2.grad["spot"], 1e-9, 1e-11, "delta in + out")
    assert_close(g1.grad["vol"], g2.grad["vol"], 1e-9, 1e-9 * x["spot"], "vega in + out")


def test_breached_barrier_convention_and_continuity():
    today = setup_today()
    base = dict(strike=100.0, rebate=2.5, expiry=0.75, vol=0.3, rate=0.03, div=0.01)
    for down, H in [(1.0, 95.0), (0.0, 105.0)]:
        for is_call in (0.0, 1.0):
            beyond = H - 1.0 if down else H + 1.0
            van = bsm_price(spot=beyond, strike=100.0, expiry=0.75, vol=0.3, rate=0.03,
                            div=0.01, is_call=is_call)
            kw = dict(base, barrier=H, is_call=is_call, is_down=down)
            assert barrier_price(spot=beyond, is_in=0.0, **kw) == 2.5
            assert barrier_price(spot=beyond, is_in=1.0, **kw) == pytest.approx(van, rel=1e-15)
            # QuantLib refuses a breached barrier
            b = dict(spot=np.array([beyond]), strike=np.array([100.0]), barrier=np.array([H]),
                     rebate=2.5, days=np.array([274]), rate=np.array([0.03]),
                     div=np.array([0.01]), vol=np.array([0.3]), is_call=np.array([is_call]),
                     is_down=np.array([down]), is_in=np.array([0.0]))
            opt, _ = _ql_option(today, b, 0)
            with pytest.raises(RuntimeError, match="touched"):
                opt.NPV()
            # continuity at the barrier: approaching from the live side
            for is_in in (0.0, 1.0):
                at = barrier_price(spot=H, is_in=is_in, **kw)
                van_h = bsm_price(spot=H, strike=100.0, expiry=0.75, vol=0.3, rate=0.03,
                                  div=0.01, is_call=is_call)
                assert at == pytest.approx(van_h if is_in else 2.5, rel=1e-12, abs=1e-12)


def test_mixed_book_one_program_call_matches_floats():
    b = _random_book(47, 256)
    x = _inputs(b)
    res = ad.record(barrier_price).value(x).value
    per = [barrier_price(**{k: float(v[i]) if np.ndim(v) else v for k, v in x.items()})
           for i in range(256)]
    assert_close(res, per, 1e-13, 1e-13 * x["spot"], "batch vs float")
    assert len({(a, c, d) for a, c, d in zip(x["is_call"], x["is_down"], x["is_in"])}) == 8
