"""Full labelled Greek vectors (aadrisk.risk.greeks) against finite differences of full
revaluation (bump spot / div / each par quote with re-bootstrap / each vol node)."""
from __future__ import annotations

import copy
import json
import pathlib

import numpy as np
import pandas as pd
import pytest

from aadrisk.market.snapshot import MarketData, MarketDataError
from aadrisk.risk import compute_risk, load_book
from aadrisk.risk.greeks import (MODEL_PRODUCTS, SECOND_ORDER, greek_vectors, parse_greek_trade,
                                 price_book)

ROOT = pathlib.Path(__file__).resolve().parents[2]
RAW = json.loads((ROOT / "portfolios" / "market_full.json").read_text())
# the closed-form products of the sample book (Monte Carlo trades: tests/risk/test_mc_products.py)
BOOK = [t for t in json.loads((ROOT / "portfolios" / "demo_full.json").read_text())["trades"]
        if t["product"] != "mc_option" and "underlying" in t]   # closed-form options
TRADES = [parse_greek_trade(t)[0] for t in BOOK]
QTY = np.array([t.quantity for t in TRADES])
IDX = {t.trade_id: i for i, t in enumerate(TRADES)}


@pytest.fixture(scope="module")
def market():
    return MarketData.from_mapping(RAW)


@pytest.fixture(scope="module")
def report(market):
    rep = greek_vectors(TRADES, market)
    assert rep.ok, rep.errors
    return rep


def _h(label, m):
    if label.startswith("spot/"):
        return m.spots[label[5:]] * 1e-5
    return 1e-5 if label.startswith("vol/") else 1e-6


def _fd(raw, bumps_up, bumps_dn, h, trades=TRADES, qty=QTY):
    up = price_book(trades, MarketData.from_mapping(raw, bumps=bumps_up))
    dn = price_book(trades, MarketData.from_mapping(raw, bumps=bumps_dn))
    return qty * (up - dn) / (2.0 * h)


def _close(ad, fd, scale):
    """1e-6 relative, with an absolute floor far below any Greek of the trade (for the
    exactly-zero entries, e.g. a 10Y quote of a 6M option, where FD is rounding noise)."""
    return abs(ad - fd) <= 1e-6 * abs(fd) + 1e-9 * scale


def _first(g):
    """First-order rows with a market label (theta, label 'time', is checked on its own)."""
    return g[~g["greek"].isin(SECOND_ORDER) & (g["greek"] != "theta")]


@pytest.fixture(scope="module")
def fd_all(market, report):
    g = _first(report.greeks)
    out = {}
    for lab in g["label"].unique():
        h = _h(lab, market)
        out[lab] = _fd(RAW, {lab: h}, {lab: -h}, h)
    return out


@pytest.mark.parametrize("product", sorted({t["product"] for t in BOOK}))
def test_vector_equals_bump_and_revalue(product, report, fd_all):
    g = _first(report.greeks)
    g = g[g["product"] == product]
    assert len(g) > 0
    kinds = set(g["greek"])
    assert {"delta", "div", "par", "model" if product in MODEL_PRODUCTS else "vega"} <= kinds
    for tid, rows in g.groupby("trade"):
        scale = np.abs(rows["value"]).max()
        labels = set(rows["label"])
        for _, row in rows.iterrows():
            fd = fd_all[row["label"]][IDX[tid]]
            assert _close(row["value"], fd, scale), (tid, row["label"], row["value"], fd)
        # every label the trade is exposed to is in its vector
        for lab, fd in fd_all.items():
            if lab not in labels:
                assert abs(fd[IDX[tid]]) <= 1e-9 * scale, (tid, lab, fd[IDX[tid]])


def test_gamma_equals_fd_of_delta(market, report):
    g = report.greeks
    for u in ("SPX", "AAPL", "SX5E"):
        lab = f"spot/{u}"
        h = market.spots[u] * 1e-4
        d_up = greek_vectors(TRADES, MarketData.from_mapping(RAW, bumps={lab: h})).greeks
        d_dn = greek_vectors(TRADES, MarketData.from_mapping(RAW, bumps={lab: -h})).greeks
        sel = lambda f: f[(f["label"] == lab) & (f["greek"] == "delta")].set_index("trade")["value"]
        fd = (sel(d_up) - sel(d_dn)) / (2 * h)
        gam = g[(g["label"] == lab) & (g["greek"] == "gamma")].set_index("trade")["value"]
        for tid in gam.index:
            assert abs(gam[tid] - fd[tid]) <= 1e-6 * abs(fd[tid]) + 1e-12, (tid, gam[tid], fd[tid])


def test_cross_gammas_equal_fd_of_delta(market, report):
    """d2V/dS dX for every label X of a trade: central differences of the AAD delta
    under a bump of X (spot-vol, spot-div and spot-curve cross-gammas), 1e-5 relative."""
    g = report.greeks
    cross = g[g["greek"] == "cross_gamma"]
    assert {"div", "curve", "vol", "model"} <= {lab.split("/")[0] for lab in cross["label"]}
    for lab in sorted(cross["label"].unique()):
        h = _h(lab, market)
        up = greek_vectors(TRADES, MarketData.from_mapping(RAW, bumps={lab: h})).greeks
        dn = greek_vectors(TRADES, MarketData.from_mapping(RAW, bumps={lab: -h})).greeks
        delta = lambda f: f[f["greek"] == "delta"].set_index("trade")["value"]
        fd = (delta(up) - delta(dn)) / (2 * h)
        mine = cross[cross["label"] == lab].set_index("trade")["value"]
        for tid in mine.index:
            scale = abs(g[(g["trade"] == tid) & (g["greek"] == "delta")]["value"]).max()
            assert abs(mine[tid] - fd[tid]) <= 1e-5 * abs(fd[tid]) + 1e-9 * max(scale, 1.0), (
                tid, lab, mine[tid], fd[tid])


def test_bucketed_vega_sums_to_parallel_vega(market, report):
    nodes = market.vols["SPX"].labels
    h = 1e-5
    fd = _fd(RAW, {n: h for n in nodes}, {n: -h for n in nodes}, h)
    g = report.greeks[(report.greeks["greek"] == "vega") & (report.greeks["underlying"] == "SPX")]
    bucket = g.groupby("trade")["value"].sum()
    for tid, v in bucket.items():
        assert abs(v - fd[IDX[tid]]) <= 1e-6 * abs(fd[IDX[tid]]), tid
    by = report.by_label
    total = by[by["label"].str.startswith("vol/SPX/") & (by["greek"] == "vega")]["value"].sum()
    assert np.isclose(total, bucket.sum(), rtol=1e-12)


@pytest.mark.parametrize("curve,ccy", [("USD-SOFR", "USD"), ("EUR-ESTR", "EUR")])
def test_bucketed_par_deltas_sum_to_parallel_shift(market, report, curve, ccy):
    quotes = [lab for lab in market.discount_for(ccy).labels]
    assert quotes[0].startswith(f"curve/{curve}/")   # (EUR: + its forecast curve's quotes)
    h = 1e-6
    fd = _fd(RAW, {q: h for q in quotes}, {q: -h for q in quotes}, h)
    g = report.greeks[(report.greeks["greek"] == "par") & (report.greeks["currency"] == ccy)]
    for tid, v in g.groupby("trade")["value"].sum().items():
        assert abs(v - fd[IDX[tid]]) <= 1e-6 * abs(fd[IDX[tid]]), tid
    # zero-rate vector chained by the IFT Jacobian gives the par vector
    z = report.zero_greeks[report.zero_greeks["currency"] == ccy]
    cs = market.curve_sets[curve]
    for tid, rows in z.groupby("trade"):
        dvdz = rows.set_index("label")["value"].reindex(cs.pillar_labels).fillna(0.0)
        dvdz = dvdz.to_numpy()
        par = g[g["trade"] == tid].set_index("label")["value"].reindex(cs.quote_labels)
        assert par.notna().sum() == len(rows)    # the quotes of the curves it depends on
        par = par.fillna(0.0)
        np.testing.assert_allclose(cs.par_sensitivities(dvdz), par.to_numpy(), rtol=1e-12,
                                   atol=1e-9)


def test_flat_market_matches_compute_risk():
    demo = load_book(ROOT / "portfolios" / "demo.json")
    raw = json.loads((ROOT / "portfolios" / "demo.json").read_text())["market"]
    rep = greek_vectors(demo.trades, MarketData.from_mapping(raw))
    old = compute_risk(demo.trades, demo.market).trades.set_index("trade_id")
    assert rep.ok and len(rep.prices) == len(old)
    np.testing.assert_allclose(rep.prices.set_index("trade")["price"].reindex(old.index),
                               old["price"], rtol=1e-12)
    g = rep.greeks
    for greek, col in (("delta", "delta"), ("gamma", "gamma"), ("vega", "vega"),
                       ("rate", "rho"), ("theta", "theta")):
        mine = g[g["greek"] == greek].set_index("trade")["value"].reindex(old.index)
        np.testing.assert_allclose(mine, old[col], rtol=1e-10, err_msg=greek)
    assert set(g.loc[g["greek"] == "rate", "label"]) == {"rate/USD", "rate/EUR"}
    assert set(g.loc[g["greek"] == "vega", "label"]) == {"vol/SPX", "vol/AAPL", "vol/SX5E"}
    vp = g[g["greek"] == "vega"]
    np.testing.assert_allclose(vp["value_per_vol_point"], vp["value"] / 100)
    rp = g[g["greek"] == "rate"]
    np.testing.assert_allclose(rp["value_per_bp"], rp["value"] / 1e4)


def test_flat_curve_and_flat_surface_equal_flat_market(report):
    """A curve bootstrapped to flat zeros and a flat surface reproduce the flat BSM numbers."""
    raw = copy.deepcopy(RAW)
    s = raw["vol_surfaces"]["SPX"]
    s["vols"] = [[0.15] * len(s["strikes"]) for _ in s["expiries"]]
    flat = copy.deepcopy(raw)
    m = MarketData.from_mapping(raw)
    trade = {"trade_id": "E", "underlying": "SPX", "option_type": "call", "strike": 5300,
             "expiry": "2025-03-21", "quantity": 3}
    rep = greek_vectors([trade], m)
    T = m.year_fraction(pd.Timestamp("2025-03-21").date())
    r = float(-np.log(m.discount_for("USD").discount(np.array([T]))[0]) / T)
    flat.pop("curves")
    flat.pop("discount_curves")
    flat.pop("vol_surfaces")
    flat["rates"] = {"USD": r, "EUR": 0.03}
    flat["underlyings"]["SPX"]["vol"] = 0.15
    ref = greek_vectors([trade], MarketData.from_mapping(flat))
    assert np.isclose(rep.prices["price"][0], ref.prices["price"][0], rtol=1e-12)
    v = rep.vector("E")
    w = ref.vector("E")
    assert np.isclose(v[v.index.str.startswith("vol/")].sum(), w["vol/SPX"], rtol=1e-10)
    assert np.isclose(v["spot/SPX"], w["spot/SPX"], rtol=1e-12)


def test_legacy_market_files_parse():
    for name in ("demo_market.json", "demo.json"):
        m = MarketData.from_mapping(json.loads((ROOT / "portfolios" / name).read_text()))
        assert not m.problems and m.discount_for("USD").labels == ["rate/USD"]
    m = MarketData.from_mapping({"valuation_date": "2024-06-28", "rate": 0.04,
                                 "underlyings": {"X": {"spot": 10.0, "vol": 0.3}}})
    assert m.discount_for(None).labels == ["rate/*"]
    assert set(m.labels) == {"spot/X", "div/X", "vol/X", "rate/*"}


def test_label_inventory(market):
    labs = market.labels
    for lab in ("spot/SPX", "div/SPX", "curve/USD-SOFR/swap/5Y", "vol/SPX/2025-06-20/5500",
                "model/heston/SPX/kappa", "vol/AAPL"):
        assert lab in labs
    assert "zero/USD-SOFR/5Y" in market.discount_for("USD").zero_labels
    assert market.models["model/heston/SPX/kappa"] == 1.8


# ----------------------------------------------------------------------------- errors
def _err(rep, tid):
    errs = [e for e in rep.errors if e.trade_id == tid]
    assert errs, rep.errors
    return errs[0]


GOOD = BOOK[0]


def _trade(**kw):
    return {**GOOD, **kw}


def test_missing_spot_surface_curve_name_the_input():
    raw = copy.deepcopy(RAW)
    raw["underlyings"]["NOVOL"] = {"spot": 10.0, "currency": "USD"}
    raw["underlyings"]["NOCCY"] = {"spot": 10.0, "vol": 0.2, "currency": "JPY"}
    book = [GOOD, _trade(trade_id="A", underlying="XYZ"), _trade(trade_id="B", underlying="NOVOL"),
            _trade(trade_id="C", underlying="NOCCY", strike=10)]
    rep = greek_vectors(book, MarketData.from_mapping(raw))
    assert list(rep.prices["trade"]) == [GOOD["trade_id"]]
    e = _err(rep, "A")
    assert (e.field, e.value) == ("underlying", "XYZ") and "spot/XYZ" in str(e)
    e = _err(rep, "B")
    assert (e.field, e.value) == ("vol_surface", "NOVOL") and "no vol surface" in str(e)
    e = _err(rep, "C")
    assert (e.field, e.value) == ("currency", "JPY") and "discount curve" in str(e)
    assert set(rep.errors_frame.columns) == {"trade_id", "field", "value", "message"}


def test_negative_vol_and_arbitrage_name_the_node():
    raw = copy.deepcopy(RAW)
    raw["vol_surfaces"]["SPX"]["vols"][1][2] = -0.1
    rep = greek_vectors([GOOD, BOOK[8]], MarketData.from_mapping(raw))
    e = _err(rep, GOOD["trade_id"])
    assert e.field == "vol_surface" and "vol/SPX/2024-12-20/5500" in str(e) and "-0.1" in str(e)
    assert list(rep.prices["trade"]) == [BOOK[8]["trade_id"]]     # AAPL still priced
    raw = copy.deepcopy(RAW)
    raw["vol_surfaces"]["SPX"]["vols"][3][0] = 0.05
    e = _err(greek_vectors([GOOD], MarketData.from_mapping(raw)), GOOD["trade_id"])
    assert "calendar arbitrage" in str(e) and "vol/SPX/2025-12-19/4500" in str(e)


def test_bad_curve_names_the_quote_and_spares_other_currencies():
    raw = copy.deepcopy(RAW)
    q = raw["curves"]["USD-SOFR"]["quotes"]
    q[3], q[4] = q[4], q[3]                     # 3Y before 2Y: non-increasing pillars
    rep = greek_vectors([GOOD, BOOK[9]], MarketData.from_mapping(raw))
    e = _err(rep, GOOD["trade_id"])
    assert (e.field, e.value) == ("curve", "USD-SOFR")
    assert "curve/USD-SOFR/swap/2Y" in str(e) and "strictly increasing" in str(e)
    assert list(rep.prices["trade"]) == [BOOK[9]["trade_id"]]    # EUR trade still priced
    raw = copy.deepcopy(RAW)
    raw["curves"]["USD-SOFR"]["quotes"][0]["rate"] = "x"
    e = _err(greek_vectors([GOOD], MarketData.from_mapping(raw)), GOOD["trade_id"])
    assert "curve/USD-SOFR/depo/3M" in str(e) and "'x'" in str(e)


def test_bad_spot_trade_fields_and_malformed_market():
    raw = copy.deepcopy(RAW)
    raw["underlyings"]["SPX"]["spot"] = -5
    rep = greek_vectors([GOOD, _trade(trade_id="K", underlying="AAPL", strike=-1),
                         _trade(trade_id="P", product="variance_swap")],
                        MarketData.from_mapping(raw))
    e = _err(rep, GOOD["trade_id"])
    assert e.field == "spot" and "underlyings.SPX.spot = -5" in str(e)
    assert (_err(rep, "K").field, _err(rep, "K").value) == ("strike", -1)
    assert _err(rep, "P").field == "product"
    with pytest.raises(MarketDataError, match="valuation_date"):
        MarketData.from_mapping({"underlyings": {}})
    with pytest.raises(MarketDataError, match="unknown field"):
        MarketData.from_mapping({"valuation_date": "2024-06-28", "curvez": {}})
    with pytest.raises(KeyError, match="spot/NOPE"):
        MarketData.from_mapping(RAW, bumps={"spot/NOPE": 1.0})


# ----------------------------------------------------------------------------- schema, CLI
def test_schema_matches_parser_and_sample_files():
    schema = json.loads((ROOT / "docs" / "schemas" / "market.schema.json").read_text())
    props = schema["$defs"]["market"]["properties"]
    assert set(props) == {"valuation_date", "underlyings", "rates", "rate", "curves",
                          "discount_curves", "vol_surfaces", "models", "rate_vols",
                          "description"}
    for name in ("market_full.json", "demo_market.json"):
        doc = json.loads((ROOT / "portfolios" / name).read_text())
        assert set(doc) <= set(props)
        for u in doc["underlyings"].values():
            assert set(u) <= set(props["underlyings"]["additionalProperties"]["properties"])


def test_cli_greeks_writes_the_long_vector(tmp_path, report):
    from typer.testing import CliRunner

    from aadrisk.cli import app
    out = tmp_path / "g.csv"
    res = CliRunner().invoke(app, ["risk", str(ROOT / "portfolios" / "demo_full.json"),
                                   "--market", str(ROOT / "portfolios" / "market_full.json"),
                                   "--greeks", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    g = pd.read_csv(out)
    assert list(g.columns[:8]) == ["trade", "product", "underlying", "currency", "label",
                                   "greek", "value", "unit"]
    g = g[g["trade"].isin({t["trade_id"] for t in BOOK})]   # the report's (closed-form) trades
    np.testing.assert_allclose(g["value"], report.greeks["value"], rtol=1e-12)
    bad = tmp_path / "bad.json"
    doc = {"trades": [BOOK[0], _trade(trade_id="Z", underlying="NOPE")]}
    bad.write_text(json.dumps(doc))
    res = CliRunner().invoke(app, ["risk", str(bad), "--market",
                                   str(ROOT / "portfolios" / "market_full.json"),
                                   "--greeks", str(out), "--quiet"])
    assert res.exit_code == 1 and "NOPE" in res.output
    res = CliRunner().invoke(app, ["risk", str(bad), "--greeks", str(out)])
    assert res.exit_code == 2 and "--market" in res.output


# ----------------------------------------------------------------------------- theta
def _theta_book():
    """One trade per equity product, expiries away from every curve pillar and surface slice
    (theta has kinks there), plus SABR trades before, between and after SX5E's slices."""
    base = {"option_type": "call", "expiry": "2025-03-21", "quantity": 2}
    book = [{**base, "trade_id": "EU", "underlying": "SPX", "strike": 5300},
            {**base, "trade_id": "EUP", "underlying": "AAPL", "strike": 220, "option_type": "put"},
            {**base, "trade_id": "DG", "product": "digital_option", "underlying": "SPX",
             "strike": 5600, "payoff": "cash", "cash": 100},
            {**base, "trade_id": "BA", "product": "barrier_option", "underlying": "SPX",
             "strike": 5400, "barrier": 6200, "barrier_type": "up_out"},
            {**base, "trade_id": "AS", "product": "geometric_asian", "underlying": "SX5E",
             "strike": 4800, "n_fixings": 12},
            {**base, "trade_id": "HE", "product": "heston_option", "underlying": "SPX",
             "strike": 5500},
            {**base, "trade_id": "SA", "product": "sabr_option", "underlying": "AAPL",
             "strike": 215}]
    for i, e in enumerate(("2024-09-20", "2025-03-21", "2025-09-19", "2026-06-19")):
        book.append({**base, "trade_id": f"SX{i}", "product": "sabr_option",
                     "underlying": "SX5E", "strike": 4700 + 100 * i, "expiry": e})
    return book


def _shifted(m, days):
    """The market with its valuation date moved and every input held (curves on their
    pillar times, surfaces on their slice times): the definition of theta."""
    import dataclasses
    import datetime as dt
    return dataclasses.replace(m, valuation_date=m.valuation_date + dt.timedelta(days=days))


def test_theta_equals_fd_in_the_valuation_date(market):
    """theta = dV/dt (t the valuation date, years) from the tape against a central
    difference of the price over +-1 and +-2 days, Richardson-extrapolated (error O(h^4)):
    1e-7 relative."""
    book = [parse_greek_trade(t)[0] for t in _theta_book()]
    rep = greek_vectors(book, market)
    assert rep.ok, rep.errors
    th = rep.greeks[rep.greeks["greek"] == "theta"].set_index("trade")["value"]
    assert (rep.greeks.loc[rep.greeks["greek"] == "theta", "label"] == "time").all()
    assert set(th.index) == {t.trade_id for t in book}
    qty = np.array([t.quantity for t in book])
    h = 1.0 / 365.0
    p = {k: price_book(book, _shifted(market, k)) * qty for k in (-2, -1, 1, 2)}
    d1 = (p[1] - p[-1]) / (2 * h)
    d2 = (p[2] - p[-2]) / (4 * h)
    fd = (4 * d1 - d2) / 3
    for t, f in zip(book, fd):
        assert abs(th[t.trade_id] - f) <= 1e-7 * abs(f) + 1e-9, (t.trade_id, th[t.trade_id], f)
    assert rep.by_label.query("greek == 'theta'")["unit"].iloc[0].startswith("ccy per year")


# ----------------------------------------------------------------------------- SABR per expiry
def _sabr_trade(tid, expiry, strike=4900, qty=1):
    return {"trade_id": tid, "product": "sabr_option", "underlying": "SX5E",
            "option_type": "call", "strike": strike, "expiry": expiry, "quantity": qty}


@pytest.mark.parametrize("expiry", ["2024-12-20", "2025-06-20", "2025-12-19"])
def test_sabr_on_a_slice_equals_flat_parameters(market, expiry):
    raw = copy.deepcopy(RAW)
    raw["models"]["sabr"]["SX5E"] = dict(RAW["models"]["sabr"]["SX5E"]["expiries"][expiry])
    flat = MarketData.from_mapping(raw)
    t = _sabr_trade("S", expiry)
    a, b = greek_vectors([t], market), greek_vectors([t], flat)
    assert a.ok and b.ok
    assert a.prices["price"][0] == pytest.approx(b.prices["price"][0], rel=1e-14)
    va, vb = a.vector("S"), b.vector("S")
    for p in ("alpha", "beta", "nu", "rho"):
        assert va[f"model/sabr/SX5E/{expiry}/{p}"] == pytest.approx(vb[f"model/sabr/SX5E/{p}"],
                                                                    rel=1e-13)
    others = [lab for lab in va.index if lab.startswith("model/") and f"/{expiry}/" not in lab]
    assert all(va[lab] == 0.0 for lab in others)


def test_sabr_slice_greeks_equal_fd(market):
    """Model Greeks per slice (trades before, between and after the slices; parameters
    linear in time between neighbours, flat outside) against bumps of each slice label,
    h = 1e-6: 1e-6 relative; labels the trade does not use have zero FD."""
    book = [parse_greek_trade(_sabr_trade(f"X{i}", e, 4600 + 150 * i, q))[0] for i, (e, q) in
            enumerate((("2024-09-20", 2), ("2025-03-21", -1), ("2025-09-19", 3),
                       ("2026-06-19", 1)))]
    rep = greek_vectors(book, market)
    assert rep.ok
    qty = np.array([t.quantity for t in book])
    slabs = [lab for lab in market.models if lab.startswith("model/sabr/SX5E/")]
    assert len(slabs) == 12
    g = rep.greeks[rep.greeks["greek"] == "model"]
    h = 1e-6
    for lab in slabs:
        fd = _fd(RAW, {lab: h}, {lab: -h}, h, trades=book, qty=qty)
        for i, t in enumerate(book):
            row = g[(g["trade"] == t.trade_id) & (g["label"] == lab)]["value"]
            scale = np.abs(g[g["trade"] == t.trade_id]["value"]).max()
            mine = row.iloc[0] if len(row) else 0.0
            assert abs(mine - fd[i]) <= 1e-6 * abs(fd[i]) + 1e-9 * scale, (t.trade_id, lab,
                                                                          mine, fd[i])
    # between two slices: weights (t1 - T)/(t1 - t0) and its complement
    x1 = g[g["trade"] == "X1"].set_index("label")["value"]
    w = (market.model_slices[("sabr", "SX5E")][1][1] - market.year_fraction(book[1].expiry)) / \
        np.diff(market.model_slices[("sabr", "SX5E")][1][:2])[0]
    r = x1["model/sabr/SX5E/2024-12-20/nu"] / x1["model/sabr/SX5E/2025-06-20/nu"]
    assert r == pytest.approx(w / (1 - w), rel=1e-12)


def test_sabr_slices_bad_data_names_the_input(market):
    raw = copy.deepcopy(RAW)
    raw["models"]["sabr"]["SX5E"]["expiries"]["2025-06-20"]["nu"] = "high"
    rep = greek_vectors([_sabr_trade("S", "2025-03-21"), BOOK[0]], MarketData.from_mapping(raw))
    e = _err(rep, "S")
    assert e.field == "underlying" and "model/sabr/SX5E/2025-06-20/nu = 'high'" in str(e)
    assert list(rep.prices["trade"]) == [BOOK[0]["trade_id"]]
    raw = copy.deepcopy(RAW)
    del raw["models"]["sabr"]["SX5E"]["expiries"]["2025-06-20"]["rho"]
    e = _err(greek_vectors([_sabr_trade("S", "2025-03-21")], MarketData.from_mapping(raw)), "S")
    assert "2025-06-20" in str(e) and "parameters" in str(e)
    raw = copy.deepcopy(RAW)
    raw["models"]["sabr"]["SX5E"]["expiries"]["2023-01-01"] = {"alpha": 1, "beta": 0.5,
                                                               "nu": 0.5, "rho": 0.0}
    e = _err(greek_vectors([_sabr_trade("S", "2025-03-21")], MarketData.from_mapping(raw)), "S")
    assert "2023-01-01" in str(e) and "valuation date" in str(e)


def test_heston_per_expiry_slices_equal_flat_parameters(market):
    """Any model may be given per expiry: Heston with the same parameters on two slices
    prices as the flat parameters, and its slice Greeks add up to the flat Greeks."""
    raw = copy.deepcopy(RAW)
    flat = dict(RAW["models"]["heston"]["SPX"])
    raw["models"]["heston"]["SPX"] = {"expiries": {"2024-12-20": flat, "2025-06-20": flat}}
    m = MarketData.from_mapping(raw)
    t = {"trade_id": "H", "product": "heston_option", "underlying": "SPX", "option_type": "put",
         "strike": 5200, "expiry": "2025-03-21", "quantity": 2}
    a, b = greek_vectors([t], m), greek_vectors([t], market)
    assert a.ok and b.ok
    assert a.prices["price"][0] == pytest.approx(b.prices["price"][0], rel=1e-13)
    va, vb = a.vector("H"), b.vector("H")
    for p in ("v0", "kappa", "theta", "xi", "rho"):
        s = va[f"model/heston/SPX/2024-12-20/{p}"] + va[f"model/heston/SPX/2025-06-20/{p}"]
        assert s == pytest.approx(vb[f"model/heston/SPX/{p}"], rel=1e-12)
