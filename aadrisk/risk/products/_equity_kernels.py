"""Compiled kernels of :mod:`aadrisk.risk.products._equity_fast`: per-trade inputs of the
surface-vol equity programs, and their long Greek rows in trade order.

Each fills preallocated arrays; the thin Python callers validate shapes and hold the
tables.  Sums are taken in the order of the generic NumPy path (``np.add.at`` over the
corners, then pillars), so results are bit-identical to it.
"""
from __future__ import annotations

import numpy as np

from ..._numba import jit

__all__ = ["fill_inputs", "pillar_adjoints", "emit_rows", "emit_zero_rows"]


@jit(noalias=True)
def fill_inputs(e_codes, u_codes, c_of_u, K, dtab, itab, vtab, ivtab, ks, koff, nks, vs,
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
def pillar_adjoints(iL, iR, gl, gr, P, out):  # pragma: no cover  (compiled)
    """``out[r, iL[r]] += gl[r]; out[r, iR[r]] += gr[r]`` on zeros (``np.add.at``'s sums)."""
    for r in range(iL.shape[0]):
        for p in range(P):
            out[r, p] = 0.0
        out[r, iL[r]] += gl[r]
        out[r, iR[r]] += gr[r]


@jit(noalias=True)
def emit_rows(u_codes, c_codes, grow, nodes, spot_lab, div_lab, gk, gk_par, gs, hs, gd, hd,
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
def emit_zero_rows(c_codes, grow, Z, zoff, P, zcols, zlab, zcoff, zn, idx_out, lab_out,
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
