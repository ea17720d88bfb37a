"""The chunked run: same numbers as one Greek-vector call, any chunking, any worker count;
errors named and positioned; resume reuses only chunks of the same inputs."""
from __future__ import annotations

import copy
import filecmp
import json

import numpy as np
import pandas as pd
import pytest

from aadrisk.batch.portfolio import load_portfolio
from aadrisk.batch.run import FINAL_FILES, RunOptions, run_batch
from aadrisk.risk.greeks import greek_vectors


def _run(pf, market_raw, **kw):
    return run_batch(pf, market_raw, RunOptions(**kw))


def _same_files(a, b):
    for name in FINAL_FILES:
        assert filecmp.cmp(a / f"{name}.parquet", b / f"{name}.parquet", shallow=False), name


@pytest.mark.parametrize("chunk_size", [7, 1000])
def test_chunked_run_is_bit_identical_to_one_greek_vectors_call(small_book, market_raw, warm,
                                                                chunk_size):
    pf = load_portfolio(small_book)
    res = _run(pf, market_raw, chunk_size=chunk_size, workers=1)
    rep = greek_vectors(pf.trades, market_raw)
    pd.testing.assert_frame_equal(res.prices.drop(columns="position"), rep.prices,
                                  check_exact=True)
    pd.testing.assert_frame_equal(res.greeks.drop(columns="position"), rep.greeks,
                                  check_exact=True, check_dtype=False)
    pd.testing.assert_frame_equal(res.zero_greeks.drop(columns="position"), rep.zero_greeks,
                                  check_exact=True, check_dtype=False)
    assert len(res.prices) == 56 and res.manifest["counts"]["chunks"] == -(-59 // chunk_size)


def test_errors_name_file_position_trade_field_value(small_book, market_raw, warm):
    pf = load_portfolio(small_book)
    res = _run(pf, market_raw, chunk_size=7, workers=1)
    e = res.errors
    assert list(e["position"]) == [7, 23, 41, 50]
    assert list(e["field"])[0] == "strike" and e["value"].iloc[0] == "-1"
    assert e["field"].iloc[1] in ("underlying", "spot") and "NOPE" in e["message"].iloc[1]
    assert e["trade_id"].iloc[2] == "#41" and e["field"].iloc[2] == "trade_id"
    assert e["field"].iloc[3] == "trade_id" and "duplicate" in e["message"].iloc[3]
    assert (e["file"] == str(small_book)).all()
    assert all(m.startswith(str(small_book)) for m in e["message"])
    assert not res.ok and res.manifest["status"] == "errors"
    # every other trade priced, in book order
    assert list(res.prices["position"]) == [i for i in range(60) if i not in (7, 23, 41, 50)]


def test_one_vs_two_local_workers_give_the_same_bytes(tmp_path, small_book, market_raw, warm):
    pf = load_portfolio(small_book)
    r1 = _run(pf, market_raw, out=tmp_path / "w1", chunk_size=15, workers=1)
    r2 = _run(pf, market_raw, out=tmp_path / "w2", chunk_size=15, workers=2)
    assert r1.manifest["options"]["executor"] == "in-process"
    assert r2.manifest["options"]["executor"] == "local-processes"
    assert len({c["worker"] for c in r2.manifest["timings"]["chunks"]}) >= 1
    _same_files(tmp_path / "w1", tmp_path / "w2")


def test_resume_reuses_chunks_only_for_the_same_inputs(tmp_path, small_book, market_raw, warm):
    pf = load_portfolio(small_book)
    out = tmp_path / "run"
    r = _run(pf, market_raw, out=out, chunk_size=20, workers=1)
    first = {n: (out / f"{n}.parquet").read_bytes() for n in FINAL_FILES}
    assert r.manifest["counts"]["chunks_computed"] == 3
    r = _run(pf, market_raw, out=out, chunk_size=20, workers=1)
    assert r.manifest["counts"]["chunks_reused"] == 3
    assert first == {n: (out / f"{n}.parquet").read_bytes() for n in FINAL_FILES}
    bumped = copy.deepcopy(market_raw)
    bumped["underlyings"]["SPX"]["spot"] += 1.0
    r = _run(pf, bumped, out=out, chunk_size=20, workers=1)
    assert r.manifest["counts"]["chunks_computed"] == 3
    assert (out / "trades.parquet").read_bytes() != first["trades"]
    # stale chunks of the old market are gone: one chunk file per chunk
    assert len(list((out / "chunks").glob("*.chunk"))) == 3
    r = _run(pf, market_raw, out=out, chunk_size=20, workers=1, depth="first")
    assert r.manifest["counts"]["chunks_computed"] == 3      # options are part of the key


def test_first_order_depth_drops_second_order_rows(small_book, market_raw, warm):
    pf = load_portfolio(small_book)
    r1 = _run(pf, market_raw, chunk_size=100, workers=1, depth="first")
    r2 = _run(pf, market_raw, chunk_size=100, workers=1, depth="second")
    assert not r1.greeks["greek"].isin(["gamma", "cross_gamma"]).any()
    assert r2.greeks["greek"].isin(["gamma", "cross_gamma"]).any()
    keep = r2.greeks[~r2.greeks["greek"].isin(["gamma", "cross_gamma"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(r1.greeks.reset_index(drop=True), keep, check_exact=True)


def test_aggregates_add_up(small_book, market_raw, warm):
    pf = load_portfolio(small_book)
    r = _run(pf, market_raw, chunk_size=100, workers=1)
    a = r.aggregates
    book = a[a["level"] == "book"].set_index("currency")["value"]
    np.testing.assert_allclose(book.sort_index().to_numpy(),
                               r.prices.groupby("currency")["price"].sum().sort_index())
    rf = a[a["level"] == "risk_factor"]
    spx = rf[(rf["label"] == "spot/SPX") & (rf["greek"] == "delta")]["value"].iloc[0]
    g = r.greeks
    assert spx == pytest.approx(g[(g.label == "spot/SPX") & (g.greek == "delta")]["value"].sum())
    und = a[(a["level"] == "underlying") & (a["greek"] == "vega") & (a["underlying"] == "SPX")]
    assert und["value"].iloc[0] == pytest.approx(
        g[(g.underlying == "SPX") & (g.greek == "vega")]["value"].sum())


def test_manifest_records_inputs_versions_counts_timings(tmp_path, small_book, market_raw, warm):
    pf = load_portfolio(small_book)
    r = run_batch(pf, market_raw, RunOptions(out=tmp_path / "r", chunk_size=25, workers=1),
                  market_file={"path": "m.json", "sha256": "abc"})
    m = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert m == json.loads(json.dumps(r.manifest, default=str))
    assert m["inputs"]["portfolio"]["sha256"] == pf.sha256
    assert m["inputs"]["market"]["sha256"] == "abc"
    assert set(m["versions"]) >= {"aadrisk", "numpy", "numba", "pandas", "pyarrow", "python"}
    assert m["counts"]["priced"] + m["counts"]["rejected"] == 60
    assert m["counts"]["chunks"] == 3 and len(m["timings"]["chunks"]) == 3
    assert m["outputs"]["greeks"]["rows"] == m["counts"]["greek_rows"]
    assert m["valuation_date"] == "2024-06-28"


def test_an_engine_failing_on_one_trade_never_sinks_the_run(small_book, market_raw, warm,
                                                             monkeypatch):
    import dataclasses

    from aadrisk.risk.registry import ENGINES

    pf = load_portfolio(small_book)
    victim = next(t for t in pf.trades if t.get("product") == "digital_option")
    eng = ENGINES["digital_option"]

    def evaluate(trades, market):
        if any(t.trade_id == victim["trade_id"] for t in trades):
            raise FloatingPointError("boom")
        return eng.evaluate(trades, market)

    monkeypatch.setitem(ENGINES, "digital_option", dataclasses.replace(eng, evaluate=evaluate))
    r = _run(pf, market_raw, chunk_size=30, workers=1)
    bad = r.errors[r.errors["trade_id"] == victim["trade_id"]]
    assert len(bad) == 1 and "boom" in bad["message"].iloc[0]
    assert bad["position"].iloc[0] == pf.trades.index(victim)
    assert len(r.prices) == 55 and victim["trade_id"] not in set(r.prices["trade"])
    assert (r.prices["product"] == "digital_option").sum() == \
        sum(t.get("product") == "digital_option" for i, t in enumerate(pf.trades)
            if i not in (7, 23, 41, 50)) - 1


def test_final_files_are_the_chunk_files_concatenated_even_with_empty_chunks(
        tmp_path, small_book, market_raw, warm):
    import dataclasses

    import pyarrow.parquet as pq

    pf = load_portfolio(small_book)
    # ten trades, one chunk each; trade 7 (bad strike) leaves its chunk empty; no file
    # hash: the chunk keys hash the trades themselves
    pf = dataclasses.replace(pf, trades=pf.trades[:10], problems=[], sha256="")
    r = _run(pf, market_raw, out=tmp_path / "r", chunk_size=1, workers=1)
    mem = _run(pf, market_raw, chunk_size=1, workers=1)
    assert r.manifest["counts"]["chunks"] == 10 and list(r.errors["position"]) == [7]
    pd.testing.assert_frame_equal(r.prices, mem.prices, check_exact=True)
    pd.testing.assert_frame_equal(r.greeks, mem.greeks, check_exact=True)
    assert list(r.prices["position"]) == [0, 1, 2, 3, 4, 5, 6, 8, 9]
    meta = pq.ParquetFile(tmp_path / "r" / "greeks.parquet").metadata
    assert meta.num_rows == r.manifest["outputs"]["greeks"]["rows"] == len(r.greeks)
    assert meta.num_row_groups >= 9            # one (or more) per non-empty chunk: not rewritten
    whole = greek_vectors(pf.trades, market_raw)
    pd.testing.assert_frame_equal(r.greeks.drop(columns="position"), whole.greeks,
                                  check_exact=True, check_dtype=False)


def test_chunk_task_carries_its_trades_as_one_payload():
    """The trades of a task are one bytes object (a Dask scheduler only copies it); the
    worker gets them back equal and in order."""
    import pickle

    from aadrisk.batch.chunk import ChunkTask

    trades = [{"trade_id": f"T{i}", "product": "european_option", "strike": 100.0 + i}
              for i in range(5)]
    t = ChunkTask.make(3, "k" * 64, range(10, 15), trades, {"m": 1}, "h", "second", "f.json")
    assert isinstance(t.payload, bytes) and t.n_trades == 5 and t.positions == (10, 11, 12, 13, 14)
    assert t.trades() == trades
    assert pickle.loads(pickle.dumps(t)).trades() == trades
    with pytest.raises(ValueError, match="2 positions for 5 trades"):
        ChunkTask.make(0, "k", (1, 2), trades, {}, "h", "second", "f")


def test_chunks_merged_as_they_arrive_in_any_order_give_the_same_bytes(
        tmp_path, small_book, market_raw, warm, monkeypatch):
    """The final files are merged while chunks complete, in chunk order; chunks that come
    back in reverse order (some held in memory, some read back from their files) and a
    killed run's leftover temp output give the same files as an ordinary run."""
    import aadrisk.batch.executors as ex
    import aadrisk.batch.run as run_mod

    pf = load_portfolio(small_book)
    _run(pf, market_raw, out=tmp_path / "plain", chunk_size=5, workers=1)

    class Reversed(ex.InProcess):
        def run(self, fn, tasks):
            yield from reversed([fn(t) for t in tasks])

    monkeypatch.setattr(ex, "make_executor", lambda *a: Reversed())
    monkeypatch.setattr(run_mod._Merger.__init__, "__defaults__", (2,))   # hold 2 in memory
    out = tmp_path / "reversed"
    out.mkdir()
    (out / ".greeks.parquet.abc123.tmp").write_bytes(b"left by a killed run")
    r = _run(pf, market_raw, out=out, chunk_size=5, workers=1)
    assert r.manifest["counts"]["chunks_computed"] == 12
    _same_files(tmp_path / "plain", out)
    assert not list(out.glob(".*.tmp"))
