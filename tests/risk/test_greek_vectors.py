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
from aadrisk.risk.products.equity import _CLASSES as EQUITY_PRODUCTS
from aadrisk.risk.greeks import (GREEK_PRODUCTS, MODEL_PRODUCTS, SECOND_ORDER, greek_vectors, parse_greek_trade,
                                 price_book)

ROOT = pathlib.Path(__file__).resolve().parents[2]
RAW = json.loads((ROOT / "portfolios" / "market_full.json").read_text())
BOOK = json.loads((ROOT / "portfolios" / "demo_full.json").read_text())["trades"]
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


@pytest.fixture(scope="module")
def fd_all(market, report):
    g = report.greeks[~report.greeks["greek"].isin(SECOND_ORDER)]
    out = {}
    for lab in g["label"].unique():
        h = _h(lab, market)
        out[lab] = _fd(RAW, {lab: h}, {lab: -h}, h)
    return out


@pytest.mark.parametrize("product", sorted(EQUITY_PRODUCTS))
def test_vector_equals_bump_and_revalue(product, report, fd_all):
    g = report.greeks[~report.greeks["greek"].isin(SECOND_ORDER)
                        & (report.greeks["product"] == product)]
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
    assert all(q.startswith(f"curve/{curve}/") for q in quotes)
    h = 1e-6
    fd = _fd(RAW, {q: h for q in quotes}, {q: -h for q in quotes}, h)
    g = report.greeks[(report.greeks["greek"] == "par") & (report.greeks["currency"] == ccy)]
    for tid, v in g.groupby("trade")["value"].sum().items():
        assert abs(v - fd[IDX[tid]]) <= 1e-6 * abs(fd[IDX[tid]]), tid
    # zero-rate vector chained by the IFT Jacobian gives the par vector
    z = report.zero_greeks[report.zero_greeks["currency"] == ccy]
    cs = market.curve_sets[curve]
    for tid, rows in z.groupby("trade"):
        dvdz = rows.set_index("label")["value"].reindex(cs.pillar_labels).to_numpy()
        par = g[g["trade"] == tid].set_index("label")["value"].reindex(cs.quote_labels)
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
                       ("rate", "rho")):
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
                         _trade(trade_id="P", product="swaption")], MarketData.from_mapping(raw))
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
                          "discount_curves", "vol_surfaces", "models", "description"}
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
