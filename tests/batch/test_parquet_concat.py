"""Byte-wise Parquet concatenation (the run's merge) and per-chunk aggregates."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from aadrisk.batch.aggregates import aggregates, combine_aggregates, partial_aggregates
from aadrisk.batch.chunk import SCHEMAS, encode_frame
from aadrisk.batch.parquet_concat import (ParquetConcat, ParquetConcatError, _footer,
                                          concat_parquet, encode_struct, part_layout)


def _bytes(table, **kw) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf, compression="zstd", **kw)
    return buf.getvalue()


def _concat(parts) -> pa.Table:
    out = io.BytesIO()
    n = concat_parquet(parts, out)
    t = pq.read_table(io.BytesIO(out.getvalue()))
    assert t.num_rows == n
    return t


def _table(rng, n):
    return pa.table({"i": pa.array(rng.integers(0, 10**12, n), pa.int64()),
                     "s": pa.array([None if k % 7 == 0 else f"name-{k % 13}" for k in range(n)],
                                   pa.large_string()),
                     "x": pa.array(rng.normal(size=n))})


def test_concatenation_equals_the_tables_one_after_the_other():
    rng = np.random.default_rng(3)
    tables = [_table(rng, n) for n in (1000, 0, 1, 70_000, 5)]
    # several row groups in one part, dictionary pages, an empty part
    parts = [_bytes(t, row_group_size=300) for t in tables]
    got = _concat(parts)
    assert got.equals(pa.concat_tables(tables))
    assert pq.ParquetFile(io.BytesIO(parts[0])).metadata.num_row_groups == 4


def test_footer_codec_round_trips_pyarrow_footers_exactly():
    data = _bytes(_table(np.random.default_rng(1), 500), row_group_size=100)
    meta, start = _footer(data, "x")
    assert encode_struct(meta) == data[start:-8]


def test_same_inputs_same_bytes_and_callables_are_read_lazily():
    rng = np.random.default_rng(5)
    parts = [_bytes(_table(rng, n)) for n in (10, 20)]
    a, b = io.BytesIO(), io.BytesIO()
    concat_parquet(parts, a)
    concat_parquet([lambda p=p: p for p in parts], b)
    assert a.getvalue() == b.getvalue()


def test_layouts_computed_elsewhere_give_the_same_bytes():
    rng = np.random.default_rng(7)
    parts = [_bytes(_table(rng, n), row_group_size=40) for n in (100, 3, 0, 250)]
    a, b = io.BytesIO(), io.BytesIO()
    concat_parquet(parts, a)
    w = ParquetConcat(b)
    for p in parts:
        w.add(p, layout=part_layout(p))
    w.finish()
    assert a.getvalue() == b.getvalue()
    with pytest.raises(ParquetConcatError, match="another file"):
        ParquetConcat(io.BytesIO()).add(parts[0], layout=part_layout(parts[1]))


def test_refuses_what_it_cannot_concatenate():
    rng = np.random.default_rng(2)
    t = _table(rng, 50)
    good = _bytes(t)
    with pytest.raises(ParquetConcatError, match="schema differs"):
        concat_parquet([good, _bytes(t.drop(["x"]))], io.BytesIO())
    with pytest.raises(ParquetConcatError, match="page index"):
        concat_parquet([good, _bytes(t, write_page_index=True)], io.BytesIO())
    with pytest.raises(ParquetConcatError, match="magic"):
        concat_parquet([good, b"not parquet at all"], io.BytesIO())
    with pytest.raises(ParquetConcatError, match="no parts"):
        concat_parquet([], io.BytesIO())


def test_chunk_parts_of_one_output_share_one_schema_even_when_empty():
    full = pd.DataFrame({"position": [3], "trade_id": ["A"], "field": ["strike"],
                         "value": ["-1"], "message": ["m"], "file": ["f"]})
    empty = pd.DataFrame(columns=list(full.columns))
    parts = [encode_frame(empty, SCHEMAS["errors"]), encode_frame(full, SCHEMAS["errors"])]
    got = _concat(parts).to_pandas()
    assert got["position"].tolist() == [3] and got["trade_id"].tolist() == ["A"]


def test_partial_aggregates_add_up_to_the_whole_book(small_book, market_raw, warm):
    from aadrisk.batch.portfolio import load_portfolio
    from aadrisk.batch.run import RunOptions, run_batch

    pf = load_portfolio(small_book)
    r = run_batch(pf, market_raw, RunOptions(chunk_size=9, workers=1))
    whole = aggregates(r.prices, r.greeks, pf.name)
    # the run's aggregates are sums of 7 chunks' partial sums: same groups, same counts
    pd.testing.assert_frame_equal(r.aggregates.drop(columns=["value", "value_per_bp",
                                                             "value_per_vol_point"]),
                                  whole.drop(columns=["value", "value_per_bp",
                                                      "value_per_vol_point"]))
    for c in ("value", "value_per_bp", "value_per_vol_point"):
        np.testing.assert_allclose(r.aggregates[c], whole[c], rtol=1e-12, atol=1e-9)
        assert (r.aggregates[c].isna() == whole[c].isna()).all()
    # one chunk: the combination of one partial is the partial itself
    one = combine_aggregates([partial_aggregates(r.prices, r.greeks)], pf.name)
    pd.testing.assert_frame_equal(one, whole, check_exact=True)
    assert set(whole["level"]) == {"book", "underlying", "risk_factor"}


def test_incremental_concat_writes_the_same_bytes_and_one_part_is_itself():
    from aadrisk.batch.parquet_concat import ParquetConcat

    rng = np.random.default_rng(7)
    parts = [_bytes(_table(rng, n), row_group_size=40) for n in (100, 3, 0, 250)]
    a, b = io.BytesIO(), io.BytesIO()
    rows = concat_parquet(parts, a)
    w = ParquetConcat(b)
    for p in parts:
        w.add(p)
    assert w.finish() == rows == 353
    assert a.getvalue() == b.getvalue()
    one = io.BytesIO()
    concat_parquet(parts[:1], one)
    assert one.getvalue() == parts[0]
