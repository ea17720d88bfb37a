"""The columnar glue of the surface-vol equity engines: inputs gathered and long rows
written by compiled kernels, one pass over the trades each.

:mod:`aadrisk.risk.products.equity` prices ``european_option``, ``digital_option``,
``barrier_option`` and ``geometric_asian`` with ONE ``Program.hvp`` over the book.
Around that sweep, this module

* gathers the per-trade inputs (:func:`gather`): everything that depends on the
  expiry only (discount coefficients, the surface's slice weights and flat-region
  times) is computed with the market layer's own NumPy functions once per distinct
  (currency or underlying, expiry date) and copied to the trades (memoized per source
  and date in the snapshot's :meth:`~aadrisk.market.snapshot.MarketData.derived`
  cache: those functions work element by element, so a date's values do not depend on
  the other dates); the strike part of the surface lookup and the corner vols are read
  per trade by a kernel;
* writes the long Greek rows (:func:`long_rows`) already in trade order, with label and
  greek codes into the tables the generic :class:`~aadrisk.risk.registry.Rows` path
  would build (the same strings, in the same order; memoized per market and list of
  underlyings), and the same values: the pillar adjoints summed per cell as
  ``np.add.at`` does, the quote rows from :func:`~aadrisk.market.bootstrap.rowwise_matmul`
  (one call per currency for the deltas and cross-gammas together: its rows are
  computed independently of each other), the node vegas summed corner by corner.

Results are bit-identical to the generic path (``discount_rows``, ``vol_rows``,
``Rows.add_matrix``), which remains the path of the model products and of surfaces or
curves whose labels repeat.
"""
from __future__ import annotations

import numpy as np

from ...market.bootstrap import rowwise_matmul
from ..instruments import OptionType
from ..registry import Rows, factorize, recode
from ._equity_kernels import emit_rows, emit_zero_rows, fill_inputs, pillar_adjoints

__all__ = ["inputs", "gather", "long_rows", "distinct_labels"]

#: rows of the float matrix :func:`gather` fills (program inputs, by name)
FIELDS = ("zl", "zr", "da", "db", "da1", "da2", "db1", "db2", "v00", "v01", "v10", "v11",
          "lam", "alpha", "t0", "t1", "dalpha", "dt0", "dt1")


def distinct_labels(labels) -> bool:
    """Whether ``labels`` has no repeated string (the fast rows need distinct columns)."""
    return len(set(labels)) == len(labels)


def _cat(arrays, dtype) -> tuple[np.ndarray, np.ndarray]:
    """(concatenation, start offset of each array)."""
    sizes = [a.size for a in arrays]
    off = np.zeros(len(arrays), dtype=np.int64)
    if len(arrays) > 1:
        off[1:] = np.cumsum(sizes)[:-1]
    flat = np.concatenate([np.asarray(a, dtype=dtype).ravel() for a in arrays]) if arrays \
        else np.zeros(0, dtype=dtype)
    return (flat if flat.size else np.zeros(1, dtype=dtype)), off


#: entries of a snapshot's derived cache (:meth:`MarketData.derived`) kept by
#: :func:`_per_date` before it clears it
MEMO_MAX = 4096


def _per_date(m, kind: str, src, dates: list, T: np.ndarray, compute) -> np.ndarray:
    """``compute(T)`` (an array ``(fields, len(T))``, element by element in T) for the
    distinct expiry ``dates`` (times ``T``), memoized on the snapshot per (source, date)."""
    memo = m.derived()
    cols, miss = [None] * len(dates), []
    for j, d in enumerate(dates):
        hit = memo.get((kind, id(src), d))
        if hit is not None and hit[0] is src:
            cols[j] = hit[1]
        else:
            miss.append(j)
    if miss:
        got = compute(T[miss])
        if len(memo) > MEMO_MAX:
            memo.clear()
        for k, j in enumerate(miss):
            cols[j] = got[:, k].copy()
            memo[(kind, id(src), dates[j])] = (src, cols[j])
    return np.stack(cols, axis=1)


def _discount_dt(src):
    """Per time: pillar indexes, their zeros and the DF coefficients with their slopes."""
    def compute(t):
        iL, iR, a, b, a1, b1, a2, b2 = src.coeffs_dt(t)
        return np.stack([src.zeros[iL], src.zeros[iR], a, b, a1, a2, b1, b2,
                         iL.astype(float), iR.astype(float)])
    return compute


def _slice_dt(src):
    """Per time: the surface's slice part of a lookup (left side) and its time slopes."""
    def compute(t):
        lk = src.surface.lookup(expiry=t, strike=np.ones(t.shape), side="left")
        return np.stack([lk.alpha, lk.t0, lk.t1, *lk.time_derivatives(),
                         lk.ie0.astype(float), lk.ie1.astype(float)])
    return compute


def _memoized(m, key: tuple, srcs: tuple, compute):
    """``compute()`` memoized on the snapshot (:meth:`MarketData.derived`) under ``key``,
    valid while the sources it read are the objects ``srcs`` (ids in keys can be reused)."""
    memo = m.derived()
    hit = memo.get(key)
    if hit is not None and len(hit[0]) == len(srcs) and \
            all(a is b for a, b in zip(hit[0], srcs)):
        return hit[1]
    got = compute()
    if len(memo) > MEMO_MAX:
        memo.clear()
    memo[key] = (srcs, got)
    return got


def _surfaces(m, uniq: list, vsrc: list) -> tuple:
    """Strikes and node vols of the surfaces ``vsrc`` concatenated (memoized)."""
    def compute():
        ks, koff = _cat([np.asarray(s.surface.strikes, dtype=float) for s in vsrc], float)
        vs, voff = _cat([s.surface.vols for s in vsrc], float)
        nks = np.array([len(s.surface.strikes) for s in vsrc], dtype=np.int64)
        return ks, koff, nks, vs, voff
    return _memoized(m, ("surfaces", tuple(uniq)), tuple(vsrc), compute)


def _date_tables(m, dates: list, T_dates: np.ndarray, dsrc: list, vsrc: list) -> tuple:
    """(discount coefficients, their pillar indexes, slice parts, their slice indexes) of
    the distinct expiry ``dates`` per discount source ``dsrc`` and vol source ``vsrc``:
    the :func:`_per_date` columns stacked (memoized on the snapshot per dates and
    sources, as those columns are; the kernels only read them)."""
    def compute():
        dt = np.stack([_per_date(m, "discount_dt", s, dates, T_dates, _discount_dt(s))
                       for s in dsrc])
        vt = np.stack([_per_date(m, "slice_dt", s, dates, T_dates, _slice_dt(s))
                       for s in vsrc])
        return (np.ascontiguousarray(dt[:, :8]), dt[:, 8:].astype(np.int64),
                np.ascontiguousarray(vt[:, :6]), vt[:, 6:].astype(np.int64))
    return _memoized(m, ("date_tables", tuple(dates), tuple(map(id, dsrc)),
                         tuple(map(id, vsrc))), tuple(dsrc + vsrc), compute)


def gather(m, dates, T_dates, e_codes, u_codes, uniq, c_codes_u, ccys, K) -> tuple[dict, dict]:
    """Per-trade inputs of the surface-vol programs that come from the curves and surfaces.

    Parameters
    ----------
    m : MarketData
    dates, T_dates : list, ndarray
        The distinct expiry dates and their year fractions; ``e_codes`` each trade's date.
    u_codes, uniq : ndarray, list
        Each trade's underlying (codes into the distinct ``uniq``).
    c_codes_u, ccys : ndarray, list
        Each underlying's currency (codes into the distinct ``ccys``).
    K : ndarray
        Strikes.

    Returns
    -------
    (dict, dict)
        Program inputs by name (:data:`FIELDS`), and what :func:`long_rows` needs
        (pillar indexes and surface nodes per trade, the sources).
    """
    n = K.shape[0]
    dsrc = [m.discount_for(c) for c in ccys]
    vsrc = [m.vols[u] for u in uniq]
    dtab, itab, vtab, ivtab = _date_tables(m, dates, T_dates, dsrc, vsrc)
    ks, koff, nks, vs, voff = _surfaces(m, uniq, vsrc)
    out = np.empty((len(FIELDS), n))
    iout = np.empty((6, n), dtype=np.int64)
    fill_inputs(e_codes, u_codes, np.asarray(c_codes_u, dtype=np.int64), K,
                 dtab, itab, vtab, ivtab, ks, koff, nks, vs, voff, out, iout)
    inp = dict(zip(FIELDS, out))
    plan = {"u_codes": u_codes, "uniq": uniq, "c_of_u": np.asarray(c_codes_u, np.int64),
            "dsrc": dsrc, "vsrc": vsrc, "iL": iout[0], "iR": iout[1], "nodes": iout[2:]}
    return inp, plan


def inputs(c, m, extra) -> tuple[dict, dict] | None:
    """(program inputs, row plan) of the trades ``c`` (:class:`TradeColumns` of a
    surface-vol product; ``extra(c)``: the product's own inputs): what
    :func:`aadrisk.risk.products.equity._inputs` gives, or None when a source's labels
    repeat (the generic rows then map them)."""
    u_codes, uniq = c.factorized("underlying")
    c_codes, ccys = factorize([m.currencies.get(u) for u in uniq])
    for src in [m.discount_for(x) for x in ccys] + [m.vols[u] for u in uniq]:
        if not _memoized(m, ("distinct_labels", id(src)), (src,),
                         lambda: distinct_labels(src.labels) and
                         distinct_labels(getattr(src, "zero_labels", ()))):
            return None
    e_codes, dates = c.factorized("expiry")
    Td = np.array([m.year_fraction(d) for d in dates], dtype=float)
    T = Td[e_codes]
    K = np.array(c["strike"], dtype=float)
    inp, plan = gather(m, dates, Td, e_codes, u_codes, uniq, c_codes, ccys, K)
    o_codes, opts = c.factorized("option_type")
    inp.update({"spot": np.array([m.spots[u] for u in uniq], dtype=float)[u_codes],
                "div": np.array([m.divs[u] for u in uniq], dtype=float)[u_codes],
                "expiry": T, "strike": K, "t_ref": T.copy(),
                "is_call": np.array([1.0 if o is OptionType.CALL else 0.0
                                     for o in opts])[o_codes]})
    inp.update(extra(c))
    return inp, plan


def _mask_cols(mask, size) -> np.ndarray:
    return np.arange(size, dtype=np.int64) if mask is None else \
        np.flatnonzero(np.asarray(mask)).astype(np.int64)


def _tables(m, uniq: list, dsrc: list, vsrc: list) -> dict:
    """The label and greek tables of the rows of trades on ``uniq`` (in that order, with
    the discount sources ``dsrc`` of their currencies and the vol sources ``vsrc``) and
    the code of each row kind: what the generic path's ``Rows`` parts build, in the same
    order (memoized on the snapshot)."""
    memo = m.derived()
    key = ("rows_tables", tuple(uniq), tuple(map(id, dsrc)))
    hit = memo.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], dsrc + vsrc)):
        return hit[1]
    labels: dict = {}
    kinds: dict = {}
    zlabels: dict = {}
    t = {"spot_lab": recode([f"spot/{u}" for u in uniq], labels)}
    t["div_lab"] = np.append(recode([f"div/{u}" for u in uniq], labels),
                             recode(["time"], labels))
    gk = np.zeros(6, dtype=np.int64)
    gk[:5] = recode(["delta", "gamma", "div", "cross_gamma", "theta"], kinds)
    qcols, qlab, gk_par, zcols, zlab = [], [], [], [], []
    for src in dsrc:                     # (every currency group has trades)
        kind = "rate" if src.labels[0].startswith("rate/") else "par"
        cols = _mask_cols(src.quote_mask, len(src.labels))
        if cols.shape[0]:
            lab = recode(src.labels, labels)
            gk_par.append(recode([kind, "cross_gamma"], kinds)[0])
        else:
            lab = np.zeros(len(src.labels), np.int64)
            gk_par.append(0)
        qcols.append(cols)
        qlab.append(lab[cols])
        nP = src.zeros.shape[0]
        zc = _mask_cols(src.zero_mask, nP) if kind == "par" else np.zeros(0, np.int64)
        zl = recode(src.zero_labels, zlabels) if zc.shape[0] else np.zeros(nP, np.int64)
        zcols.append(zc)
        zlab.append(zl[zc])
    vlab = [recode(s.labels, labels) for s in vsrc]
    if vsrc:
        gk[5] = recode(["vega", "cross_gamma"], kinds)[0]
    t["gk"], t["gk_par"] = gk, np.array(gk_par, dtype=np.int64)
    t["qc"], t["qoff"] = _cat(qcols, np.int64)
    t["ql"] = _cat(qlab, np.int64)[0]
    t["qn"] = np.array([c.shape[0] for c in qcols], dtype=np.int64)
    t["vl"], t["vloff"] = _cat(vlab, np.int64)
    t["zc"], t["zcoff"] = _cat(zcols, np.int64)
    t["zl"] = _cat(zlab, np.int64)[0]
    t["zn"] = np.array([c.shape[0] for c in zcols], dtype=np.int64)
    t["Q"] = np.array([len(s.labels) for s in dsrc], dtype=np.int64)
    t["P"] = np.array([s.zeros.shape[0] for s in dsrc], dtype=np.int64)
    t["labels"], t["kinds"], t["zlabels"] = list(labels), list(kinds), list(zlabels)
    if len(memo) > MEMO_MAX:
        memo.clear()
    memo[key] = (tuple(dsrc + vsrc), t)
    return t


def _flat(mats: list) -> tuple[np.ndarray, np.ndarray]:
    """Matrices raveled one after the other, and where each starts."""
    off = np.zeros(len(mats), dtype=np.int64)
    at = 0
    for k, a in enumerate(mats):
        off[k] = at
        at += a.size
    return np.concatenate([a.ravel() for a in mats]), off


def long_rows(m, plan: dict, g: dict, h: dict) -> tuple[Rows, Rows]:
    """(rows, zero rows) of the trades of ``plan`` (:func:`gather`) from the sweep's
    gradients ``g`` and spot hvps ``h``: what ``rows.add_codes`` (delta, gamma, div,
    cross_gamma), ``rows.add`` (theta), ``discount_rows`` and ``vol_rows`` give."""
    u_codes, dsrc = plan["u_codes"], plan["dsrc"]
    t = _tables(m, plan["uniq"], dsrc, plan["vsrc"])
    c_codes = plan["c_of_u"][u_codes]
    n = u_codes.shape[0]
    grow = np.empty(n, dtype=np.int64)
    M, C, Z = [], [], []
    for k, src in enumerate(dsrc):
        idx = np.flatnonzero(c_codes == k) if len(dsrc) > 1 else np.arange(n)
        ng = idx.shape[0]
        grow[idx] = np.arange(ng)
        nP = src.zeros.shape[0]
        iL, iR = plan["iL"][idx], plan["iR"][idx]
        both = np.empty((2 * ng, nP))
        pillar_adjoints(iL, iR, g["zl"][idx], g["zr"][idx], nP, both[:ng])
        pillar_adjoints(iL, iR, h["zl"][idx], h["zr"][idx], nP, both[ng:])
        q = rowwise_matmul(both, src.dzdq)           # rows independent of each other
        M.append(q[:ng])
        C.append(q[ng:])
        Z.append(both[:ng])
    Mf, moff = _flat(M)
    Cf = np.concatenate([a.ravel() for a in C])
    cap = n * (5 + 2 * int(t["qn"].max(initial=0)) + 8)
    idx_out, lab_out = np.empty(cap, np.int64), np.empty(cap, np.int64)
    grk_out, val_out = np.empty(cap, np.int64), np.empty(cap)
    gc = np.stack([g[c] for c in ("v00", "v01", "v10", "v11")])
    hc = np.stack([h[c] for c in ("v00", "v01", "v10", "v11")])
    f64 = (lambda x: np.asarray(x, dtype=float))
    k = emit_rows(u_codes, c_codes, grow, plan["nodes"], t["spot_lab"], t["div_lab"], t["gk"],
                   t["gk_par"], f64(g["spot"]), f64(h["spot"]), f64(g["div"]), f64(h["div"]),
                   f64(g["expiry"]), gc, hc, Mf, Cf, moff, t["Q"], t["qc"], t["ql"], t["qoff"],
                   t["qn"], t["vl"], t["vloff"], idx_out, lab_out, grk_out, val_out)
    rows, zero_rows = Rows(), Rows()
    rows.add_coded(idx_out[:k], (lab_out[:k], t["labels"]), (grk_out[:k], t["kinds"]),
                   val_out[:k], ordered=True)           # (emitted trade by trade)
    zn = t["zn"]
    if zn.any():
        Zf, zoff = _flat(Z)
        cap = n * int(zn.max())
        zi, zlo, zv = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap)
        k = emit_zero_rows(c_codes, grow, Zf, zoff, t["P"], t["zc"], t["zl"], t["zcoff"], zn,
                            zi, zlo, zv)
        zero_rows.add_coded(zi[:k], (zlo[:k], t["zlabels"]), (np.zeros(k, np.int64), ["zero"]),
                            zv[:k], ordered=True)
    return rows, zero_rows
