"""Fixed-rate bonds: curve prices, accrued, yields and DV01 vs QuantLib FixedRateBond /
BondFunctions; par-quote deltas vs bump-rebootstrap-reprice."""
from __future__ import annotations

import doctest
from datetime import date

import numpy as np
import pytest
from _rates_helpers import VAL, qdate, ql_curve, spec

from aadrisk.market import bonds as bonds_mod
from aadrisk.market.bonds import FixedRateBond, bond_yield, price_from_yield, risk_bonds
from aadrisk.market.bootstrap import CurveBuilder

ql = pytest.importorskip("QuantLib")

BOOK = [FixedRateBond("T5", date(2022, 3, 1), date(2029, 3, 1), 0.035, 1e6),
        FixedRateBond("T10", date(2023, 11, 15), date(2033, 11, 15), 0.045, 2e6),
        FixedRateBond("ON", date(2023, 1, 15), date(2027, 1, 15), 0.04, 1e6),   # coupon today
        FixedRateBond("A30", date(2020, 6, 30), date(2050, 6, 30), 0.0275, 5e6, "1Y", "ACT/365F"),
        FixedRateBond("Q", date(2023, 8, 31), date(2026, 8, 31), 0.05, 1e6, "3M", "ACT/360",
                      convention="MF", payment_convention="MF"),
        FixedRateBond("WE", date(2023, 5, 14), date(2028, 5, 14), 0.03, -1e6)]   # Sunday end
DC = {"30/360": lambda: ql.Thirty360(ql.Thirty360.BondBasis), "ACT/360": ql.Actual360,
      "ACT/365F": ql.Actual365Fixed}
BDC = {"U": ql.Unadjusted, "F": ql.Following, "MF": ql.ModifiedFollowing}


def ql_bond(b, h):
    cal = ql.WeekendsOnly()
    freq = {"3M": ql.Quarterly, "6M": ql.Semiannual, "1Y": ql.Annual}[b.frequency]
    sch = ql.Schedule(qdate(b.issue), qdate(b.maturity), ql.Period(b.frequency), cal,
                      BDC[b.convention], BDC[b.convention], ql.DateGeneration.Backward, False)
    bond = ql.FixedRateBond(0, 100.0, sch, [b.coupon], DC[b.day_count](),
                            BDC[b.payment_convention], 100.0, qdate(b.issue), cal)
    bond.setPricingEngine(ql.DiscountingBondEngine(h))
    return bond, freq


@pytest.fixture(scope="module")
def setup():
    bld = CurveBuilder([spec()], VAL)
    cs = bld.solve()
    return bld, cs, risk_bonds(BOOK, cs)


def test_vs_quantlib(setup):
    _, cs, r = setup
    curve, _ = ql_curve()
    h = ql.YieldTermStructureHandle(curve)
    p = r.prices
    errs = {}
    for i, b in enumerate(BOOK):
        qb, freq = ql_bond(b, h)
        dc = DC[b.day_count]()
        errs.setdefault("dirty", []).append(abs(p["dirty"][i] - qb.dirtyPrice()))
        errs.setdefault("clean", []).append(abs(p["clean"][i] - qb.cleanPrice()))
        errs.setdefault("accrued", []).append(abs(p["accrued"][i] - qb.accruedAmount()))
        y_ql = ql.BondFunctions.bondYield(qb, ql.BondPrice(qb.cleanPrice(), ql.BondPrice.Clean),
                                          dc, ql.Compounded, freq, qdate(VAL), 1e-14, 100, 0.05)
        errs.setdefault("yield", []).append(abs(p["yield"][i] - y_ql))
        ir = ql.InterestRate(p["yield"][i], dc, ql.Compounded, freq)
        errs.setdefault("clean_from_yield", []).append(
            abs(price_from_yield(b, VAL, p["yield"][i], clean=True)
                - ql.BondFunctions.cleanPrice(qb, ir, qdate(VAL))))
        md = ql.BondFunctions.duration(qb, ir, ql.Duration.Modified, qdate(VAL))
        errs.setdefault("mod_duration", []).append(abs(p["mod_duration"][i] - md) / md)
        dv01_ql = md * qb.dirtyPrice() * 1e-4 * b.notional / 100.0
        errs.setdefault("dv01_rel", []).append(abs(p["dv01_ccy_per_bp"][i] - dv01_ql)
                                               / abs(dv01_ql))
        # QuantLib's basisPointValue adds the convexity term 0.5 P'' (1bp)^2 (per 100 face)
        bpv = ql.BondFunctions.basisPointValue(qb, ir, qdate(VAL))
        cx = ql.BondFunctions.convexity(qb, ir, qdate(VAL))
        ours_bpv = -p["dv01_ccy_per_bp"][i] * 100.0 / b.notional + 0.5 * cx * qb.dirtyPrice() * 1e-8
        errs.setdefault("bpv_rel", []).append(abs(ours_bpv - bpv) / abs(bpv))
    m = {k: max(v) for k, v in errs.items()}
    print(m)
    assert m["dirty"] < 1e-10 and m["clean"] < 1e-10 and m["accrued"] < 1e-12
    assert m["yield"] < 1e-12 and m["clean_from_yield"] < 1e-10
    assert m["mod_duration"] < 1e-10 and m["dv01_rel"] < 1e-10 and m["bpv_rel"] < 1e-10
    assert p["accrued"][2] == 0.0 and np.all(p["dv01_ccy_per_bp"][[0, 1, 2, 3, 4]] > 0)
    assert p["dv01_ccy_per_bp"][5] < 0      # short position


def test_par_deltas_vs_bump_rebootstrap(setup):
    bld, cs, r = setup
    h = 1e-6
    fd = np.empty_like(r.dv_dq)
    for k in range(len(cs.quotes)):
        up, dn = cs.quotes.copy(), cs.quotes.copy()
        up[k] += h
        dn[k] -= h
        fd[:, k] = (risk_bonds(BOOK, bld.solve(up)).prices["pv"].to_numpy()
                    - risk_bonds(BOOK, bld.solve(dn)).prices["pv"].to_numpy()) / (2 * h)
    err = np.max(np.abs(r.dv_dq - fd) / np.abs(r.dv_dq).max(axis=1, keepdims=True))
    print("max rel par-delta err", err)
    assert err < 1e-6
    g = r.greeks
    assert list(g.columns) == ["trade", "label", "value", "unit"]
    assert len(g) == len(BOOK) * len(cs.quotes) and set(g["label"]) == set(cs.quote_labels)
    assert np.array_equal(g["value"].to_numpy(), r.dv_dq.ravel())


def test_yield_roundtrip_and_errors(setup):
    _, cs, r = setup
    y = bond_yield(BOOK, VAL, r.prices["clean"].to_numpy())
    assert np.allclose(y, r.prices["yield"], rtol=0, atol=1e-14)
    # DV01 against a finite difference of price_from_yield
    for i, b in enumerate(BOOK):
        hh = 1e-6
        fd = (price_from_yield(b, VAL, y[i] - hh) - price_from_yield(b, VAL, y[i] + hh)) / (2 * hh)
        assert r.prices["dv01_ccy_per_bp"][i] == pytest.approx(fd * 1e-4 * b.notional / 100,
                                                               rel=1e-7)
    with pytest.raises(ValueError, match="matured"):
        risk_bonds([FixedRateBond("M", date(2020, 1, 1), date(2023, 1, 1), 0.03)], cs)
    with pytest.raises(ValueError, match="frequency"):
        risk_bonds([FixedRateBond("F", date(2023, 1, 1), date(2030, 1, 1), 0.03,
                                  frequency="5M")], cs)
    with pytest.raises(ValueError, match="not in the curve set"):
        risk_bonds([FixedRateBond("C", date(2023, 1, 1), date(2030, 1, 1), 0.03,
                                  discount="EUR")], cs)


def test_doctests():
    assert doctest.testmod(bonds_mod).failed == 0


def test_tape_yield_ift_first_and_second_order(setup):
    """Yield on the tape (unrolled Newton + custom IFT derivative) vs bond_yield and FD."""
    import aadrisk as ad
    from aadrisk.market.bonds import bond_cashflows, tape_yield
    _, cs, r = setup
    for i in (0, 3, 4):
        b = BOOK[i]
        _, cf, T, _ = bond_cashflows(b, VAL)
        f = {"3M": 4.0, "6M": 2.0, "1Y": 1.0}[b.frequency]
        prog = ad.record(lambda *, p: tape_yield(p, list(cf), list(T), f))
        p0 = float(r.prices["dirty"][i])
        res = prog.grad({"p": p0})
        assert float(res.value[0]) == pytest.approx(r.prices["yield"][i], abs=1e-14)
        hh = 1e-4
        yu, yd = bond_yield([b, b], VAL, [p0 + hh, p0 - hh], clean=False)
        assert float(res.grad["p"]) == pytest.approx((yu - yd) / (2 * hh), rel=1e-7)
        hv = prog.hvp({"p": p0}, {"p": 1.0})
        gu = float(prog.grad({"p": p0 + hh}).grad["p"])
        gd = float(prog.grad({"p": p0 - hh}).grad["p"])
        assert float(hv.hvp["p"]) == pytest.approx((gu - gd) / (2 * hh), rel=1e-6)


def test_end_of_month_bonds_vs_quantlib(setup):
    """Bonds maturing on a month end with the end-of-month rule (coupons on month ends,
    Feb 28/29 included) against QuantLib FixedRateBond on Schedule(..., endOfMonth=True):
    dirty, clean and accrued to 1e-10."""
    _, cs, _ = setup
    curve, _ = ql_curve()
    h = ql.YieldTermStructureHandle(curve)
    bonds = [FixedRateBond("E1", date(2023, 8, 31), date(2030, 2, 28), 0.0425, 1e6, eom=True),
             FixedRateBond("E2", date(2023, 11, 30), date(2028, 5, 31), 0.03, 2e6, "3M",
                           "ACT/365F", eom=True),
             FixedRateBond("E3", date(2022, 4, 30), date(2027, 4, 30), 0.05, 1e6, "1Y",
                           "ACT/360", convention="MF", payment_convention="MF", eom=True)]
    r = risk_bonds(bonds, cs).prices
    for i, b in enumerate(bonds):
        sch = ql.Schedule(qdate(b.issue), qdate(b.maturity), ql.Period(b.frequency),
                          ql.WeekendsOnly(), BDC[b.convention], BDC[b.convention],
                          ql.DateGeneration.Backward, True)
        qb = ql.FixedRateBond(0, 100.0, sch, [b.coupon], DC[b.day_count](),
                              BDC[b.payment_convention], 100.0, qdate(b.issue), ql.WeekendsOnly())
        qb.setPricingEngine(ql.DiscountingBondEngine(h))
        assert r["dirty"][i] == pytest.approx(qb.dirtyPrice(), abs=1e-10)
        assert r["clean"][i] == pytest.approx(qb.cleanPrice(), abs=1e-10)
        assert r["accrued"][i] == pytest.approx(qb.accruedAmount(), abs=1e-10)
    # without the rule E1 would pay on the 28th of August, with it on the 31st
    from aadrisk.market.bonds import bond_cashflows
    plain = FixedRateBond("P", date(2023, 8, 31), date(2030, 2, 28), 0.0425, 1e6)
    assert bond_cashflows(plain, VAL)[0][1] == date(2024, 8, 28)
    # (31 Aug 2024 is a Saturday: paid on Monday 2 Sep, payment convention F)
    assert bond_cashflows(bonds[0], VAL)[0][:2] == [date(2024, 2, 29), date(2024, 9, 2)]
