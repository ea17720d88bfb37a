"""Book aggregates of a run, summed per chunk on the workers and combined on the client.

Four sections, in this order in ``aggregates.parquet``:

* ``book``: price per currency;
* ``underlying`` (prices): price per (underlying, currency);
* ``underlying`` (Greeks): each Greek kind summed over labels per
  (underlying, currency, greek, unit);
* ``risk_factor``: each (label, greek, currency, unit) summed over trades.

:func:`partial_aggregates` computes the sums of one chunk (on the worker, in
parallel); :func:`combine_aggregates` adds the chunks' partial sums in chunk
order.  Every value is a sum and every ``n_trades`` a count of trades (a trade
lies in one chunk only), so the combination is exact up to floating-point
addition order -- which depends on the chunking (``--chunk-size``) only, never
on the number of workers or on a resume.  :func:`aggregates` is the
one-chunk case.

Examples
--------
>>> import pandas as pd
>>> p = pd.DataFrame({"trade": ["A", "B"], "underlying": ["X", "X"], "currency": ["USD"] * 2,
...                   "price": [1.0, 2.0]})
>>> g = pd.DataFrame(columns=["trade", "underlying", "currency", "label", "greek", "unit",
...                           "value", "value_per_bp", "value_per_vol_point"])
>>> parts = [partial_aggregates(p[:1], g), partial_aggregates(p[1:], g)]
>>> combine_aggregates(parts, "book")[["level", "underlying", "value", "n_trades"]].values.tolist()
[['book', nan, 3.0, 2], ['underlying', 'X', 3.0, 2]]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["AGG_COLUMNS", "PARTIAL_COLUMNS", "aggregates", "partial_aggregates",
           "combine_aggregates"]

AGG_COLUMNS = ["level", "book", "underlying", "label", "currency", "greek", "unit", "value",
               "value_per_bp", "value_per_vol_point", "n_trades"]
#: a chunk's partial sums: the final columns without ``book``, with the section number
PARTIAL_COLUMNS = ["section"] + [c for c in AGG_COLUMNS if c != "book"]
_VALS = ["value", "value_per_bp", "value_per_vol_point"]
#: section -> (level, grouping keys)
_SECTIONS = {0: ("book", ["currency"]),
             1: ("underlying", ["underlying", "currency"]),
             2: ("underlying", ["underlying", "currency", "greek", "unit"]),
             3: ("risk_factor", ["label", "greek", "currency", "unit"])}


def partial_aggregates(prices: pd.DataFrame, greeks: pd.DataFrame) -> pd.DataFrame:
    """The sums of one chunk (columns :data:`PARTIAL_COLUMNS`), sorted by section and keys."""
    parts = []
    if not prices.empty:
        for s in (0, 1):
            keys = _SECTIONS[s][1]
            b = prices.groupby(keys, sort=True, dropna=False).agg(
                value=("price", "sum"), n_trades=("trade", "size")).reset_index()
            b["section"], b["greek"], b["unit"] = s, "price", "ccy"
            parts.append(b)
    if not greeks.empty:
        for s, count in ((2, "nunique"), (3, "size")):
            grp = greeks.groupby(_SECTIONS[s][1], sort=True, dropna=False)
            g = grp[_VALS].sum(min_count=1)
            g["n_trades"] = grp["trade"].nunique() if count == "nunique" else grp.size()
            g = g.reset_index()
            g["section"] = s
            parts.append(g)
    return _typed(parts, PARTIAL_COLUMNS)


def combine_aggregates(partials, book: str) -> pd.DataFrame:
    """The run's aggregates (columns :data:`AGG_COLUMNS`) from the chunks' partial sums,
    added in the order given (chunk order).

    ``partials`` are frames or Arrow tables of :data:`PARTIAL_COLUMNS`.  The
    four sections are summed by ONE groupby on (section, the section's first,
    second, ... key): each group's rows are added in the order given, exactly
    as a groupby per section would (pandas' compensated sum over the same rows
    in the same order), and the groups come out sorted by section, then by the
    section's keys -- the fixed cost of pandas operations, not the ~100 rows a
    chunk adds, is what this function spends its time on.
    """
    cols = _partial_columns(partials)
    sec = cols["section"]
    n = len(sec)
    width = max(len(keys) for _, keys in _SECTIONS.values())
    slots = [np.full(n, None, dtype=object) for _ in range(width)]
    for s, (_, keys) in _SECTIONS.items():
        rows = sec == s
        for j, key in enumerate(keys):
            slots[j][rows] = cols[key][rows]
    frame = pd.DataFrame({"section": sec, **{f"k{j}": k for j, k in enumerate(slots)},
                          **{c: cols[c] for c in _VALS + ["n_trades"]}}, copy=False)
    grp = frame.groupby(["section"] + [f"k{j}" for j in range(width)], sort=True,
                        dropna=False)
    sums = grp[_VALS].sum(min_count=1)
    counts = grp["n_trades"].sum()
    gsec = sums.index.get_level_values(0).to_numpy()
    out = {"level": np.array([lv for lv, _ in _SECTIONS.values()], dtype=object)[gsec],
           "book": np.full(len(gsec), book, dtype=object)}
    for c in ("underlying", "label", "currency", "greek", "unit"):
        col = np.full(len(gsec), np.nan, dtype=object)
        for s, (_, keys) in _SECTIONS.items():
            if c in keys:
                rows = gsec == s
                col[rows] = sums.index.get_level_values(1 + keys.index(c)).to_numpy(
                    dtype=object)[rows]
            elif c in ("greek", "unit") and s < 2:
                col[gsec == s] = "price" if c == "greek" else "ccy"
        out[c] = col
    out.update({c: sums[c].to_numpy(float) for c in _VALS})
    out["n_trades"] = counts.to_numpy(np.int64)
    return _typed([pd.DataFrame(out)], AGG_COLUMNS)


def _partial_columns(partials) -> dict:
    """The partial sums given (frames or Arrow tables), concatenated: column -> array."""
    import pyarrow as pa

    tables = [p if isinstance(p, pa.Table) else
              pa.Table.from_pandas(p.reindex(columns=PARTIAL_COLUMNS), preserve_index=False)
              for p in partials if len(p)]
    out = {c: np.empty(0, dtype=object) for c in PARTIAL_COLUMNS}
    out.update({c: np.empty(0, dtype=np.int64) for c in ("section", "n_trades")})
    if tables:
        t = pa.concat_tables(tables, promote_options="permissive")
        out = {c: t.column(c).to_numpy(zero_copy_only=False) for c in PARTIAL_COLUMNS}
    return out


def aggregates(prices: pd.DataFrame, greeks: pd.DataFrame, book: str) -> pd.DataFrame:
    """Sums by book (price per currency), by underlying (price and each Greek kind) and by
    risk factor (label, greek) of one set of prices and Greeks; deterministic."""
    return combine_aggregates([partial_aggregates(prices, greeks)], book)


def _typed(parts, columns) -> pd.DataFrame:
    if not parts:
        out = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    else:
        out = pd.concat(parts, ignore_index=True).reindex(columns=columns)
    out["n_trades"] = out["n_trades"].astype(np.int64)
    for c in _VALS:
        out[c] = out[c].astype(float)
    if "section" in out:
        out["section"] = out["section"].astype(np.int64)
    return out
