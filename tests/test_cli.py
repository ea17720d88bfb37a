"""The ``aadrisk`` command line, through typer's CliRunner."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import aadrisk
from aadrisk.cli import app
from aadrisk.market.snapshot import MarketData
from aadrisk.risk.greeks import greek_vectors

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "portfolios" / "demo.json"
DEMO_MARKET = ROOT / "portfolios" / "demo_market.json"
FULL_BOOK = ROOT / "portfolios" / "demo_full.json"
FULL_MARKET = ROOT / "portfolios" / "market_full.json"

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture
def bad_book(tmp_path):
    doc = json.loads(DEMO.read_text())
    doc["trades"][1]["strike"] = -5200
    doc["trades"][4]["quantity"] = "lots"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    return path, doc


def test_demo_exits_zero_and_shows_every_trade_with_units():
    res = invoke("risk", DEMO)
    assert res.exit_code == 0, res.output
    for trade in json.loads(DEMO.read_text())["trades"]:
        assert trade["trade_id"] in res.stdout
    for header in ("Price", "Delta", "Gamma", "Vega", "Theta", "Rho", "(ccy)", "(dV/dS)",
                   "(d2V/dS2)", "(ccy/vol pt)", "(ccy/day)", "(ccy/bp)"):
        assert header in res.stdout
    assert "TOTAL USD" in res.stdout and "TOTAL EUR" in res.stdout
    assert "Total SPX" in res.stdout and "2024-06-28" in res.stdout
    assert "10 of 10 trade(s) priced, 0 rejected" in res.stdout
    assert res.stderr == ""


def test_demo_totals_printed_match_the_library():
    doc = json.loads(DEMO.read_text())
    rep = greek_vectors(doc["trades"], MarketData.from_mapping(doc["market"]))
    res = invoke("risk", DEMO)
    eur = rep.prices.loc[rep.prices["currency"] == "EUR", "price"].sum()
    assert f"{eur:,.2f}" in res.stdout
    vega_usd = rep.greeks.query("greek == 'vega' and currency == 'USD'")["value"].sum() * 1e-2
    assert f"{vega_usd:,.2f}" in res.stdout


def test_bad_trade_file_exits_non_zero_after_printing_the_good_ones(bad_book):
    path, doc = bad_book
    res = invoke("risk", path)
    assert res.exit_code == 1
    bad_ids = {doc["trades"][1]["trade_id"], doc["trades"][4]["trade_id"]}
    for trade in doc["trades"]:
        if trade["trade_id"] not in bad_ids:
            assert trade["trade_id"] in res.stdout
    assert "2 trade(s) not priced" in res.stderr
    for tid in bad_ids:
        assert tid in res.stderr
    assert "strike" in res.stderr and "-5200" in res.stderr
    assert "quantity" in res.stderr and "'lots'" in res.stderr


def test_quiet_prints_nothing_on_success_and_one_line_per_error(bad_book):
    res = invoke("risk", DEMO, "--quiet")
    assert res.exit_code == 0 and res.output == ""
    path, doc = bad_book
    res = invoke("risk", path, "-q")
    assert res.exit_code == 1 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith(f"error: {path}: trade ") for line in lines)
    assert doc["trades"][1]["trade_id"] in lines[0] and "'strike'" in lines[0]


def test_out_dir_holds_every_result_file_and_the_manifest(tmp_path):
    out = tmp_path / "run"
    res = invoke("risk", FULL_BOOK, "-m", FULL_MARKET, "--out", out, "--quiet")
    assert res.exit_code == 0, res.output
    for name in ("trades", "greeks", "zero_greeks", "aggregates", "errors"):
        assert (out / f"{name}.parquet").exists()
    man = json.loads((out / "manifest.json").read_text())
    n = len(json.loads(FULL_BOOK.read_text())["trades"])
    assert man["counts"]["priced"] == n and man["status"] == "ok"
    assert man["inputs"]["market"]["sha256"] and man["versions"]["numba"]
    trades = pd.read_parquet(out / "trades.parquet")
    assert list(trades["position"]) == list(range(n))
    assert {"price", "stderr", "model", "product"} <= set(trades.columns)
    greeks = pd.read_parquet(out / "greeks.parquet")
    assert {"trade", "label", "value", "unit"} <= set(greeks.columns)


def test_csv_format_and_first_order_depth(tmp_path):
    out = tmp_path / "run"
    res = invoke("risk", FULL_BOOK, "-m", FULL_MARKET, "--out", out, "--format", "csv",
                 "--greeks", "first", "-q")
    assert res.exit_code == 0, res.output
    g = pd.read_csv(out / "greeks.csv")
    assert not g["greek"].isin(["gamma", "cross_gamma"]).any()
    assert g["greek"].isin(["delta", "vega", "par", "model"]).all() or len(g) > 0
    assert (out / "trades.csv").exists() and not (out / "trades.parquet").exists()


def test_out_with_bad_trades_still_writes_the_good_ones(tmp_path, bad_book):
    path, doc = bad_book
    out = tmp_path / "partial"
    res = invoke("risk", path, "--out", out, "--quiet")
    assert res.exit_code == 1
    assert len(pd.read_parquet(out / "trades.parquet")) == len(doc["trades"]) - 2
    err = pd.read_parquet(out / "errors.parquet")
    assert list(err["position"]) == [1, 4]
    assert list(err["field"]) == ["strike", "quantity"]
    assert (err["file"] == str(path)).all()
    assert json.loads((out / "manifest.json").read_text())["status"] == "errors"


def test_market_override(tmp_path):
    res = invoke("risk", DEMO, "--market", DEMO_MARKET)
    assert res.exit_code == 0 and "2024-07-31" in res.stdout and "2024-06-28" not in res.stdout
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps({"trades": json.loads(DEMO.read_text())["trades"]}))
    res = invoke("risk", bare)
    assert res.exit_code == 2 and "no 'market' section" in res.stderr
    assert invoke("risk", bare, "-m", DEMO_MARKET).exit_code == 0


def test_unusable_input_files_exit_2(tmp_path):
    res = invoke("risk", tmp_path / "nope.json")
    assert res.exit_code == 2 and "not found" in res.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("[1, 2")
    assert invoke("risk", broken).exit_code == 2
    res = invoke("risk", DEMO, "--market", broken)
    assert res.exit_code == 2 and "not valid JSON" in res.stderr
    notmarket = tmp_path / "m.json"
    notmarket.write_text(json.dumps({"valuation_date": "2024-06-28", "spots": {}}))
    res = invoke("risk", DEMO, "--market", notmarket)
    assert res.exit_code == 2 and "spots" in res.stderr


def test_help_shows_examples_and_subcommands():
    res = invoke("--help")
    assert res.exit_code == 0 and "risk" in res.stdout and "version" in res.stdout
    res = invoke("risk", "--help")
    assert res.exit_code == 0
    assert "aadrisk risk portfolios/demo.json" in res.stdout
    for opt in ("--market", "--out", "--quiet", "--format", "--chunk-size", "--workers",
                "--scheduler", "--greeks"):
        assert opt in res.stdout


def test_version():
    res = invoke("version")
    assert res.exit_code == 0 and res.stdout.strip() == aadrisk.__version__


def test_explain_demo_to_the_later_market(tmp_path):
    res = invoke("explain", DEMO, "--to", DEMO_MARKET, "--out", tmp_path / "x")
    assert res.exit_code == 0, res.output
    assert "2024-06-28 -> 2024-07-31" in res.stdout and "Unexplained" in res.stdout
    assert "TOTAL USD" in res.stdout and "spot/SPX" in res.stdout
    t = pd.read_parquet(tmp_path / "x" / "explain_trades.parquet")
    assert len(t) == 10
    assert (t["actual"] - t["predicted"] - t["unexplained"]).abs().max() < 1e-9
    assert (tmp_path / "x" / "explain_by_factor.parquet").exists()


def test_explain_and_scenarios_bad_inputs_exit_2(tmp_path):
    assert invoke("explain", DEMO, "--to", tmp_path / "none.json").exit_code == 2
    bad = tmp_path / "s.json"
    bad.write_text(json.dumps({"scenarios": [{"name": "x", "spot": {"NOPE": 0.1}}]}))
    res = invoke("scenarios", DEMO, bad)
    assert res.exit_code == 2 and "NOPE" in res.stderr


def test_scenarios_demo_prints_pnl_and_var(tmp_path):
    scen = ROOT / "portfolios" / "scenarios_demo.json"
    res = invoke("scenarios", DEMO, scen, "--confidence", "0.975", "--out", tmp_path / "s")
    assert res.exit_code == 0, res.output
    assert "rates +100bp parallel" in res.stdout and "VaR" in res.stdout
    assert "97.50%" in res.stdout
    var = pd.read_parquet(tmp_path / "s" / "var.parquet")
    assert list(var["currency"]) == ["EUR", "USD"] and (var["k_tail"] == 7).all()
    assert (var["es"] >= var["var"]).all()


def test_csv_portfolio_with_progress_rate_and_eta(tmp_path):
    book = ROOT / "portfolios" / "vanilla_200.csv"
    res = invoke("risk", book, "-m", FULL_MARKET, "--chunk-size", "50", "--workers", "1",
                 "--out", tmp_path / "o")
    assert res.exit_code == 0, res.output
    assert "200/200" in res.stderr and "trades/s" in res.stderr and "ETA" in res.stderr
    assert "200 of 200 trade(s) priced, 0 rejected" in res.stdout and "4 chunk(s)" in res.stdout
    assert "Total SPX" in res.stdout          # > 50 trades: totals only, no per-trade rows
    assert "BARRIER_OPTION-000000" not in res.stdout
    t = pd.read_parquet(tmp_path / "o" / "trades.parquet")
    assert len(t) == 200 and set(t["product"]) == {"european_option", "digital_option",
                                                   "barrier_option", "geometric_asian"}


def test_deprecated_csv_flags_still_write_files(tmp_path):
    res = invoke("risk", DEMO, "--out", tmp_path / "risk.csv", "--greeks", tmp_path / "g.csv")
    assert res.exit_code == 0, res.output
    assert "deprecated" in res.stderr
    t = pd.read_csv(tmp_path / "risk.csv")
    assert list(t.columns[:3]) == ["trade", "product", "model"] and len(t) == 10
    assert list(pd.read_csv(tmp_path / "g.csv").columns[:2]) == ["trade", "product"]
    res = invoke("risk", DEMO, "--greeks", "third")
    assert res.exit_code == 2 and "expected 'first' or 'second'" in res.stderr
