"""Compiled sweeps over the *uniform* nodes of a fused program (see :mod:`.fused`).

Uniform nodes take one value for all elements (paths): constants, shared
inputs, shared step inputs and everything computed from them only.  The fused
engine evaluates them once, with the interpreter's own per-node kernels on a
batch of one (``U`` has shape ``(n_nodes, 1)``), and propagates their adjoints
once per block from the sums over the block's paths.  These kernels are part
of the package (compiled once, cached on disk); only the path-wise code is
generated per program.
"""
from __future__ import annotations

import numpy as np

from .._numba import jit
from . import _generated as gen
from .kernels import _acc, _gather_row
from .primitives import CONST, GATHER, INPUT, N_PRIM, STEP_INPUT


@jit
def uniform_forward(nodes, T, U, inp, xsh, t):
    """Evaluate ``nodes`` (ascending) into ``U[:, 0]``; ``t`` is the loop step (or 0)."""
    op, A, B, C, P = T
    for i in nodes:
        o = op[i]
        if o < N_PRIM:
            gen.fwd_val(o, i, A, B, C, P, U, 1)
        elif o == CONST:
            U[i, 0] = P[i]
        elif o == INPUT:
            U[i, 0] = inp[C[i]]
        elif o == STEP_INPUT:
            U[i, 0] = xsh[C[i], t]
        elif o == GATHER:
            U[i, 0] = U[A[i] + _gather_row(U[B[i], 0], C[i] - 1), 0]


@jit
def trajectory(T, U, UB, inp, xsh, pre, body, post, uslots, h, e, N, init, out):
    """Pre-loop nodes, every step's uniform body values (``UB[t]`` = ``U[h+1:e]``),
    the uniform loop states' final values, then the post-loop nodes."""
    uniform_forward(pre, T, U, inp, xsh, 0)
    for s in uslots:
        U[h + 1 + s, 0] = U[init[s], 0]
    nxt = np.empty(max(len(uslots), 1))
    for t in range(N):
        uniform_forward(body, T, U, inp, xsh, t)
        for k in range(e - h - 1):
            UB[t, k] = U[h + 1 + k, 0]
        for m in range(len(uslots)):
            nxt[m] = U[out[uslots[m]], 0]
        for m in range(len(uslots)):
            U[h + 1 + uslots[m], 0] = nxt[m]
    for s in uslots:
        U[e + s, 0] = U[h + 1 + s, 0]
    uniform_forward(post, T, U, inp, xsh, 0)


@jit
def uniform_reverse(nodes, T, PM, U, PA, PB, AT, G, GX, t):
    """Adjoints of ``nodes`` (descending) for every output: ``AT[node, row]`` (adjoints
    laid out node-major, so that one node's rows are contiguous)."""
    op, A, B, C, P = T
    pmode, pconst, act = PM
    n_out = AT.shape[1]
    for k in range(len(nodes) - 1, -1, -1):
        i = nodes[k]
        o = op[i]
        if o < N_PRIM:
            gen.fwd_par(o, i, A, B, C, P, U, PA, PB, 1)
            for slot in range(2):
                m = pmode[o, slot]
                if m == 0:
                    continue
                ia = A[i] if slot == 0 else B[i]
                if (act[ia] & 1) == 0:
                    continue
                d = pconst[o, slot] if m == 1 else (PA[i, 0] if slot == 0 else PB[i, 0])
                src, dst = AT[i], AT[ia]
                for q in range(n_out):
                    dst[q] += src[q] * d
        elif o == INPUT:
            for q in range(n_out):
                G[q, C[i]] += AT[i, q]
        elif o == STEP_INPUT:
            for q in range(n_out):
                GX[q, C[i], t] += AT[i, q]
        elif o == GATHER:
            r = A[i] + _gather_row(U[B[i], 0], C[i] - 1)
            src, dst = AT[i], AT[r]
            for q in range(n_out):
                dst[q] += src[q]


@jit
def block_reverse(T, PM, U, UB, UA, SU, cols, GX, G, PA, PB, pre, body, post, uslots, h, e,
                  N, init, out):
    """The uniform reverse sweep of several batches of blocks at once, after their
    path-wise sweeps have filled ``UA`` (sums for nodes outside the loop; batch ``b``,
    output ``q`` in row ``b * n_o + q``) and ``SU[b, t, q, c]`` (sums for the loop body's
    node ``h + 1 + cols[c]``; the other body nodes receive nothing from the paths).
    Each node's partials are computed once per step for all the rows; the rows are
    swept node-major (a transposed copy of ``UA``, written back at the end)."""
    n_out = UA.shape[0]
    n_o = SU.shape[2]
    nb = e - h - 1
    AT = np.ascontiguousarray(UA.T)
    uniform_reverse(post, T, PM, U, PA, PB, AT, G, GX, 0)
    uas = np.zeros((max(len(uslots), 1), n_out))
    for m in range(len(uslots)):
        uas[m] = AT[e + uslots[m]]
    for t in range(N - 1, -1, -1):
        for k in range(nb):
            U[h + 1 + k, 0] = UB[t, k]
            AT[h + 1 + k] = 0.0
        for c in range(len(cols)):
            row = AT[h + 1 + cols[c]]
            for b in range(SU.shape[0]):
                for q in range(n_o):
                    row[b * n_o + q] = SU[b, t, q, c]
        for m in range(len(uslots)):
            AT[out[uslots[m]]] += uas[m]
        uniform_reverse(body, T, PM, U, PA, PB, AT, G, GX, t)
        for m in range(len(uslots)):
            uas[m] = AT[h + 1 + uslots[m]]
    for m in range(len(uslots)):
        AT[init[uslots[m]]] += uas[m]
    uniform_reverse(pre, T, PM, U, PA, PB, AT, G, GX, 0)
    UA[:, :] = AT.T


@jit
def block_sums(s, acc, n, n_prev):
    """Add one block's sums ``s[...]`` over ``n`` elements to ``acc[..., 0:2]`` (batch
    means: the spread within the block is unknown and counted 0)."""
    flat_s = s.ravel()
    flat = acc.reshape((-1, 4))
    for k in range(flat_s.shape[0]):
        m2 = 0.0
        if n_prev > 0:
            delta = flat_s[k] / n - flat[k, 0] / n_prev
            m2 = delta * delta * (n_prev * n / (n_prev + n))
        flat[k, 0] += flat_s[k]
        flat[k, 1] += m2


@jit
def block_values(acc_v, OV, n, n_prev):
    """Add a block's per-element values ``OV[q, :n]`` (exact sums and spreads)."""
    for q in range(OV.shape[0]):
        _acc(acc_v[q], 0, OV[q], n, n_prev)
