"""Rates products in the Greek vectors (aadrisk.risk.products.rates) on the full market:
prices against QuantLib (on the same curves' discount factors), par deltas and vol-node
vegas against bump-rebootstrap-reprice of the whole market, identities (par instruments
reprice to zero, bucketed deltas / vegas sum to the parallel shift, zero rows chain to par
rows) and errors that name the trade, the field and the value."""
from __future__ import annotations

import copy
import datetime as dt
import json
import pathlib

import numpy as np
import pytest

from aadrisk.market.dates import add_tenor, adjust, schedule, year_fraction
from aadrisk.market.rate_options import CapFloor, Swaption, risk_rate_options
from aadrisk.market.snapshot import MarketData
from aadrisk.risk.greeks import SECOND_ORDER, greek_vectors, parse_greek_trade, price_book
from aadrisk.risk.products.rates import RATES_PRODUCTS

ROOT = pathlib.Path(__file__).resolve().parents[2]
RAW = json.loads((ROOT / "portfolios" / "market_full.json").read_text())
BOOK = json.loads((ROOT / "portfolios" / "rates_book.json").read_text())["trades"]
TRADES = [parse_greek_trade(t)[0] for t in BOOK]
QTY = np.array([t.quantity for t in TRADES])
IDX = {t.trade_id: i for i, t in enumerate(TRADES)}
VAL = dt.date(2024, 6, 28)


@pytest.fixture(scope="module")
def market():
    return MarketData.from_mapping(RAW)


@pytest.fixture(scope="module")
def report(market):
    rep = greek_vectors(TRADES, market)
    assert rep.ok, rep.errors
    return rep


def _h(label):
    if label.startswith("vol/EUR-"):
        return 1e-7            # normal vols (~0.009)
    return 1e-5 if label.startswith("vol/") else 1e-6


def _fd(bumps_up, bumps_dn, h, trades=TRADES, qty=QTY, raw=RAW):
    up = price_book(trades, MarketData.from_mapping(raw, bumps=bumps_up))
    dn = price_book(trades, MarketData.from_mapping(raw, bumps=bumps_dn))
    return qty * (up - dn) / (2.0 * h)


def test_book_is_priced_with_every_product(report):
    assert set(report.prices["product"]) == set(RATES_PRODUCTS)
    assert np.all(np.isfinite(report.prices["price"]))
    p = report.prices.set_index("trade")
    assert p.loc["EUR-SWP-10Y-PAY", "underlying"] == "EUR-EURIBOR-6M"    # forecast curve
    assert p.loc["EUR-ESTR-SWP-3Y", "underlying"] == "EUR-ESTR"
    assert p.loc["BUND-2.5-2034", "underlying"] == "EUR-ESTR"            # discount curve
    assert p.loc["EUR-CAP-4Y-3", "model"] == "bachelier"
    assert p.loc["USD-SWPTN-1Yx5Y-PAY", "model"] == "black"
    np.testing.assert_allclose(p["price"], p["quantity"] * p["unit_price"], rtol=0)


# ----------------------------------------------------------------------------- identities
def test_par_instruments_reprice_to_zero(market):
    """A swap at each swap quote (the curve's conventions are the trade defaults) and a FRA at
    the FRA quote are worth 0: |PV| / (notional x annuity) < 1e-12 (rate units)."""
    book = []
    for cname in ("USD-SOFR", "EUR-EURIBOR-6M"):
        c = RAW["curves"][cname]
        ccy = c["currency"]
        for q in c["quotes"]:
            if q["kind"] == "swap":
                book.append({"trade_id": f"{cname}-{q['tenor']}", "product": "swap",
                             "currency": ccy, "tenor": q["tenor"], "fixed_rate": q["rate"],
                             "notional": 1e8, "forecast": cname})
            if q["kind"] == "fra":
                book.append({"trade_id": f"{cname}-{q['tenor']}", "product": "fra",
                             "currency": ccy, "tenor": q["tenor"], "rate": q["rate"],
                             "notional": 1e8, "forecast": cname})
    rep = greek_vectors(book, market)
    assert rep.ok and len(rep.prices) == 9
    years = np.array([float(t["tenor"][:-1]) if t["product"] == "swap" else 0.5 for t in book])
    assert np.all(np.abs(rep.prices["price"].to_numpy()) < 1e-12 * 1e8 * years), rep.prices


def test_zero_rows_chain_to_par_rows(market, report):
    for tid, rows in report.zero_greeks.groupby("trade"):
        cname = report.prices.set_index("trade").loc[tid, "underlying"]
        cs = market.curve_sets[cname]
        dvdz = rows.set_index("label")["value"].reindex(cs.pillar_labels).fillna(0.0)
        g = report.greeks
        par = g[(g["trade"] == tid) & (g["greek"] == "par")].set_index("label")["value"]
        assert len(par) == len(rows)
        np.testing.assert_allclose(cs.par_sensitivities(dvdz.to_numpy()),
                                   par.reindex(cs.quote_labels).fillna(0.0), rtol=1e-12,
                                   atol=1e-9)


# ----------------------------------------------------------------------------- finite differences
@pytest.fixture(scope="module")
def fd_all(market):
    labels = [lab for lab in market.labels
              if lab.startswith("curve/") or lab.split("/")[1] in market.rate_vols]
    return {lab: _fd({lab: _h(lab)}, {lab: -_h(lab)}, _h(lab)) for lab in labels}


def test_vector_equals_bump_rebootstrap_reprice(report, fd_all):
    """Every par delta (h = 1e-6) and vol-node vega (h = 1e-5 lognormal, 1e-7 normal) against
    central differences of a full revaluation with the market re-parsed and the curves
    re-bootstrapped: 1e-7 relative (floor 1e-9 of the trade's largest Greek); every label a
    trade is exposed to is in its vector."""
    g = report.greeks[~report.greeks["greek"].isin(SECOND_ORDER + ("theta",))]
    for tid, rows in g.groupby("trade"):
        scale = np.abs(rows["value"]).max()
        labels = set(rows["label"])
        for _, row in rows.iterrows():
            if row["label"] not in fd_all:           # per-trade flat vols: below
                continue
            fd = fd_all[row["label"]][IDX[tid]]
            err = abs(row["value"] - fd)
            assert err <= 1e-7 * abs(fd) + 1e-9 * scale, (tid, row["label"], row["value"], fd)
        for lab, fd in fd_all.items():
            if lab not in labels:
                assert abs(fd[IDX[tid]]) <= 1e-9 * scale, (tid, lab, fd[IDX[tid]])
    kinds = set(g["greek"])
    assert kinds == {"par", "vega", "normal_vega"}


def test_bucketed_par_deltas_and_vegas_sum_to_parallel_shifts(market, report):
    g = report.greeks
    for ccy, names in (("USD", ["USD-SOFR"]), ("EUR", ["EUR-ESTR", "EUR-EURIBOR-6M"])):
        quotes = [lab for lab in market.labels if lab.split("/")[1] in names
                  and lab.startswith("curve/")]
        h = 1e-6
        fd = _fd({q: h for q in quotes}, {q: -h for q in quotes}, h)
        par = g[(g["greek"] == "par") & (g["currency"] == ccy)].groupby("trade")["value"].sum()
        for tid, v in par.items():
            assert abs(v - fd[IDX[tid]]) <= 1e-7 * abs(fd[IDX[tid]]) + 1e-6, (tid, v, fd[IDX[tid]])
    for name, src in market.rate_vols.items():
        h = _h(f"vol/{name}")
        fd = _fd({n: h for n in src.labels}, {n: -h for n in src.labels}, h)
        vg = g[g["label"].str.startswith(f"vol/{name}/")].groupby("trade")["value"].sum()
        assert len(vg) > 0
        for tid, v in vg.items():
            assert abs(v - fd[IDX[tid]]) <= 1e-7 * abs(fd[IDX[tid]]), (name, tid)


def test_flat_vol_trades_equal_market_layer(market, report):
    """A per-trade 'vol' (backward compatible) prices as aadrisk.market.rate_options with that
    vol; its vega is labelled capvol/<TRADE> or swaptionvol/<TRADE>."""
    cs_usd, cs_eur = market.curve_sets["USD-SOFR"], market.curve_sets["EUR-ESTR"]
    cap = CapFloor("USD-CAP-2Y-FLATVOL", "2Y", 0.05, 5e6, 0.3, float_tenor="1Y",
                   forecast="USD-SOFR", discount="USD-SOFR")
    swo = Swaption("EUR-SWPTN-18Mx4Y-FLATVOL", "18M", "4Y", 0.028, 8e6, 0.009, payer=False,
                   model="bachelier", fixed_dc="30/360", float_tenor="6M",
                   forecast="EUR-EURIBOR-6M", discount="EUR-ESTR")
    p = report.prices.set_index("trade")["price"]
    g = report.greeks
    for tr, cs, lab in ((cap, cs_usd, "capvol/"), (swo, cs_eur, "swaptionvol/")):
        r = risk_rate_options([tr], cs)
        assert p[tr.trade_id] == pytest.approx(r.prices["price"][0], rel=1e-14)
        row = g[(g["trade"] == tr.trade_id) & (g["label"] == lab + tr.trade_id)]
        assert len(row) == 1 and row["value"].iloc[0] == pytest.approx(r.vega[0], rel=1e-13)
        h = 1e-6 * tr.vol
        up = risk_rate_options([dataclass_replace(tr, vol=tr.vol + h)], cs).prices["price"][0]
        dn = risk_rate_options([dataclass_replace(tr, vol=tr.vol - h)], cs).prices["price"][0]
        assert row["value"].iloc[0] == pytest.approx((up - dn) / (2 * h), rel=1e-7)


def dataclass_replace(obj, **kw):
    import dataclasses
    return dataclasses.replace(obj, **kw)


def test_flat_caplet_vols_equal_a_flat_vol(market):
    raw = copy.deepcopy(RAW)
    raw["rate_vols"]["USD-CAPLET"]["vols"] = [0.27] * 6
    m = MarketData.from_mapping(raw)
    a = {"trade_id": "A", "product": "cap_floor", "currency": "USD", "option_type": "floor",
         "tenor": "4Y", "strike": 0.04, "notional": 1e6, "float_tenor": "3M"}
    b = {**a, "trade_id": "B", "vol": 0.27}
    rep = greek_vectors([a, b], m)
    assert rep.ok
    pa, pb = rep.prices["price"]
    assert pa == pytest.approx(pb, rel=1e-14)
    g = rep.greeks
    va = g[(g["trade"] == "A") & (g["greek"] == "vega")]["value"].sum()
    vb = g[(g["trade"] == "B") & (g["greek"] == "vega")]["value"].sum()
    assert va == pytest.approx(vb, rel=1e-12)


# ----------------------------------------------------------------------------- QuantLib
ql = pytest.importorskip("QuantLib")


def _qd(d):
    return ql.Date(d.day, d.month, d.year)


def _handle(market, name):
    """QuantLib DiscountCurve through our pillar DFs (log-linear in DF = loglinear_df)."""
    ql.Settings.instance().evaluationDate = _qd(VAL)
    cs = market.curve_sets[name]
    c = cs.curves[name]
    dates = [_qd(VAL) + int(round(t * 365)) for t in c.times]
    crv = ql.DiscountCurve([_qd(VAL)] + dates, [1.0] + list(np.exp(-c.zeros * c.times)),
                           ql.Actual365Fixed())
    crv.enableExtrapolation()
    return ql.YieldTermStructureHandle(crv)


DCS = {"ACT/360": ql.Actual360, "ACT/365F": ql.Actual365Fixed,
       "30/360": lambda: ql.Thirty360(ql.Thirty360.BondBasis)}
BDC = {"U": ql.Unadjusted, "F": ql.Following, "MF": ql.ModifiedFollowing}


def _index(tenor, dc, hf):
    return ql.IborIndex("I", ql.Period(tenor), 0, ql.USDCurrency(), ql.WeekendsOnly(),
                        ql.ModifiedFollowing, False, DCS[dc](), hf)


def _conv(ccy_curve, key):
    return RAW["curves"][ccy_curve]["conventions"].get(key)


def _ql_swap(t, start, hd, hf, fcurve, strike=None, typ=None):
    cal = ql.WeekendsOnly()
    ft = t.get("fixed_tenor") or _conv(fcurve, "fixed_tenor")
    fdc = t.get("fixed_dc") or _conv(fcurve, "fixed_dc")
    lt = t.get("float_tenor") or _conv(fcurve, "float_tenor")
    ldc = t.get("float_dc") or _conv(fcurve, "float_dc")
    end = add_tenor(start, t["tenor"])
    fs = ql.Schedule(_qd(start), _qd(end), ql.Period(ft), cal, ql.ModifiedFollowing,
                     ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    fl = ql.Schedule(_qd(start), _qd(end), ql.Period(lt), cal, ql.ModifiedFollowing,
                     ql.ModifiedFollowing, ql.DateGeneration.Backward, False)
    if typ is None:
        typ = ql.Swap.Payer if t.get("payer", True) else ql.Swap.Receiver
    sw = ql.VanillaSwap(typ, t["notional"], fs, t["fixed_rate"] if strike is None else strike,
                        DCS[fdc](), fl, _index(lt, ldc, hf), 0.0, DCS[ldc]())
    sw.setPricingEngine(ql.DiscountingSwapEngine(hd))
    return sw


def _curves_of(t):
    if t["currency"] == "USD":
        return "USD-SOFR", "USD-SOFR"
    return t.get("forecast", "EUR-EURIBOR-6M"), "EUR-ESTR"


def _swaption_vol(market, name, T, tenor_years):
    """Independent bilinear interpolation (np.interp: linear, flat outside)."""
    s = RAW["rate_vols"][name]
    tt = np.array([(add_tenor(VAL, e) - VAL).days / 365.0 for e in s["expiries"]])
    ty = np.array([float(x[:-1]) / (12.0 if x.endswith("M") else 1.0) for x in s["tenors"]])
    per_expiry = [np.interp(tenor_years, ty, row) for row in s["vols"]]
    return float(np.interp(T, tt, per_expiry))


def _caplet_vol(name, T):
    s = RAW["rate_vols"][name]
    tt = np.array([(add_tenor(VAL, e) - VAL).days / 365.0 for e in s["expiries"]])
    return float(np.interp(T, tt, s["vols"]))


def _ql_price(t, market):
    fcn, dcn = _curves_of(t)
    hd, hf = _handle(market, dcn), _handle(market, fcn)
    cal = ql.WeekendsOnly()
    p = t["product"]
    if p == "swap":
        start = dt.date.fromisoformat(t["start"]) if "start" in t else VAL
        return _ql_swap(t, start, hd, hf, fcn).NPV()
    if p == "fra":
        a, b = (int(x) for x in t["tenor"].split("x"))
        s = adjust(add_tenor(VAL, f"{a}M"), "MF")
        e = adjust(add_tenor(s, f"{b - a}M"), "MF")
        tau = year_fraction(s, e, _conv(fcn, "depo_dc") or "ACT/360")
        fwd = (hf.discount(_qd(s)) / hf.discount(_qd(e)) - 1.0) / tau
        sign = 1.0 if t.get("payer", True) else -1.0
        return sign * t["notional"] * (fwd - t["rate"]) * tau * hd.discount(_qd(e))
    if p == "bond":
        dcb = t.get("day_count", "30/360")
        sch = ql.Schedule(_qd(dt.date.fromisoformat(t["issue"])),
                          _qd(dt.date.fromisoformat(t["maturity"])), ql.Period(t["frequency"]),
                          cal, ql.Unadjusted, ql.Unadjusted, ql.DateGeneration.Backward, False)
        bond = ql.FixedRateBond(0, t["notional"], sch, [t["coupon"]], DCS[dcb](), ql.Following,
                                100.0, _qd(dt.date.fromisoformat(t["issue"])), cal)
        bond.setPricingEngine(ql.DiscountingBondEngine(hd))
        return bond.NPV()
    black = RAW["rate_vols"][f"{t['currency']}-SWPN"]["model"] == "black" if "vol" not in t \
        else t.get("model", "black") == "black"
    if p == "cap_floor":
        lt = t.get("float_tenor") or _conv(fcn, "float_tenor")
        ldc = t.get("float_dc") or _conv(fcn, "float_dc")
        sch = schedule(VAL, add_tenor(VAL, t["tenor"]), lt, "MF")[1:]
        name = f"{t['currency']}-CAPLET"
        black = (RAW["rate_vols"][name]["model"] == "black") if "vol" not in t else \
            t.get("model", "black") == "black"
        total = 0.0
        for s, e in zip(sch[:-1], sch[1:]):      # one QuantLib caplet per period, its own vol
            vol = t["vol"] if "vol" in t else _caplet_vol(name, (s - VAL).days / 365.0)
            qs = ql.Schedule(ql.DateVector([_qd(s), _qd(e)]), cal, ql.ModifiedFollowing)
            leg = ql.IborLeg([t["notional"]], qs, _index(lt, ldc, hf), DCS[ldc](),
                             ql.ModifiedFollowing, fixingDays=[0])
            cf = (ql.Cap if t["option_type"] == "cap" else ql.Floor)(leg, [t["strike"]])
            vq = ql.QuoteHandle(ql.SimpleQuote(vol))
            cf.setPricingEngine(ql.BlackCapFloorEngine(hd, vq, ql.Actual365Fixed()) if black
                                else ql.BachelierCapFloorEngine(hd, vq))
            total += cf.NPV()
        return total
    # swaption
    x = adjust(add_tenor(VAL, t["expiry"]), "MF")
    T = (x - VAL).days / 365.0
    ty = float(t["tenor"][:-1]) / (12.0 if t["tenor"].endswith("M") else 1.0)
    vol = t["vol"] if "vol" in t else _swaption_vol(market, f"{t['currency']}-SWPN", T, ty)
    typ = ql.Swap.Payer if t.get("payer", True) else ql.Swap.Receiver
    sw = _ql_swap({**t, "fixed_rate": t["strike"]}, x, hd, hf, fcn, typ=typ)
    so = ql.Swaption(sw, ql.EuropeanExercise(_qd(x)))
    vq = ql.QuoteHandle(ql.SimpleQuote(vol))
    so.setPricingEngine(ql.BlackSwaptionEngine(hd, vq, ql.Actual365Fixed()) if black else
                        ql.BachelierSwaptionEngine(hd, vq, ql.Actual365Fixed()))
    return so.NPV()


def test_prices_vs_quantlib(market, report):
    """Every trade of the book against QuantLib (VanillaSwap, caplets with BlackCapFloorEngine /
    BachelierCapFloorEngine at the independently interpolated caplet vol, Black / Bachelier
    swaption engines at the interpolated matrix vol, FixedRateBond) on discount curves
    through our pillar DFs: 1e-10 relative (or 1e-12 of the notional for at-par swaps)."""
    ours = report.prices.set_index("trade")["unit_price"]
    for t in BOOK:
        ref = _ql_price(t, market)
        assert abs(ours[t["trade_id"]] - ref) <= 1e-10 * abs(ref) + 1e-12 * t["notional"], (
            t["trade_id"], ours[t["trade_id"]], ref)


# ----------------------------------------------------------------------------- errors
def _err(rep, tid):
    errs = [e for e in rep.errors if e.trade_id == tid]
    assert errs, rep.errors
    return errs[0]


SWAP = BOOK[0]


@pytest.mark.parametrize("field,value,msg", [
    ("tenor", "5X", "tenor"), ("payer", "yes", "true or false"), ("fixed_dc", "ACT/999", "ACT/360"),
    ("notional", -1, "positive"), ("fixed_rate", "4%", "number"), ("start", "2024-13-01", "date"),
    ("convention", "XX", "MF")])
def test_bad_swap_fields_name_trade_field_value(field, value, msg, market):
    rep = greek_vectors([SWAP, {**SWAP, "trade_id": "BAD", field: value}], market)
    e = _err(rep, "BAD")
    assert (e.field, e.value) == (field, value) and msg in str(e)
    assert list(rep.prices["trade"]) == [SWAP["trade_id"]]


def test_bad_option_and_bond_fields(market):
    cap = BOOK[IDX["USD-CAP-3Y-4.5"]]
    book = [{**cap, "trade_id": "C1", "option_type": "collar"},
            {**cap, "trade_id": "C2", "vol": 0.2, "vol_surface": "USD-CAPLET"},
            {**cap, "trade_id": "C3", "model": "sabr"},
            {**cap, "trade_id": "C4", "model": "bachelier"},
            {**cap, "trade_id": "C5", "vol_surface": "USD-SWPN"},
            {**cap, "trade_id": "C6", "vol_surface": "NOPE"},
            {**BOOK[IDX["USD-FRA-3x6"]], "trade_id": "F1", "tenor": "6x3"},
            {**BOOK[IDX["UST-4.25-2029"]], "trade_id": "B1", "maturity": "2024-01-01"},
            {**BOOK[IDX["UST-4.25-2029"]], "trade_id": "B2", "frequency": "7M"},
            {**SWAP, "trade_id": "S1", "start": "2024-01-02"},
            {**SWAP, "trade_id": "S2", "forecast": "NOPE"},
            {**SWAP, "trade_id": "S3", "currency": "JPY"},
            {**cap, "trade_id": "C7", "tenor": "1Y", "float_tenor": "1Y"}]
    rep = greek_vectors(book, market)
    assert rep.prices.empty
    want = {"C1": ("option_type", "collar", "cap"), "C2": ("vol", 0.2, "not both"),
            "C3": ("model", "sabr", "black"), "C4": ("model", "bachelier", "are black"),
            "C5": ("vol_surface", "USD-SWPN", "swaption vol"),
            "C6": ("vol_surface", "NOPE", "no such entry"), "F1": ("tenor", "6x3", "A < B"),
            "B1": ("maturity", "2024-01-01", "not after"), "B2": ("frequency", "7M", "divide"),
            "S1": ("start", "2024-01-02", "before the valuation date"),
            "S2": ("forecast", "NOPE", "no such"), "S3": ("currency", "JPY", "no curve"),
            "C7": ("tenor", "1Y", "no caplet")}
    for tid, (fld, val, msg) in want.items():
        e = _err(rep, tid)
        assert e.field == fld and msg in str(e), (tid, str(e))
        assert val in (e.value, str(e.value)) or str(val) in str(e), (tid, str(e))


def test_bad_market_parts_fail_only_their_trades():
    raw = copy.deepcopy(RAW)
    raw["rate_vols"]["USD-SWPN"]["vols"][1][2] = -0.1         # bad swaption node
    q = raw["curves"]["EUR-EURIBOR-6M"]["quotes"]
    q[2], q[3] = q[3], q[2]                                    # 5Y before 2Y
    raw["rates"] = {"CHF": 0.01}
    m = MarketData.from_mapping(raw)
    book = BOOK + [{**SWAP, "trade_id": "CHF", "currency": "CHF"}]
    rep = greek_vectors(book, m)
    bad = {e.trade_id: e for e in rep.errors}
    swpn = {"USD-SWPTN-1Yx5Y-PAY", "USD-SWPTN-3Yx7Y-REC"}
    euribor = {t["trade_id"] for t in BOOK if t["currency"] == "EUR"} - {"EUR-ESTR-SWP-3Y",
                                                                         "BUND-2.5-2034"}
    assert set(bad) == swpn | euribor | {"CHF"}
    for tid in swpn:
        assert bad[tid].field == "vol_surface" and "vol/USD-SWPN/1Y/5Y" in str(bad[tid])
        assert "-0.1" in str(bad[tid])
    for tid in euribor:
        assert bad[tid].value == "EUR-EURIBOR-6M" and "strictly increasing" in str(bad[tid])
    assert "only a flat rate" in str(bad["CHF"])
    assert set(rep.prices["trade"]) == {t["trade_id"] for t in BOOK} - swpn - euribor


@pytest.mark.parametrize("entry,msg", [
    ({"model": "sabr", "expiries": ["1Y"], "vols": [0.2]}, "model"),
    ({"model": "black", "expiries": ["1Y", "6M"], "vols": [0.2, 0.2]}, "increase"),
    ({"model": "black", "expiries": ["1Q"], "vols": [0.2]}, "expiries[0] = '1Q'"),
    ({"model": "black", "expiries": ["1Y"], "tenors": ["5Y"], "vols": [[0.2, 0.3]]}, "vols[0]"),
    ({"model": "black", "expiries": ["1Y"], "vols": ["x"]}, "vol/X/1Y = 'x'"),
    ({"model": "black", "expiries": ["1Y"], "vols": [0.2], "smile": 1}, "unknown field"),
    ({"model": "black", "expiries": ["2020-01-01"], "vols": [0.2]}, "after the valuation")])
def test_rate_vols_parser_problems(entry, msg):
    raw = {"valuation_date": "2024-06-28", "rate_vols": {"X": entry}}
    m = MarketData.from_mapping(raw)
    assert "X" not in m.rate_vols and msg in m.problems["vol/X"], m.problems


def test_rate_vols_labels_and_bumps(market):
    s = market.rate_vols["USD-SWPN"]
    assert s.labels[:2] == ["vol/USD-SWPN/6M/1Y", "vol/USD-SWPN/6M/2Y"]
    assert market.rate_vols["EUR-CAPLET"].labels == ["vol/EUR-CAPLET/1Y", "vol/EUR-CAPLET/2Y",
                                                     "vol/EUR-CAPLET/5Y"]
    assert set(s.labels) <= set(market.labels)
    m = MarketData.from_mapping(RAW, bumps={"vol/USD-SWPN/1Y/5Y": 0.01})
    assert m.rate_vols["USD-SWPN"].vols[1, 2] == pytest.approx(0.275, abs=1e-15)
    assert s.vols[1, 2] == 0.265


# ----------------------------------------------------------------------------- theta
def _time_shifted(m, h):
    """The market with every curve set's times shortened by ``h`` years (the valuation date
    moved forward by h with the curves held in time to maturity; vols on their times)."""
    import dataclasses
    new = {}
    for cs in m.curve_sets.values():
        new.setdefault(id(cs), dataclasses.replace(cs, time_shift=h))
    return dataclasses.replace(m, curve_sets={n: new[id(cs)] for n, cs in m.curve_sets.items()})


def test_theta_equals_one_sided_fd_in_time(market, report):
    """theta (label 'time') = dV/dt with every cashflow, fixing and expiry time shortened and
    the pillar zeros and vol nodes held, from the tape (coefficient gradients x their time
    slopes, option expiries, vols rolling down their term structure) against a one-sided
    third-order difference in t (the valuation date moving FORWARD: cashflows sit on
    pillars, where the derivative has a kink), h = 2e-5 years: 1e-7 relative."""
    th = report.greeks[report.greeks["greek"] == "theta"].set_index("trade")["value"]
    assert set(th.index) == set(IDX) and (report.greeks.loc[report.greeks["greek"] == "theta",
                                                            "label"] == "time").all()
    h = 2e-5
    p = [price_book(TRADES, _time_shifted(market, k * h)) * QTY for k in range(4)]
    fd = (-11 * p[0] + 18 * p[1] - 9 * p[2] + 2 * p[3]) / (6 * h)
    for t, f in zip(TRADES, fd):
        assert abs(th[t.trade_id] - f) <= 1e-7 * abs(f), (t.trade_id, th[t.trade_id], f)


def test_bond_theta_is_the_carry_of_its_cashflows(market, report):
    """A bond's theta (no coupon in the period) is sum_i CF_i DF_i f(t_i), f the curve's
    instantaneous forward at each payment time: with loglinear_df between pillars the
    forward is (z_R t_R - z_L t_L) / (t_R - t_L)."""
    from aadrisk.market.bonds import bond_cashflows
    from aadrisk.risk.products.rates import _market_trade
    t = TRADES[IDX["UST-4.25-2029"]]
    cs, _, mb = _market_trade(t, market)
    pay, cf, _, _ = bond_cashflows(mb, VAL)
    c = cs.curves["USD-SOFR"]
    tt = np.array([(d - VAL).days / 365.0 for d in pay])
    k = np.clip(np.searchsorted(c.times, tt, side="left") - 1, 0, len(c.times) - 2)
    fwd = (c.zeros[k + 1] * c.times[k + 1] - c.zeros[k] * c.times[k]) / (c.times[k + 1]
                                                                        - c.times[k])
    carry = np.sum(cf * t.notional / 100.0 * c.discount(tt) * fwd)
    th = report.greeks.query("trade == 'UST-4.25-2029' and greek == 'theta'")["value"].iloc[0]
    assert th == pytest.approx(carry, rel=1e-12)


# ----------------------------------------------------------------------------- batch, CLI
def test_large_swap_book_is_one_batch_and_matches_the_market_layer(market):
    """2,000 random USD swaps: one engine call; prices and par deltas equal
    aadrisk.market.rates.risk_swaps on the same curve set (1e-12 relative)."""
    from aadrisk.market.rates import Swap, risk_swaps
    rng = np.random.default_rng(3)
    n = 2000
    ten = rng.integers(1, 11, n)
    rate = rng.uniform(0.03, 0.06, n)
    nominal = rng.uniform(1e5, 1e7, n)
    payer = rng.random(n) < 0.5
    book = [{"trade_id": f"S{i}", "product": "swap", "currency": "USD", "tenor": f"{ten[i]}Y",
             "fixed_rate": float(rate[i]), "notional": float(nominal[i]),
             "payer": bool(payer[i])} for i in range(n)]
    rep = greek_vectors(book, market)
    assert rep.ok and len(rep.prices) == n
    conv = RAW["curves"]["USD-SOFR"]["conventions"]
    cs = market.curve_sets["USD-SOFR"]
    ref = risk_swaps([Swap(f"S{i}", f"{ten[i]}Y", float(rate[i]), float(nominal[i]),
                           bool(payer[i]), None, conv["fixed_tenor"], conv["fixed_dc"],
                           conv["float_tenor"], conv["float_dc"], conv["convention"])
                      for i in range(n)], cs)
    np.testing.assert_allclose(rep.prices["price"], ref.prices["price"], rtol=1e-12,
                               atol=1e-12 * nominal.max())
    par = rep.greeks[rep.greeks["greek"] == "par"]
    np.testing.assert_allclose(par["value"].to_numpy().reshape(n, -1), ref.dv_dq, rtol=1e-12,
                               atol=1e-6)


def test_cli_greeks_on_the_rates_book(tmp_path, report):
    import pandas as pd
    from typer.testing import CliRunner

    from aadrisk.cli import app
    out = tmp_path / "g.csv"
    res = CliRunner().invoke(app, ["risk", str(ROOT / "portfolios" / "rates_book.json"),
                                   "--market", str(ROOT / "portfolios" / "market_full.json"),
                                   "--greeks", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    g = pd.read_csv(out)
    np.testing.assert_allclose(g["value"], report.greeks["value"], rtol=1e-12)
    assert set(g["greek"]) == {"par", "vega", "normal_vega", "theta"}


# ----------------------------------------------------------------------------- lag, EOM
LAGGED = [{"trade_id": "LAG-SWP", "product": "swap", "currency": "USD", "tenor": "5Y",
           "fixed_rate": 0.042, "notional": 1e7, "payment_lag": 2, "start": "2024-07-31",
           "eom": True},
          {"trade_id": "LAG-CAP", "product": "cap_floor", "currency": "EUR",
           "option_type": "cap", "tenor": "3Y", "strike": 0.03, "notional": 1e7,
           "payment_lag": 2},
          {"trade_id": "LAG-SWO", "product": "swaption", "currency": "USD", "expiry": "1Y",
           "tenor": "5Y", "strike": 0.04, "notional": 1e7, "payment_lag": 2, "eom": True},
          {"trade_id": "EOM-BND", "product": "bond", "currency": "USD", "issue": "2023-08-31",
           "maturity": "2030-02-28", "coupon": 0.0425, "notional": 1e6, "eom": True}]


def test_payment_lag_and_eom_trades_vs_fd(market):
    """Trades with payment lags / the end-of-month rule (market layer tested against
    QuantLib in tests/market): their par deltas and vegas against bump-rebootstrap-reprice
    (1e-7 relative) and a lag that moves the value."""
    book = [parse_greek_trade(t)[0] for t in LAGGED]
    rep = greek_vectors(book, market)
    assert rep.ok, rep.errors
    g = rep.greeks[rep.greeks["greek"].isin(["par", "vega", "normal_vega"])]
    qty = np.ones(len(book))
    for lab in sorted(set(g["label"])):
        fd = _fd({lab: _h(lab)}, {lab: -_h(lab)}, _h(lab), trades=book, qty=qty)
        for i, t in enumerate(book):
            rows = g[g["trade"] == t.trade_id]
            mine = rows.set_index("label")["value"].get(lab, 0.0)
            assert abs(mine - fd[i]) <= 1e-7 * abs(fd[i]) + 1e-9 * np.abs(rows["value"]).max(), \
                (t.trade_id, lab, mine, fd[i])
    nolag = greek_vectors([{**LAGGED[0], "payment_lag": 0}], market).prices["price"][0]
    assert abs(nolag - rep.prices["price"][0]) > 1.0
    e = greek_vectors([{**LAGGED[0], "trade_id": "X", "payment_lag": -1}], market).errors[0]
    assert (e.field, e.value) == ("payment_lag", -1)
    e = greek_vectors([{**LAGGED[3], "trade_id": "Y", "eom": "yes"}], market).errors[0]
    assert (e.field, e.value) == ("eom", "yes")


def test_schema_matches_instruments_and_sample_book():
    """docs/schemas/rates_trades.schema.json: one definition per product whose properties
    are the instrument's fields (+ product) and whose required list is the fields without
    a default; the sample book's trades use only those fields."""
    import dataclasses
    schema = json.loads((ROOT / "docs" / "schemas" / "rates_trades.schema.json").read_text())
    for product, cls in RATES_PRODUCTS.items():
        d = schema["$defs"][product]
        fields = [f.name for f in dataclasses.fields(cls)]
        assert set(d["properties"]) == set(fields) | {"product"}, product
        assert set(d["required"]) == {"product"} | {f.name for f in dataclasses.fields(cls)
                                                     if f.default is dataclasses.MISSING}
    for t in BOOK + LAGGED:
        d = schema["$defs"][t["product"]]
        assert set(t) <= set(d["properties"]) and set(d["required"]) <= set(t), t["trade_id"]


def test_bad_ois_curve_fails_its_forecast_curve_and_their_trades_only():
    raw = copy.deepcopy(RAW)
    raw["curves"]["EUR-ESTR"]["quotes"][1]["rate"] = None
    m = MarketData.from_mapping(raw)
    assert "curve/EUR-ESTR/ois/1Y" in m.problems["curve/EUR-ESTR"]
    assert "its discount curve EUR-ESTR is bad" in m.problems["curve/EUR-EURIBOR-6M"]
    rep = greek_vectors(BOOK, m)
    eur = {t["trade_id"] for t in BOOK if t["currency"] == "EUR"}
    assert {e.trade_id for e in rep.errors} == eur
    assert all(e.value == "EUR-ESTR" and "ois/1Y" in str(e) for e in rep.errors)
    assert set(rep.prices["trade"]) == {t["trade_id"] for t in BOOK} - eur


def test_seeded_random_trades_vs_quantlib(market):
    """60 seeded random swaps (spot and forward start, USD single curve and EUR dual curve),
    caps/floors and swaptions (expiries and tenors inside and outside the vol grids, so the
    interpolation and its flat extrapolation are exercised) against QuantLib: 1e-10
    relative, or 1e-12 of the notional."""
    rng = np.random.default_rng(2024)
    book = []
    for i in range(60):
        ccy = "USD" if rng.random() < 0.5 else "EUR"
        kind = ["swap", "cap_floor", "swaption"][i % 3]
        t = {"trade_id": f"R{i}", "product": kind, "currency": ccy,
             "notional": float(rng.uniform(1e6, 5e7))}
        fwd = 0.042 if ccy == "USD" else 0.03
        if kind == "swap":
            t.update(tenor=f"{int(rng.integers(1, 12))}Y", fixed_rate=float(fwd + rng.normal(0, .005)),
                     payer=bool(rng.random() < 0.5))
            if rng.random() < 0.4:
                t["start"] = str(VAL + dt.timedelta(days=int(rng.integers(1, 700))))
            if rng.random() < 0.3:
                t["fixed_tenor"] = "6M"
        elif kind == "cap_floor":
            t.update(option_type="cap" if rng.random() < 0.5 else "floor",
                     tenor=f"{int(rng.integers(2, 8))}Y",
                     strike=float(fwd + rng.normal(0, .008)) if ccy == "EUR"
                     else float(abs(fwd + rng.normal(0, .008)) + 1e-3))
        else:
            t.update(expiry=str(rng.choice(["3M", "6M", "9M", "1Y", "18M", "2Y", "3Y", "5Y", "7Y"])),
                     tenor=f"{int(rng.integers(1, 15))}Y", payer=bool(rng.random() < 0.5),
                     strike=float(abs(fwd + rng.normal(0, .008)) + 1e-3))
        book.append(t)
    rep = greek_vectors(book, market)
    assert rep.ok, rep.errors
    ours = rep.prices.set_index("trade")["unit_price"]
    for t in book:
        ref = _ql_price(t, market)
        assert abs(ours[t["trade_id"]] - ref) <= 1e-10 * abs(ref) + 1e-12 * t["notional"], (
            t, ours[t["trade_id"]], ref)


def test_par_rows_cover_the_curves_a_trade_depends_on(report):
    """Par rows: the forecast and discount curves' quotes and those of the curves they are
    discounted on (the others of the set have exactly zero delta: FD-checked above)."""
    g = report.greeks[report.greeks["greek"] == "par"]
    curves = lambda tid: {lab.split("/")[1] for lab in g[g["trade"] == tid]["label"]}  # noqa
    assert curves("EUR-SWP-10Y-PAY") == {"EUR-ESTR", "EUR-EURIBOR-6M"}
    assert curves("BUND-2.5-2034") == {"EUR-ESTR"}
    assert curves("EUR-ESTR-SWP-3Y") == {"EUR-ESTR"}
    assert curves("USD-CAP-3Y-4.5") == {"USD-SOFR"}
