"""``aadrisk calibrate`` end to end on the bundled sample surfaces (portfolios/quotes_*.json).

Fit errors on the bundled illustrative surfaces (measured when these tests were written,
asserted with margin): Heston on quotes_spx.json (10 x 10 SPX-like SSVI surface) RMSE
0.51 vol points, max 2.4; SABR (beta 1) per expiry RMSE 0.16 vol points, max 0.51;
Hull-White on quotes_usd_swaptions.json RMSE 2.5 bp normal vol; on quotes_usd_caps.json
RMSE 0.46 bp.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from aadrisk.cli import app
from aadrisk.market.snapshot import MarketData

ROOT = Path(__file__).resolve().parents[2]
MARKET = ROOT / "portfolios" / "market_full.json"
SPX = ROOT / "portfolios" / "quotes_spx.json"
SWAPTIONS = ROOT / "portfolios" / "quotes_usd_swaptions.json"
CAPS = ROOT / "portfolios" / "quotes_usd_caps.json"

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, ["calibrate", *[str(a) for a in args]])


def test_heston_on_the_bundled_surface_writes_a_market_read_as_is(tmp_path):
    out, rep, png = tmp_path / "m.json", tmp_path / "fit.csv", tmp_path / "fit.png"
    res = invoke("heston", "--quotes", SPX, "--market", MARKET, "--out", out, "--report", rep,
                 "--plot", png)
    assert res.exit_code == 0, res.output
    assert "RMSE" in res.stdout and "converged: yes" in res.stdout
    fit = pd.read_csv(rep)
    assert len(fit) == 100 and {"label", "market", "model", "error_vol_points"} <= set(fit)
    rmse = (fit.error ** 2).mean() ** 0.5
    assert rmse < 0.007                                   # 0.51 vol points measured
    m = MarketData.from_mapping(json.loads(out.read_text()))
    assert {f"model/heston/SPX/{k}" for k in ("v0", "kappa", "theta", "xi", "rho")} <= set(m.models)
    assert m.models["model/sabr/AAPL/alpha"] == 1.23      # other models kept
    assert not [k for k in m.problems if k.startswith("model/heston")]
    assert png.stat().st_size > 10_000


def test_sabr_per_expiry_layout(tmp_path):
    out = tmp_path / "m.json"
    res = invoke("sabr", "-q", SPX, "-m", MARKET, "--out", out, "--beta", "1", "--quiet")
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    per = doc["models"]["sabr"]["SPX"]["expiries"]
    assert len(per) == 10 and set(per["2025-06-20"]) == {"alpha", "beta", "nu", "rho"}
    assert doc["models"]["sabr"]["AAPL"]["beta"] == 0.7
    # the market parser reads the calibrated smiles as they are written
    from aadrisk.market.snapshot import MarketData
    m = MarketData.from_mapping(doc)
    assert not [k for k in m.problems if k.startswith("model/sabr")]
    assert m.models["model/sabr/SPX/2025-06-20/alpha"] == per["2025-06-20"]["alpha"]
    rmse = float(res.stdout.split("RMSE ")[1].split()[0])
    assert rmse < 0.3                                     # vol points; 0.16 measured


def test_local_vol_grid(tmp_path):
    out = tmp_path / "m.json"
    res = invoke("local-vol", "-q", SPX, "-m", MARKET, "--out", out, "--times", "8",
                 "--spots", "5", "--quiet")
    assert res.exit_code == 0, res.output
    lv = json.loads(out.read_text())["models"]["local_vol"]["SPX"]
    assert len(lv["times"]) == 8 and len(lv["spots"]) == 5
    assert len(lv["vols"]) == 8 and all(len(r) == 5 for r in lv["vols"])
    assert all(0.03 < v < 1.0 for r in lv["vols"] for v in r)
    from aadrisk.market.snapshot import MarketData
    m = MarketData.from_mapping(json.loads(out.read_text()))
    assert not [k for k in m.problems if k.startswith("model/local_vol")]
    assert m.local_vols["SPX"][2].shape == (8, 5)


@pytest.mark.parametrize("quotes,limit", [(SWAPTIONS, 4.0), (CAPS, 1.0)])
def test_hull_white_swaptions_and_caps(quotes, limit):
    res = invoke("hull-white", "-q", quotes, "-m", MARKET, "--quiet")
    assert res.exit_code == 0, res.output
    assert float(res.stdout.split("RMSE ")[1].split()[0]) < limit     # bp


def test_bad_quote_exits_2_naming_it(tmp_path):
    doc = json.loads(SPX.read_text())
    doc["vols"][3][4] = -0.1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    res = invoke("sabr", "-q", bad, "-m", MARKET)
    assert res.exit_code == 2
    assert "vol/SPX/2024-10-18/5300" in res.output and "must be positive" in res.output
    doc["vols"][3][4] = None
    bad.write_text(json.dumps(doc))
    res = invoke("heston", "-q", bad, "-m", MARKET)
    assert res.exit_code == 2 and "vol/SPX/2024-10-18/5300" in res.output
    assert "missing vol" in res.output


def test_calendar_arbitrage_exits_2(tmp_path):
    doc = json.loads(SPX.read_text())
    doc["vols"][6] = [v * 0.7 for v in doc["vols"][6]]
    bad = tmp_path / "cal.json"
    bad.write_text(json.dumps(doc))
    res = invoke("local-vol", "-q", bad, "-m", MARKET)
    assert res.exit_code == 2 and "calendar arbitrage: quote vol/SPX/2025-06-20/" in res.output


def test_non_convergence_exits_1_with_a_message(tmp_path):
    out = tmp_path / "m.json"
    res = invoke("sabr", "-q", SPX, "-m", MARKET, "--max-iter", "2", "--out", out)
    assert res.exit_code == 1
    assert "did not converge" in res.output and "converged: NO" in res.output


def test_bad_init_and_wrong_quote_kind_exit_2():
    res = invoke("heston", "-q", SPX, "-m", MARKET, "--init", "kappa=abc")
    assert res.exit_code == 2 and "kappa" in res.output
    res = invoke("heston", "-q", SWAPTIONS, "-m", MARKET)
    assert res.exit_code == 2 and "vol_surface" in res.output


def test_bounds_option_binds_and_bad_bounds_exit_2(tmp_path):
    out = tmp_path / "m.json"
    res = invoke("heston", "-q", SPX, "-m", MARKET, "--bounds", "kappa=0.5:2", "--out", out,
                 "--quiet")
    assert res.exit_code == 0, res.output
    assert json.loads(out.read_text())["models"]["heston"]["SPX"]["kappa"] == pytest.approx(2.0)
    res = invoke("sabr", "-q", SPX, "-m", MARKET, "--bounds", "kappa=1:2")
    assert res.exit_code == 2 and "unknown sabr parameter" in res.output


def test_hull_white_output_is_read_by_the_market_parser(tmp_path):
    out = tmp_path / "m.json"
    res = invoke("hull-white", "-q", SWAPTIONS, "-m", MARKET, "--out", out, "--quiet")
    assert res.exit_code == 0, res.output
    m = MarketData.from_mapping(json.loads(out.read_text()))
    assert 0 < m.models["model/hull_white/USD/a"] < 1
    assert 0 < m.models["model/hull_white/USD/sigma"] < 0.05


def test_plot_without_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    import builtins
    real = builtins.__import__

    def no_mpl(name, *a, **k):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_mpl)
    res = invoke("sabr", "-q", SPX, "-m", MARKET, "--plot", tmp_path / "x.png", "--quiet")
    assert res.exit_code == 2 and "pip install 'aadrisk[plot]'" in res.output
