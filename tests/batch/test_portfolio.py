"""Reading portfolios: JSON and CSV, problems naming file, position, trade id, field, value."""
from __future__ import annotations

import json

import pytest

from aadrisk.batch.portfolio import PortfolioError, load_market_file, load_portfolio

from pathlib import Path

PORTFOLIOS = Path(__file__).resolve().parents[2] / "portfolios"


def test_json_book_with_embedded_market():
    pf = load_portfolio(PORTFOLIOS / "demo.json")
    assert pf.name == "demo" and len(pf.trades) == 10 and pf.problems == []
    assert pf.market["valuation_date"] == "2024-06-28" and len(pf.sha256) == 64


def test_csv_sample_reads_numbers_and_text(tmp_path):
    pf = load_portfolio(PORTFOLIOS / "vanilla_200.csv")
    assert len(pf.trades) == 200 and pf.problems == []
    t = pf.trades[0]
    assert isinstance(t["strike"], float) and isinstance(t["quantity"], float)
    assert isinstance(t["expiry"], str) and isinstance(t["trade_id"], str)
    # empty cells are absent fields (a european option has no 'barrier')
    assert all("barrier" not in x for x in pf.trades if x["product"] == "european_option")


def test_csv_text_columns_stay_text_and_bad_rows_are_named(tmp_path):
    p = tmp_path / "b.csv"
    p.write_text("# comment line\ntrade_id,underlying,option_type,strike,expiry,quantity\n"
                 "007,SPX,call,5000,2025-06-20,10\n"
                 "X2,SPX,put,5000\n"
                 "007,SPX,put,4000,2025-06-20,-3\n")
    pf = load_portfolio(p)
    assert pf.trades[0]["trade_id"] == "007" and pf.trades[0]["strike"] == 5000.0
    probs = [(e.position, e.trade_id, e.field) for e in pf.problems]
    assert probs == [(1, "X2", "row"), (2, "007", "trade_id")]
    assert all(e.file == str(p) for e in pf.problems)
    assert "duplicate trade id (first at #0)" in str(pf.problems[1])
    assert pf.valid_positions == [0]


def test_non_object_trades_and_duplicates_in_json(tmp_path):
    p = tmp_path / "b.json"
    p.write_text(json.dumps([{"trade_id": "A"}, 5, {"trade_id": "A"}]))
    pf = load_portfolio(p)
    assert [(e.position, e.field, e.value) for e in pf.problems] == \
        [(1, "trade", 5), (2, "trade_id", "A")]


@pytest.mark.parametrize("content,needle", [
    ("[1, 2", "not valid JSON"),
    ('{"trades": 5}', "'trades' list"),
    ('{"trades": [], "extra": 1}', "unknown field"),
])
def test_unusable_files_name_the_file(tmp_path, content, needle):
    p = tmp_path / "bad.json"
    p.write_text(content)
    with pytest.raises(PortfolioError, match=needle) as exc:
        load_portfolio(p)
    assert str(p) in str(exc.value)


def test_missing_files_and_csv_without_trade_id(tmp_path):
    with pytest.raises(PortfolioError, match="not found"):
        load_portfolio(tmp_path / "none.csv")
    p = tmp_path / "x.csv"
    p.write_text("id,strike\n1,2\n")
    with pytest.raises(PortfolioError, match="no 'trade_id' column"):
        load_portfolio(p)
    with pytest.raises(PortfolioError, match="not found"):
        load_market_file(tmp_path / "m.json")


def test_market_file_accepts_wrapped_form(tmp_path):
    p = tmp_path / "m.json"
    p.write_text(json.dumps({"market": {"valuation_date": "2024-06-28", "rate": 0.01,
                                        "underlyings": {}}}))
    raw, sha = load_market_file(p)
    assert raw["rate"] == 0.01 and len(sha) == 64
