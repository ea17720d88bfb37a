"""Compiled evaluation of a recorded tape over a batch axis.

Memory model
------------
The batch (paths or trades) is cut into blocks of ``block`` elements.  A
worker evaluates one block at a time over the whole flat tape, holding one
row of ``block`` float64 per node and buffer (values; partials and tangents
when derivatives are asked; adjoints in reverse mode), plus the loop
checkpoints of its block.  Memory is therefore
``workers x nodes x block x buffers`` -- fixed, whatever the batch size.
Block ``b`` belongs to lane ``b mod LANES``; a lane sums its blocks in order
into its own accumulators and the lanes' sums are added in lane order.  The
lanes run on a thread pool (the kernels release the GIL), so every result is
bit-identical for any number of threads.

Per-op work happens in the generated forward kernels (one tight loop over the
block per node); reverse and tangent propagation are generic loops over the
stored partials.

Evaluation modes (``mode``): 0 values, 1 values + reverse gradients,
2 values + tangents (JVP), 3 values + gradients + tangents + Hessian-vector
products (forward-over-reverse).
"""
from __future__ import annotations

import numpy as np

from .._numba import jit
from . import _generated as gen
from .primitives import CONST, GATHER, INPUT, N_PRIM, NORMAL, STEP_INPUT
from .rng import normal_block, workspace

LANES = 16


@jit
def _gather_row(x, top):
    """Table row read by GATHER at index value ``x``: floor(x) clipped to [0, top]."""
    if not x > 0.0:   # also NaN
        return 0
    if x >= top:
        return top
    return int(x)


@jit
def _eval_range(lo, hi, t, ev, zm, T, PM, IN, XS, seed, j0, n, W, dbg):
    """Forward over nodes [lo, hi) at step t; ev: 0 val, 1 +partials, 2 +tangent, 3 +2nd.

    ``zm``: loop normals cache, 0 off, 1 store the body's normals per step into
    ``W[8]``, 2 read them back (reverse sweep recomputation) instead of drawing.
    """
    op, A, B, C, P, zidx, znz = T
    act = PM[2]
    in_kind, in_pos, sh_val, el_val, tan_kind, tan_pos, sh_tan, el_tan = IN
    xs_kind, xs_pos, xs_sh, xs_el, xs_tan = XS
    vals, pa, pb, tan, tpa, tpb = W[0], W[1], W[2], W[3], W[4], W[5]
    for i in range(lo, hi):
        o = op[i]
        if o < N_PRIM:
            e = ev
            if ev != 0:  # activity: skip partials / tangents nobody reads
                f = act[i]
                if ev == 1:
                    e = 1 if f & 1 else 0
                elif ev == 2:
                    e = 2 if f & 2 else 0
                elif f & 2:
                    e = 3 if f & 1 else 2
                else:
                    e = 1 if f & 1 else 0
            if e == 0:
                gen.fwd_val(o, i, A, B, C, P, vals, n)
            elif e == 1:
                gen.fwd_par(o, i, A, B, C, P, vals, pa, pb, n)
            elif e == 2:
                gen.fwd_tan(o, i, A, B, C, P, vals, pa, pb, tan, n)
            else:
                gen.fwd_par2(o, i, A, B, C, P, vals, pa, pb, tan, tpa, tpb, n)
        elif o == CONST:
            v = P[i]
            for j in range(n):
                vals[i, j] = v
            if ev >= 2:
                for j in range(n):
                    tan[i, j] = 0.0
        elif o == INPUT:
            k = C[i]
            if in_kind[k] == 0:
                v = sh_val[k]
                for j in range(n):
                    vals[i, j] = v
            else:
                r = in_pos[k]
                for j in range(n):
                    vals[i, j] = el_val[r, j0 + j]
            if ev >= 2:
                if tan_kind[k] == 0:
                    v = sh_tan[k]
                    for j in range(n):
                        tan[i, j] = v
                else:
                    r = tan_pos[k]
                    for j in range(n):
                        tan[i, j] = el_tan[r, j0 + j]
        elif o == STEP_INPUT:
            k = C[i]
            if xs_kind[k] == 0:
                v = xs_sh[xs_pos[k], t]
                for j in range(n):
                    vals[i, j] = v
            else:
                r = xs_pos[k]
                for j in range(n):
                    vals[i, j] = xs_el[r, t, j0 + j]
            if ev >= 2:
                v = xs_tan[k, t]
                for j in range(n):
                    tan[i, j] = v
        elif o == NORMAL and zm == 2 and zidx[i] >= 0:
            row = zidx[i] + t * znz[i]
            zc = W[8]
            for j in range(n):
                vals[i, j] = zc[row, j]
            if ev >= 2:
                for j in range(n):
                    tan[i, j] = 0.0
        elif o == NORMAL:
            normal_block(seed, j0, n, t, C[i], vals[i], W[9])
            if zm == 1 and zidx[i] >= 0:
                row = zidx[i] + t * znz[i]
                zc = W[8]
                for j in range(n):
                    zc[row, j] = vals[i, j]
            if ev >= 2:
                for j in range(n):
                    tan[i, j] = 0.0
        elif o == GATHER:
            a0, b0, top = A[i], B[i], C[i] - 1
            for j in range(n):
                r = _gather_row(vals[b0, j], top)
                vals[i, j] = vals[a0 + r, j]
            if ev >= 2:
                for j in range(n):
                    tan[i, j] = tan[a0 + _gather_row(vals[b0, j], top), j]
        # STATE_IN and SCAN_RES rows are written by the loop driver.
        if dbg[0] < 0:
            for j in range(n):
                if not np.isfinite(vals[i, j]):
                    dbg[0] = i
                    dbg[1] = j0 + j
                    dbg[2] = t
                    break


@jit
def _acc(acc, i0, row, n, n_prev):
    """Add a block's sum and centred sum of squares to ``acc[i0]``, ``acc[i0 + 1]``.

    The centred sums are merged with Chan et al.'s update, so standard errors
    stay accurate when the mean is large against the spread.
    """
    s = 0.0
    for j in range(n):
        s += row[j]
    m = s / n
    m2 = 0.0
    for j in range(n):
        d = row[j] - m
        m2 += d * d
    if n_prev > 0:
        delta = m - acc[i0] / n_prev
        m2 += delta * delta * (n_prev * n / (n_prev + n))
    acc[i0] += s
    acc[i0 + 1] += m2


@jit
def _reverse_range(lo, hi, t, second, T, PM, XS, W, oi, bx, n_prev, n):
    """Reverse over nodes [lo, hi) at step t, accumulating adjoints (and their tangents)."""
    op, A, B, C, P, zidx, znz = T
    pmode, pconst, act = PM
    xs_kind = XS[0]
    vals, pa, pb, tpa, tpb, adj, adjt = W[0], W[1], W[2], W[4], W[5], W[6], W[7]
    for i in range(hi - 1, lo - 1, -1):
        o = op[i]
        if o < N_PRIM:
            f = act[i]
            if (f & 1) == 0:
                continue  # depends on no input whose gradient is wanted
            tact = second and (f & 2) != 0
            for slot in range(2):
                m = pmode[o, slot]
                if m == 0:
                    continue
                ia = A[i] if slot == 0 else B[i]
                if (act[ia] & 1) == 0:
                    continue  # nobody reads this argument's adjoint
                if m == 1:
                    c = pconst[o, slot]
                    for j in range(n):
                        adj[ia, j] += c * adj[i, j]
                    if second:
                        for j in range(n):
                            adjt[ia, j] += c * adjt[i, j]
                else:
                    pp = pa if slot == 0 else pb
                    tp = tpa if slot == 0 else tpb
                    if tact:
                        for j in range(n):
                            adj[ia, j] += adj[i, j] * pp[i, j]
                            adjt[ia, j] += adjt[i, j] * pp[i, j] + adj[i, j] * tp[i, j]
                    elif second:
                        for j in range(n):
                            adj[ia, j] += adj[i, j] * pp[i, j]
                            adjt[ia, j] += adjt[i, j] * pp[i, j]
                    else:
                        for j in range(n):
                            adj[ia, j] += adj[i, j] * pp[i, j]
        elif o == GATHER:
            if (act[i] & 1) == 0:
                continue
            a0, b0, top = A[i], B[i], C[i] - 1
            for j in range(n):
                r = a0 + _gather_row(vals[b0, j], top)
                adj[r, j] += adj[i, j]
                if second:
                    adjt[r, j] += adjt[i, j]
        elif o == STEP_INPUT:
            k = C[i]
            if xs_kind[k] == 0:
                _acc(bx[oi, k, t], 0, adj[i], n, n_prev)
                if second:
                    _acc(bx[oi, k, t], 2, adjt[i], n, n_prev)


@jit
def _set_state(s, SC, W, src_rows, ck, ckt, base, tangents, n):
    """Copy stored state rows ck[base + slot] into the STATE_IN rows of scan s."""
    hdr, S = SC[0][s], SC[4][s]
    vals, tan = W[0], W[3]
    for slot in range(S):
        r = hdr + 1 + slot
        for j in range(n):
            vals[r, j] = ck[base + slot, j]
        if tangents:
            for j in range(n):
                tan[r, j] = ckt[base + slot, j]


@jit
def _save_state(s, SC, W, ck, ckt, base, tangents, n):
    hdr, S = SC[0][s], SC[4][s]
    vals, tan = W[0], W[3]
    for slot in range(S):
        r = hdr + 1 + slot
        for j in range(n):
            ck[base + slot, j] = vals[r, j]
        if tangents:
            for j in range(n):
                ckt[base + slot, j] = tan[r, j]


@jit
def _advance(s, SC, W, tmp, tmpt, tangents, n):
    """state <- out(state): copy the body's output rows into the STATE_IN rows."""
    hdr, S, out = SC[0][s], SC[4][s], SC[6]
    vals, tan = W[0], W[3]
    for slot in range(S):
        r = out[s, slot]
        for j in range(n):
            tmp[slot, j] = vals[r, j]
        if tangents:
            for j in range(n):
                tmpt[slot, j] = tan[r, j]
    for slot in range(S):
        r = hdr + 1 + slot
        for j in range(n):
            vals[r, j] = tmp[slot, j]
        if tangents:
            for j in range(n):
                tan[r, j] = tmpt[slot, j]


@jit
def _copy_rows(dst, d0, src, s0, rows, n):
    for r in range(rows):
        for j in range(n):
            dst[d0 + r, j] = src[s0 + r, j]


@jit
def run_lane(lane, n_lanes, mode, reduce, batch, block, nn, ck_rows, seg_rows, smax, zrows, gmax, T,
             PM, SC, IN, XS, seed, outs, in_node, in_want, gpos, res_val, res_tan, res_gel, res_hel,
             acc_v, acc_g, acc_x, dbg):
    """Evaluate blocks ``lane, lane + n_lanes, ...`` of the batch; see the module docstring.

    Accumulates per-lane (sum, centred sum of squares) of values / tangents into
    ``acc_v[out, 4]``, of gradients / Hessian-vector products into
    ``acc_g[out, input, 4]`` and ``acc_x[out, step_input, step, 4]``; writes
    per-element results into ``res_*`` when not ``reduce``.  Releases the GIL.
    """
    op, A, B, C, P, zidx, znz = T
    hdr, end, nst, kck, S, init, out, ckoff = SC
    nsc = hdr.shape[0]
    n_out = outs.shape[0]
    second_mode = mode == 3
    r_par = nn if mode >= 1 else 1
    r_tan = nn if mode >= 2 else 1
    r_adj = nn if (mode & 1) == 1 else 1
    vals = np.empty((nn, block))
    pa = np.empty((r_par, block))
    pb = np.empty((r_par, block))
    tan = np.zeros((r_tan, block))  # rows of tangent-inactive nodes stay zero
    tpa = np.empty((r_tan, block))
    tpb = np.empty((r_tan, block))
    # adjoints of up to G outputs swept together (one forward recompute per segment)
    G = max(1, min(n_out, gmax)) if (mode & 1) == 1 else 1
    adjs = np.empty((G, r_adj, block))
    # G tangent-adjoint slots even in first order (one row each, never written there):
    # adjts[q] is taken for every output of a sweep, and a view past the end is out of
    # bounds (NUMBA_BOUNDSCHECK=1 raises on it)
    adjts = np.empty((G, r_adj if second_mode else 1, block))
    zcache = np.empty((max(zrows, 1) if (mode & 1) == 1 else 1, block))
    ws = workspace(block)
    W = (vals, pa, pb, tan, tpa, tpb, adjs[0], adjts[0], zcache, ws)
    ck = np.empty((max(ck_rows, 1), block))
    ckt = np.empty((max(ck_rows, 1) if mode >= 2 else 1, block))
    seg = np.empty((max(seg_rows, 1), block))
    segt = np.empty((max(seg_rows, 1) if mode >= 2 else 1, block))
    tmp = np.empty((max(smax, 1), block))
    tmpt = np.empty((max(smax, 1), block))
    sadjs = np.empty((G, max(smax, 1), block))
    sadjts = np.empty((G, max(smax, 1), block))
    tangents = mode >= 2
    second = mode == 3
    store = (mode & 1) == 1
    ev_body = 2 if tangents else 0
    nb = (batch + block - 1) // block
    m1 = nn * 0 - 1  # "no loop step", typed int64 (a literal would specialise callees)
    n_prev = m1 + 1  # elements this lane has accumulated so far
    z_off = m1 + 1   # loop-normal cache modes (see _eval_range), typed int64
    z_fwd = z_off + 1 if store and zrows > 0 else z_off
    z_rev = z_off + 2 if zrows > 0 else z_off
    for blk in range(lane, nb, n_lanes):
        j0 = blk * block
        n = min(block, batch - j0)
        # ---- forward sweep (main tape, loops stepped with checkpoints) ----
        lo = m1 + 1
        for s in range(nsc):
            _eval_range(lo, hdr[s], m1, mode, z_off, T, PM, IN, XS, seed, j0, n, W, dbg)
            h, e, ns, k = hdr[s], end[s], S[s], kck[s]
            for slot in range(ns):
                _copy_rows(vals, h + 1 + slot, vals, init[s, slot], 1, n)
                if tangents:
                    _copy_rows(tan, h + 1 + slot, tan, init[s, slot], 1, n)
            for t in range(nst[s]):
                if store and t % k == 0:
                    _save_state(s, SC, W, ck, ckt, ckoff[s] + (t // k) * ns, tangents, n)
                _eval_range(h + 1 + ns, e, t, ev_body, z_fwd, T, PM, IN, XS, seed, j0, n, W,
                            dbg)
                _advance(s, SC, W, tmp, tmpt, tangents, n)
            _copy_rows(vals, e, vals, h + 1, ns, n)
            if tangents:
                _copy_rows(tan, e, tan, h + 1, ns, n)
            lo = e + ns
        _eval_range(lo, nn, m1, mode, z_off, T, PM, IN, XS, seed, j0, n, W, dbg)
        for oi in range(n_out):
            r = outs[oi]
            _acc(acc_v[oi], 0, vals[r], n, n_prev)
            if tangents:
                _acc(acc_v[oi], 2, tan[r], n, n_prev)
            if not reduce:
                for j in range(n):
                    res_val[oi, j0 + j] = vals[r, j]
                if tangents:
                    for j in range(n):
                        res_tan[oi, j0 + j] = tan[r, j]
        if not store:
            n_prev += n
            continue
        # ---- reverse sweeps: up to G outputs per sweep (vector adjoint) ----
        act = PM[2]
        for g0 in range(0, n_out, G):
            ng = min(G, n_out - g0)
            for q in range(ng):
                adj = adjs[q]
                adjt = adjts[q]
                for r in range(nn):
                    if (act[r] & 1) == 0 and r != outs[g0 + q]:
                        continue  # adjoint rows of inactive nodes are never read
                    for j in range(n):
                        adj[r, j] = 0.0
                    if second:
                        for j in range(n):
                            adjt[r, j] = 0.0
                for j in range(n):
                    adj[outs[g0 + q], j] = 1.0
            hi = nn
            for s in range(nsc - 1, -1, -1):
                h, e, ns, k, N = hdr[s], end[s], S[s], kck[s], nst[s]
                for q in range(ng):
                    Wq = (vals, pa, pb, tan, tpa, tpb, adjs[q], adjts[q], zcache, ws)
                    _reverse_range(e + ns, hi, m1, second, T, PM, XS, Wq, g0 + q, acc_x,
                                   n_prev, n)
                    _copy_rows(sadjs[q], 0, adjs[q], e, ns, n)
                    if second:
                        _copy_rows(sadjts[q], 0, adjts[q], e, ns, n)
                for c in range((N + k - 1) // k - 1, -1, -1):
                    t0 = c * k
                    t1 = min(N, t0 + k)
                    _set_state(s, SC, W, ck, ck, ckt, ckoff[s] + c * ns, second, n)
                    for t in range(t0, t1):
                        _save_state(s, SC, W, seg, segt, (t - t0) * ns, second, n)
                        if t < t1 - 1:
                            _eval_range(h + 1 + ns, e, t, ev_body, z_rev, T, PM, IN, XS, seed,
                                        j0, n, W, dbg)
                            _advance(s, SC, W, tmp, tmpt, second, n)
                    for t in range(t1 - 1, t0 - 1, -1):
                        _set_state(s, SC, W, seg, seg, segt, (t - t0) * ns, second, n)
                        _eval_range(h + 1 + ns, e, t, 3 if second else 1, z_rev, T, PM, IN, XS,
                                    seed, j0, n, W, dbg)
                        for q in range(ng):
                            adj = adjs[q]
                            adjt = adjts[q]
                            for r in range(h + 1, e):
                                if (act[r] & 1) == 0 and r > h + ns:
                                    continue  # never read: skip zeroing (state rows always)
                                for j in range(n):
                                    adj[r, j] = 0.0
                                if second:
                                    for j in range(n):
                                        adjt[r, j] = 0.0
                            for slot in range(ns):
                                r = out[s, slot]
                                for j in range(n):
                                    adj[r, j] += sadjs[q, slot, j]
                                if second:
                                    for j in range(n):
                                        adjt[r, j] += sadjts[q, slot, j]
                            Wq = (vals, pa, pb, tan, tpa, tpb, adj, adjt, zcache, ws)
                            _reverse_range(h + 1 + ns, e, t, second, T, PM, XS, Wq, g0 + q,
                                           acc_x, n_prev, n)
                            _copy_rows(sadjs[q], 0, adj, h + 1, ns, n)
                            if second:
                                _copy_rows(sadjts[q], 0, adjt, h + 1, ns, n)
                for q in range(ng):
                    for slot in range(ns):
                        r = init[s, slot]
                        for j in range(n):
                            adjs[q, r, j] += sadjs[q, slot, j]
                        if second:
                            for j in range(n):
                                adjts[q, r, j] += sadjts[q, slot, j]
                hi = h
            for q in range(ng):
                oi = g0 + q
                adj = adjs[q]
                adjt = adjts[q]
                Wq = (vals, pa, pb, tan, tpa, tpb, adj, adjt, zcache, ws)
                _reverse_range(m1 + 1, hi, m1, second, T, PM, XS, Wq, oi, acc_x, n_prev, n)
                for kk in range(in_node.shape[0]):
                    r = in_node[kk]
                    if r < 0 or not in_want[kk]:
                        continue
                    g = gpos[kk]
                    if g >= 0 and not reduce:
                        for j in range(n):
                            res_gel[oi, g, j0 + j] = adj[r, j]
                        if second:
                            for j in range(n):
                                res_hel[oi, g, j0 + j] = adjt[r, j]
                        continue
                    _acc(acc_g[oi, kk], 0, adj[r], n, n_prev)
                    if second:
                        _acc(acc_g[oi, kk], 2, adjt[r], n, n_prev)
        n_prev += n
