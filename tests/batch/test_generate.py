"""The book generator: every generated trade is valid on its market."""
from __future__ import annotations

import json
from typing import ClassVar  # noqa: F401  (dataclasses read string annotations here)

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


def test_option_products_registered_later_are_generated_generically(market_raw, monkeypatch):
    """A product added to the registry (say a Monte Carlo option whose extra fields have
    defaults) lands in generated books without a template; others are reported skipped."""
    import dataclasses

    from aadrisk.risk.instruments import EuropeanOption
    from aadrisk.risk.registry import ENGINES, INSTRUMENTS

    @dataclasses.dataclass(frozen=True)
    class FakeMC(EuropeanOption):
        product_type: ClassVar[str] = "fake_mc_option"
        n_paths: int = 1000

    @dataclasses.dataclass(frozen=True)
    class FakeSwap:
        product_type: ClassVar[str] = "fake_swap"
        trade_id: str
        notional: float

    eng = ENGINES["european_option"]
    monkeypatch.setitem(ENGINES, "fake_mc_option",
                        dataclasses.replace(eng, product="fake_mc_option", instrument=FakeMC))
    monkeypatch.setitem(INSTRUMENTS, "fake_mc_option", FakeMC)
    monkeypatch.setitem(INSTRUMENTS, "fake_swap", FakeSwap)
    doc, skipped = generate_book(300, market_raw, seed=3)
    assert "fake_swap" in skipped and "fake_mc_option" not in skipped
    mc = [t for t in doc["trades"] if t["product"] == "fake_mc_option"]
    assert mc and set(mc[0]) == {"trade_id", "product", "underlying", "option_type",
                                 "strike", "expiry", "quantity"}
    rep = greek_vectors(mc, market_raw)
    assert rep.ok and len(rep.prices) == len(mc)
