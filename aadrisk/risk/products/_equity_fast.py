"""The columnar glue of the surface-vol equity engines: inputs gathered and long rows
written by compiled kernels, one pass over the trades each.

:mod:`aadrisk.risk.products.equity` prices ``european_option``, ``digital_option``,
``barrier_option`` and ``geometric_asian`` with ONE ``Program.hvp`` over the book.
Around that sweep, this module

* gathers the per-trade inputs (:func:`gather`): everything that depends on the
  expiry only (discount coefficients, the surface's slice weights and flat-region
  times) is computed with the market layer's own NumPy functions once per distinct
  (currency or underlying, expiry date) and copied to the trades; the strike part of
  the surface lookup and the corner vols are read per trade by a kernel;
* writes the long Greek rows (:func:`long_rows`) already in trade order, with label and
  greek codes into the tables the generic :class:`~aadrisk.risk.registry.Rows` path
  would build (the same strings, in the same order), and the same values: the pillar
  adjoints summed per cell as ``np.add.at`` does, the quote rows from
  :func:`~aadrisk.market.bootstrap.rowwise_matmul` of the same matrices, the node
  vegas summed corner by corner.

Results are bit-identical to the generic path (``discount_rows``, ``vol_rows``,
``Rows.add_matrix``), which remains the path of the model products and of surfaces or
curves whose labels repeat.
"""
from __future__ import annotations

import numpy as np

from ..._numba import jit
from ...market.bootstrap import rowwise_matmul
from ..registry import Rows, recode

__all__ = ["gather", "long_rows", "distinct_labels"]

#: rows of the float matrix :func:`gather` fills (program inputs, by name)
FIELDS = ("zl", "zr", "da", "db", "da1", "da2", "db1", "db2", "v00", "v01", "v10", "v11",
          "lam", "alpha", "t0", "t1", "dalpha", "dt0", "dt1")


@jit(noalias=True)
def _fill_inputs(e_codes, u_codes, c_of_u, K, dtab, itab, vtab, ivtab, ks, koff, nks, vs,
                 voff, out, iout):  # pragma: no cover  (compiled)
    """Per trade: discount coefficients of (currency, expiry), the surface lookup (slice
    part of (underlying, expiry), strike part per trade) and the corner vols."""
    n = K.shape[0]
    for i in range(n):
        d = e_codes[i]
        u = u_codes[i]
        g = c_of_u[u]
        for f in range(8):
            out[f, i] = dtab[g, f, d]
        iout[0, i] = itab[g, 0, d]
        iout[1, i] = itab[g, 1, d]
        ie0 = ivtab[u, 0, d]
        ie1 = ivtab[u, 1, d]
        k0 = koff[u]
        nk = nks[u]
        x = K[i]
        cnt = 0                          # searchsorted(strikes, x, side="right")
        while cnt < nk and ks[k0 + cnt] <= x:
            cnt += 1
        hi = nk - 2 if nk > 2 else 0
        jk = cnt - 1
        if jk < 0:
            jk = 0
        if jk > hi:
            jk = hi
        if nk == 1:
            lam = 1.0
            jk1 = jk
        else:
            jk1 = jk + 1
            lam = (ks[k0 + jk1] - x) / (ks[k0 + jk1] - ks[k0 + jk])
            if lam < 0.0:
                lam = 0.0
            elif lam > 1.0:
                lam = 1.0
        n00 = ie0 * nk + jk
        n01 = ie0 * nk + jk1
        n10 = ie1 * nk + jk
        n11 = ie1 * nk + jk1
        b = voff[u]
        out[8, i] = vs[b + n00]
        out[9, i] = vs[b + n01]
        out[10, i] = vs[b + n10]
        out[11, i] = vs[b + n11]
        out[12, i] = lam
        for f in range(6):
            out[13 + f, i] = vtab[u, f, d]
        iout[2, i] = n00
        iout[3, i] = n01
        iout[4, i] = n10
        iout[5, i] = n11


@jit(noalias=True)
def _pillar_adjoints(iL, iR, gl, gr, P, out):  # pragma: no cover  (compiled)
    """``out[r, iL[r]] += gl[r]; out[r, iR[r]] += gr[r]`` on zeros (``np.add.at``'s sums)."""
    for r in range(iL.shape[0]):
        for p in range(P):
            out[r, p] = 0.0
        out[r, iL[r]] += gl[r]
        out[r, iR[r]] += gr[r]


@jit(noalias=True)
def _emit_rows(u_codes, c_codes, grow, nodes, spot_lab, div_lab, gk, gk_par, gs, hs, gd, hd,
               gT, gc, hc, M, C, moff, Q, qcols, qlab, qoff, qn, vlab, vloff,
               idx_out, lab_out, grk_out, val_out):  # pragma: no cover  (compiled)
    """Long rows of every trade, in trade order: delta, gamma, div, div cross-gamma,
    theta, the quote rows and their cross-gammas, the node vegas and vannas.
    ``gk``: greek codes of delta, gamma, div, cross_gamma, theta, vega; ``spot_lab[0]``
    is preceded by the code of ``time`` in ``div_lab[-1]``."""
    n = u_codes.shape[0]
    time_lab = div_lab[div_lab.shape[0] - 1]
    p = 0
    srt = np.empty(4, dtype=np.int64)
    for i in range(n):
        u = u_codes[i]
        g = c_codes[i]
        r = grow[i]
        idx_out[p] = i
        lab_out[p] = spot_lab[u]
        grk_out[p] = gk[0]
        val_out[p] = gs[i]
        idx_out[p + 1] = i
        lab_out[p + 1] = spot_lab[u]
        grk_out[p + 1] = gk[1]
        val_out[p + 1] = hs[i]
        idx_out[p + 2] = i
        lab_out[p + 2] = div_lab[u]
        grk_out[p + 2] = gk[2]
        val_out[p + 2] = gd[i]
        idx_out[p + 3] = i
        lab_out[p + 3] = div_lab[u]
        grk_out[p + 3] = gk[3]
        val_out[p + 3] = hd[i]
        idx_out[p + 4] = i
        lab_out[p + 4] = time_lab
        grk_out[p + 4] = gk[4]
        val_out[p + 4] = -gT[i]
        p += 5
        base = moff[g] + r * Q[g]
        for j in range(qn[g]):
            col = qcols[qoff[g] + j]
            idx_out[p] = i
            lab_out[p] = qlab[qoff[g] + j]
            grk_out[p] = gk_par[g]
            val_out[p] = M[base + col]
            p += 1
        for j in range(qn[g]):
            col = qcols[qoff[g] + j]
            idx_out[p] = i
            lab_out[p] = qlab[qoff[g] + j]
            grk_out[p] = gk[3]
            val_out[p] = C[base + col]
            p += 1
        for c in range(4):               # the distinct corner nodes, ascending
            srt[c] = nodes[c, i]
        for a in range(1, 4):
            x = srt[a]
            b = a - 1
            while b >= 0 and srt[b] > x:
                srt[b + 1] = srt[b]
                b -= 1
            srt[b + 1] = x
        for second in range(2):
            src = hc if second else gc
            code = gk[3] if second else gk[5]
            for a in range(4):
                node = srt[a]
                if a > 0 and node == srt[a - 1]:
                    continue
                s = 0.0
                for c in range(4):
                    if nodes[c, i] == node:
                        s += src[c, i]
                idx_out[p] = i
                lab_out[p] = vlab[vloff[u] + node]
                grk_out[p] = code
                val_out[p] = s
                p += 1
    return p


@jit(noalias=True)
def _emit_zero_rows(c_codes, grow, Z, zoff, P, zcols, zlab, zcoff, zn, idx_out, lab_out,
                    val_out):  # pragma: no cover  (compiled)
    """Pillar (zero-rate) rows of every trade, in trade order."""
    p = 0
    for i in range(c_codes.shape[0]):
        g = c_codes[i]
        base = zoff[g] + grow[i] * P[g]
        for j in range(zn[g]):
            idx_out[p] = i
            lab_out[p] = zlab[zcoff[g] + j]
            val_out[p] = Z[base + zcols[zcoff[g] + j]]
            p += 1
    return p


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


def _surfaces(m, uniq: list, vsrc: list) -> tuple:
    """Strikes and node vols of the surfaces ``vsrc`` concatenated (memoized)."""
    memo = m.derived()
    key = ("surfaces", tuple(uniq))
    hit = memo.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], vsrc)):
        return hit[1]
    ks, koff = _cat([np.asarray(s.surface.strikes, dtype=float) for s in vsrc], float)
    vs, voff = _cat([s.surface.vols for s in vsrc], float)
    nks = np.array([len(s.surface.strikes) for s in vsrc], dtype=np.int64)
    memo[key] = (tuple(vsrc), (ks, koff, nks, vs, voff))
    return memo[key][1]


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
    dt = np.stack([_per_date(m, "discount_dt", s, dates, T_dates, _discount_dt(s))
                   for s in dsrc])
    dtab, itab = dt[:, :8], dt[:, 8:].astype(np.int64)
    vsrc = [m.vols[u] for u in uniq]
    vt = np.stack([_per_date(m, "slice_dt", s, dates, T_dates, _slice_dt(s)) for s in vsrc])
    vtab, ivtab = vt[:, :6], vt[:, 6:].astype(np.int64)
    ks, koff, nks, vs, voff = _surfaces(m, uniq, vsrc)
    out = np.empty((len(FIELDS), n))
    iout = np.empty((6, n), dtype=np.int64)
    _fill_inputs(e_codes, u_codes, np.asarray(c_codes_u, dtype=np.int64), K,
                 np.ascontiguousarray(dtab), itab, np.ascontiguousarray(vtab), ivtab, ks, koff,
                 nks, vs, voff, out, iout)
    inp = dict(zip(FIELDS, out))
    plan = {"u_codes": u_codes, "uniq": uniq, "c_of_u": np.asarray(c_codes_u, np.int64),
            "dsrc": dsrc, "vsrc": vsrc, "iL": iout[0], "iR": iout[1], "nodes": iout[2:]}
    return inp, plan


def _mask_cols(mask, size) -> np.ndarray:
    return np.arange(size, dtype=np.int64) if mask is None else \
        np.flatnonzero(np.asarray(mask)).astype(np.int64)


def long_rows(plan: dict, g: dict, h: dict) -> tuple[Rows, Rows]:
    """(rows, zero rows) of the trades of ``plan`` (:func:`gather`) from the sweep's
    gradients ``g`` and spot hvps ``h``: what ``rows.add_codes`` (delta, gamma, div,
    cross_gamma), ``rows.add`` (theta), ``discount_rows`` and ``vol_rows`` give."""
    u_codes, uniq, dsrc, vsrc = plan["u_codes"], plan["uniq"], plan["dsrc"], plan["vsrc"]
    c_codes = plan["c_of_u"][u_codes]
    n = u_codes.shape[0]
    labels: dict = {}
    kinds: dict = {}
    spot_lab = recode([f"spot/{u}" for u in uniq], labels)
    div_lab = np.append(recode([f"div/{u}" for u in uniq], labels), recode(["time"], labels))
    gk = np.concatenate([recode([k], kinds) for k in ("delta", "gamma", "div", "cross_gamma",
                                                      "theta")] + [np.zeros(1, np.int64)])
    grow = np.empty(n, dtype=np.int64)
    M, C, Z, Q, P, qcols, qlab, gk_par, zcols, zlab = ([] for _ in range(10))
    zkind = {}
    for k, src in enumerate(dsrc):
        idx = np.flatnonzero(c_codes == k)
        grow[idx] = np.arange(idx.shape[0])
        nP = src.zeros.shape[0]
        iL, iR = plan["iL"][idx], plan["iR"][idx]
        dvdz, d2z = np.empty((idx.shape[0], nP)), np.empty((idx.shape[0], nP))
        _pillar_adjoints(iL, iR, g["zl"][idx], g["zr"][idx], nP, dvdz)
        _pillar_adjoints(iL, iR, h["zl"][idx], h["zr"][idx], nP, d2z)
        kind = "rate" if src.labels[0].startswith("rate/") else "par"
        cols = _mask_cols(src.quote_mask, len(src.labels)) if idx.shape[0] else \
            np.zeros(0, np.int64)
        if cols.shape[0]:
            lab = recode(src.labels, labels)
            gk_par.append(recode([kind], kinds)[0])
            recode(["cross_gamma"], kinds)
        else:
            lab = np.zeros(len(src.labels), np.int64)
            gk_par.append(0)
        both = rowwise_matmul(np.concatenate([dvdz, d2z]), src.dzdq)  # rows independent
        M.append(both[:idx.shape[0]])
        C.append(both[idx.shape[0]:])
        Z.append(dvdz)
        Q.append(len(src.labels))
        P.append(nP)
        qcols.append(cols)
        qlab.append(lab[cols])
        zc = _mask_cols(src.zero_mask, nP) if kind == "par" and idx.shape[0] else \
            np.zeros(0, np.int64)
        if zc.shape[0]:
            zl = recode(src.zero_labels, zkind.setdefault("labels", {}))
        else:
            zl = np.zeros(nP, np.int64)
        zcols.append(zc)
        zlab.append(zl[zc])
    vlab = [recode(s.labels, labels) for s in vsrc]
    gk[5] = recode(["vega"], kinds)[0] if vsrc else 0
    if vsrc:
        recode(["cross_gamma"], kinds)
    Mf, moff = _cat(M, float)
    Cf, _ = _cat(C, float)
    qc, qoff = _cat(qcols, np.int64)
    ql, _ = _cat(qlab, np.int64)
    vl, vloff = _cat(vlab, np.int64)
    qn = np.array([c.shape[0] for c in qcols], dtype=np.int64)
    cap = n * (5 + 2 * int(qn.max(initial=0)) + 8)
    idx_out, lab_out = np.empty(cap, np.int64), np.empty(cap, np.int64)
    grk_out, val_out = np.empty(cap, np.int64), np.empty(cap)
    gc = np.stack([g[c] for c in ("v00", "v01", "v10", "v11")])
    hc = np.stack([h[c] for c in ("v00", "v01", "v10", "v11")])
    f64 = (lambda x: np.asarray(x, dtype=float))
    k = _emit_rows(u_codes, c_codes, grow, plan["nodes"], spot_lab, div_lab, gk,
                   np.array(gk_par, dtype=np.int64), f64(g["spot"]), f64(h["spot"]),
                   f64(g["div"]), f64(h["div"]), f64(g["expiry"]), gc, hc, Mf, Cf, moff,
                   np.array(Q, dtype=np.int64), qc, ql, qoff, qn, vl, vloff, idx_out, lab_out,
                   grk_out, val_out)
    rows, zero_rows = Rows(), Rows()
    rows.add_coded(idx_out[:k], (lab_out[:k], list(labels)), (grk_out[:k], list(kinds)),
                   val_out[:k])
    zn = np.array([c.shape[0] for c in zcols], dtype=np.int64)
    if zn.any():
        Zf, zoff = _cat(Z, float)
        zc, zcoff = _cat(zcols, np.int64)
        zl, _ = _cat(zlab, np.int64)
        cap = n * int(zn.max())
        zi, zlo, zv = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap)
        k = _emit_zero_rows(c_codes, grow, Zf, zoff, np.array(P, dtype=np.int64), zc, zl, zcoff,
                            zn, zi, zlo, zv)
        zero_rows.add_coded(zi[:k], (zlo[:k], list(zkind["labels"])),
                            (np.zeros(k, np.int64), ["zero"]), zv[:k])
    return rows, zero_rows
