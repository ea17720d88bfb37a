"""The book generator: every generated trade is valid on its market."""
from __future__ import annotations

import json

from aadrisk.batch.generate import generate_book, main, scenario_file
from aadrisk.batch.scenarios import load_scenarios
from aadrisk.risk.greeks import GREEK_PRODUCTS, greek_vectors


def test_generated_mixed_book_prices_without_errors(market_raw, warm):
    doc, skipped = generate_book(600, market_raw, seed=11)
    assert skipped == [p for p in sorted(GREEK_PRODUCTS) if p not in
                       {t["product"] for t in doc["trades"]}]
    rep = greek_vectors(doc["trades"], market_raw)
    assert rep.ok, rep.errors[:3]
    assert len({t["trade_id"] for t in doc["trades"]}) == 600
    again, _ = generate_book(600, market_raw, seed=11)
    assert again == doc                                   # seeded: same book


def test_cli_writes_json_csv_and_scenarios(tmp_path, market_raw):
    m = tmp_path / "m.json"
    m.write_text(json.dumps(market_raw))
    assert main(["--trades", "50", "--market", str(m), "--out", str(tmp_path / "b.json")]) == 0
    assert len(json.loads((tmp_path / "b.json").read_text())["trades"]) == 50
    assert main(["--trades", "20", "--market", str(m), "--csv", "--products",
                 "european_option", "--out", str(tmp_path / "b.csv")]) == 0
    assert len((tmp_path / "b.csv").read_text().splitlines()) == 21
    assert main(["--market", str(m), "--scenarios", "30", "--out",
                 str(tmp_path / "s.json")]) == 0
    sc, st = load_scenarios(json.loads((tmp_path / "s.json").read_text()))
    assert sum(s.historical for s in sc) == 30
    assert scenario_file(market_raw, 5, seed=2) == scenario_file(market_raw, 5, seed=2)
