"""Fused compilation of a one-loop program (Monte Carlo): the tape becomes Numba source.

The interpreter (:mod:`aadrisk.tape.kernels`) runs any tape, one node at a time
over a block of elements, through rows of memory.  For the programs that
dominate Monte Carlo risk -- inputs shared by all paths, one time-stepping
loop -- this module writes the tape out as straight-line code instead and
compiles it once (cached on disk, keyed by the source's hash):

* **Uniform nodes** (depending only on shared inputs, constants and shared step
  inputs: payoff parameters, per-step drifts and vols, table nodes) are
  computed once per step for all paths, not once per path.  Their adjoints are
  the sums over paths of what the path-wise nodes send them, propagated once
  per block ("hoisted" reverse sweep).
* **Varying nodes** (anything downstream of a normal draw) run per path, in
  registers: the loop body is one loop over the block's paths per step, with
  no intermediate rows in memory.  The reverse sweep stores the path states of
  every step of the block (memory per block, not per path count) and
  recomputes each step's body in registers before its adjoint statements.

The forward formulas and partial derivatives come from the one primitive
table (:mod:`aadrisk.tape.primitives`), so values are bit-identical to the
interpreter's.  Gradients agree to rounding; their standard errors are
estimated from the spread of the sums over batches of blocks (batch means, about
:data:`BATCHES` batches), since per-path gradients of shared inputs are never
formed.  The body's loop over the block's paths is split at each expensive
operation (loop fission, :func:`aadrisk.tape._fused_src._segments`): short loops
keep many paths in flight, and ``exp`` / ``log`` loops vectorise.

Only values (mode 0) and reverse gradients (mode 1) reduced over the batch are
fused; anything else (tangents, per-element inputs, nested or several loops)
raises :class:`Unsupported` and the caller falls back to the interpreter.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import sys
import threading
from pathlib import Path

import numpy as np

from .primitives import (CONST, GATHER, INPUT, N_PRIM, NORMAL, SCAN, SCAN_RES, STATE_IN,
                         STEP_INPUT, TABLE)

__all__ = ["Unsupported", "plan", "compile_plan", "cache_dir"]

_TOKEN = re.compile(r"\b([abcpy])\b")
_LOCK = threading.Lock()
_MODULES: dict[str, object] = {}


class Unsupported(Exception):
    """The program (or this evaluation of it) is outside what the fused path compiles."""


def cache_dir() -> Path:
    """Where generated sources live (``AADRISK_FUSED_DIR``, else ``~/.cache/aadrisk/fused``)."""
    d = os.environ.get("AADRISK_FUSED_DIR")
    return Path(d) if d else Path.home() / ".cache" / "aadrisk" / "fused"


def _lit(x: float) -> str:
    return repr(float(x)) if np.isfinite(x) else f"float({str(float(x))!r})"


class _Plan:
    """Node classes and the generated source of one (program, activity, step-input kinds)."""

    def __init__(self, prog, act, xs_kind, xs_pos, n_out):
        if len(prog.scans) != 1:
            raise Unsupported("fused evaluation needs exactly one loop")
        sc = prog.scans[0]
        self.prog, self.act = prog, act
        self.h, self.e, self.ns, self.N = sc.header, sc.end, sc.n_state, sc.n_steps
        self.init, self.out = list(sc.init), list(sc.out)
        self.xs_kind, self.xs_pos = xs_kind, xs_pos
        self.n_out = n_out
        op = prog.op
        nn = prog.n_nodes
        b0 = self.h + 1 + self.ns
        for s in range(self.ns):
            if not (b0 <= self.out[s] < self.e) or not (0 <= self.init[s] < self.h):
                raise Unsupported("loop state passed through unchanged")
        for i in range(nn):
            o = op[i]
            inside = self.h < i < self.e
            if o in (NORMAL, STEP_INPUT) and not inside:
                raise Unsupported("normal draws or step inputs outside the loop")
            if o == GATHER and prog.A[i] < self.h < prog.A[i] + prog.C[i]:
                raise Unsupported("a table across the loop's start")
            if o == GATHER and prog.A[i] + prog.C[i] > self.e:
                raise Unsupported("a table after the loop")
            if o == SCAN and i != self.h:
                raise Unsupported("nested loops")
            if o >= N_PRIM and o not in (CONST, INPUT, STEP_INPUT, NORMAL, STATE_IN, SCAN,
                                         SCAN_RES, GATHER):
                raise Unsupported(f"op {o}")
        self.uniform = self._uniformity()
        for i in range(self.h):
            if not self.uniform[i]:
                raise Unsupported("per-element values before the loop")
        for i in range(nn):   # a table built in the loop body: one per step, shared by all
            if op[i] == GATHER and self._in_body(prog.A[i]) and not bool(
                    self.uniform[prog.A[i]:prog.A[i] + prog.C[i]].all()):
                raise Unsupported("a per-path table in the loop body")
        body = range(b0, self.e)
        self.vstates = [s for s in range(self.ns) if not self.uniform[self.h + 1 + s]]
        self.ustates = [s for s in range(self.ns) if self.uniform[self.h + 1 + s]]
        self.normals = [i for i in body if op[i] == NORMAL]
        self.helpers: dict[str, str] = {}   # conditional formula -> helper function name
        self.live = [self._ancestors(o) for o in prog.outs]
        self.nz = len(self.normals)
        self.su_cols = self._sum_columns()
        self.su_col = {k: c for c, k in enumerate(self.su_cols)}

    def _sum_columns(self):
        """Loop-body uniform nodes (positions after the loop header) that path-wise
        nodes send adjoints to: the columns of the step sums ``SU`` (tables in the body
        stay consecutive)."""
        p, cols = self.prog, set()
        for i in range(self.h + 1, self.e):
            if self.uniform[i] or not (self.act[i] & 1):
                continue
            if p.op[i] == GATHER and self._in_body(p.A[i]):
                cols |= set(range(p.A[i] - self.h - 1, p.A[i] + p.C[i] - self.h - 1))
            for a, _ in self.partials(i):
                if self.uniform[a] and self._in_body(a):
                    cols.add(a - self.h - 1)
        return sorted(cols)

    # -- analysis -------------------------------------------------------------------
    def _args(self, i):
        o = self.prog.op[i]
        if o < N_PRIM:
            ar = TABLE[o].arity
            return [x for x, k in zip((self.prog.A[i], self.prog.B[i], self.prog.C[i]),
                                      range(3)) if k < ar]
        if o == GATHER:
            return [self.prog.B[i]]
        return []

    def _uniformity(self):
        p = self.prog
        nn = p.n_nodes
        U = np.zeros(nn, dtype=bool)
        state_u = [True] * self.ns
        while True:
            for i in range(nn):
                o = p.op[i]
                if o in (CONST, INPUT, SCAN):
                    U[i] = True
                elif o == STEP_INPUT:
                    U[i] = self.xs_kind[p.C[i]] == 0
                elif o == NORMAL:
                    U[i] = False
                elif o == STATE_IN:
                    U[i] = state_u[p.C[i]]
                elif o == SCAN_RES:
                    U[i] = state_u[p.C[i]]
                elif o == GATHER:
                    a0, c = p.A[i], p.C[i]
                    U[i] = U[p.B[i]] and bool(U[a0:a0 + c].all())
                else:
                    U[i] = all(U[a] for a in self._args(i))
            new = [bool(U[self.init[s]] and U[self.out[s]]) for s in range(self.ns)]
            if new == state_u:
                return U
            state_u = new

    def _ancestors(self, node):
        """Nodes whose value reaches ``node`` (through the loop's state carry too): the
        only nodes whose adjoint for that output can be non-zero."""
        p, seen, todo = self.prog, set(), [int(node)]
        while todo:
            i = todo.pop()
            if i in seen or i < 0:
                continue
            seen.add(i)
            o = p.op[i]
            more = list(self._args(i))
            if o == GATHER:
                more += range(p.A[i], p.A[i] + p.C[i])
            elif o == SCAN_RES or o == STATE_IN:
                s = p.C[i]
                more += [self.out[s], self.init[s], self.h + 1 + s]
            todo += more
        return seen

    # -- references -----------------------------------------------------------------
    def _in_body(self, k):
        return self.h < k < self.e

    def table_ref(self, i):
        """Where the table of GATHER node ``i`` lives: ``UBt[k0 + row]`` for a table
        built in the loop body (one per step), else ``U[k0 + row, 0]``."""
        p = self.prog
        top, x = p.C[i] - 1, self.vref(p.B[i])
        if self._in_body(p.A[i]):
            return f"UBt[gather_at({x}, {top}, {p.A[i] - self.h - 1})]"
        return f"U[gather_at({x}, {top}, {p.A[i]}), 0]"

    def table_index(self, i):
        """The (unsigned) index where the adjoint of the entry GATHER node ``i`` read
        goes: in a row of the step's body sums ``SU[t]`` or of the block sums ``UA``."""
        p = self.prog
        base = self.su_col[p.A[i] - self.h - 1] if self._in_body(p.A[i]) else p.A[i]
        return f"gather_at({self.vref(p.B[i])}, {p.C[i] - 1}, {base})"

    def table_adj(self, i, q, at=None):
        """Where the adjoint of the entry GATHER node ``i`` read goes, for output ``q``
        (``at``: the index, if not :meth:`table_index`)."""
        at = at or self.table_index(i)
        return f"SU[t, {q}, {at}]" if self._in_body(self.prog.A[i]) else f"UA[{q}, {at}]"

    def uref(self, k):
        """Where path-wise code reads a uniform node: a literal, ``UBt`` (this step's
        row of the loop body's uniform values) or ``U``."""
        if self.prog.op[k] == CONST:
            return _lit(self.prog.P[k])
        if self._in_body(k):
            return f"UBt[{k - self.h - 1}]"
        return f"U[{k}, 0]"

    def vref(self, k):
        """A node's value in per-path code (uniform nodes are hoisted locals)."""
        if self.prog.op[k] == CONST:
            return _lit(self.prog.P[k])
        return f"v{k}" if not self.uniform[k] else f"u{k}"

    def formula(self, i, expr, ref, y):
        """``expr`` of the table with node i's arguments; a conditional expression
        becomes a call of a small helper (fewer blocks for Numba to compile)."""
        p = self.prog
        names = {"a": ref(p.A[i]) if p.A[i] >= 0 else "0.0",
                 "b": ref(p.B[i]) if p.B[i] >= 0 else "0.0",
                 "c": ref(p.C[i]) if TABLE[p.op[i]].arity > 2 else "0.0",
                 "p": _lit(p.P[i]), "y": y}
        if " if " in expr:
            name = self.helpers.setdefault(expr, f"_h{len(self.helpers)}")
            yv = "0.0" if y == "y" else y   # a forward formula never reads y
            return f"{name}({names['a']}, {names['b']}, {names['c']}, {names['p']}, {yv})"
        return "(" + _TOKEN.sub(lambda m: names[m.group(1)], expr) + ")"

    def partials(self, i):
        """[(arg node, partial expression template)] of active arguments of node i."""
        p = self.prog
        o = p.op[i]
        if o >= N_PRIM or not TABLE[o].diff or not (self.act[i] & 1):
            return []
        out = []
        for slot, expr in enumerate((TABLE[o].da, TABLE[o].db)):
            if expr is None or slot >= TABLE[o].arity:
                continue
            a = p.A[i] if slot == 0 else p.B[i]
            if p.op[a] == CONST or not (self.act[a] & 1):
                continue
            try:
                if float(expr) == 0.0:
                    continue
            except ValueError:
                pass
            out.append((a, expr))
        return out


def plan(prog, act, xs_kind, xs_pos, n_out):
    """Analyse ``prog`` for fused evaluation; raises :class:`Unsupported`."""
    return _Plan(prog, act, xs_kind, xs_pos, n_out)


def _write_source(d, key, text):
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"aadrisk_fused_{key}.py"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)   # atomic: concurrent processes see whole files
    return path


@functools.lru_cache(maxsize=None)
def kernel_fingerprint() -> str:
    """Hash of what a generated module's machine code depends on besides its own text:
    Numba's version and the package sources it calls into (``_numba``'s options, the
    scalar functions, the generator of normals).  Numba's disk cache checks only the
    generated file itself, so without this a cached module would outlive an upgrade
    of them."""
    import numba
    h = hashlib.sha256(numba.__version__.encode())
    root = Path(__file__).resolve().parent
    for f in (root.parent / "_numba.py", root / "scalar.py", root / "vmath.py", root / "rng.py"):
        h.update(f.read_bytes())
    return h.hexdigest()[:20]


def compile_plan(P):
    """Import (compiling on first use, then from Numba's disk cache) the plan's module."""
    from ._fused_src import source
    text = f"# kernels {kernel_fingerprint()}\n" + source(P)
    key = hashlib.sha256(text.encode()).hexdigest()[:20]
    with _LOCK:
        mod = _MODULES.get(key)
        if mod is not None:
            return mod
        try:
            path = _write_source(cache_dir(), key, text)
        except OSError:   # read-only home: a private temporary directory instead
            import tempfile
            path = _write_source(Path(tempfile.gettempdir()) / f"aadrisk-fused-{os.getuid()}",
                                 key, text)
        name = f"aadrisk_fused_{key}"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        _MODULES[key] = mod
        return mod


# ---------------------------------------------------------------------------------------
# evaluation
# ---------------------------------------------------------------------------------------
#: paths per block of the fused kernels (also the batch-means unit of gradient errors)
FUSED_BLOCK = 256
#: padding of every per-block row (doubles): rows a multiple of 4 KiB apart make the
#: processor take loads for aliases of earlier stores ("4K aliasing") and stall
ROW_PAD = 8
#: gradients are reduced over batches of blocks, about this many batches in all: the
#: uniform nodes' reverse sweep runs once per batch, and the batch means give the
#: gradient standard errors
BATCHES = 64
#: step sums (doubles) the uniform reverse sweep may hold at once (32 MB)
SWEEP_DOUBLES = 4_000_000
#: ``engine="auto"`` fuses from this many element-steps (compilation pays for itself)
MIN_WORK = 2**22
#: and only with enough blocks for a batch-means standard error
MIN_BLOCKS = 32


def module_for(prog, XS):
    """(plan, compiled module) of ``prog`` for these step-input kinds (plans cached)."""
    n_xs = len(prog.step_input_names)
    xs_kind = tuple(int(k) for k in XS[0][:n_xs])
    cache = prog.__dict__.setdefault("_fused_plans", {})
    P = cache.get(xs_kind)
    if P is None:
        wrt_in = frozenset(range(len(prog.input_names)))
        wrt_xs = frozenset(k for k in range(n_xs) if xs_kind[k] == 0)
        act = prog._activity(1, wrt_in, wrt_xs, frozenset(), frozenset())
        P = cache[xs_kind] = plan(prog, act, xs_kind, [int(x) for x in XS[1][:n_xs]],
                                  len(prog.outs))
    if getattr(P, "module", None) is None:
        from ._fused_src import _slots, fission_rows, saved_values
        P.n_saved = max(len(_slots(P, saved_values(P))), 1)   # rows of VS
        P.n_fission = fission_rows(P)                           # rows of TB
        P.module = compile_plan(P)
    return P, P.module


def _i64(xs):
    return np.array(list(xs), dtype=np.int64)


def _batch_store(n_batches, NO, nn, N, ncol, n_xs, n_in):
    """Sums of ``n_batches`` batches for the uniform reverse sweep: ``UA`` (row
    ``b * NO + q``), ``SU[b, t, q]`` and the sweep's outputs ``GX``, ``G`` (every part
    zeroed before use)."""
    return (np.empty((n_batches * NO, nn)), np.empty((n_batches, N, NO, ncol)),
            np.empty((n_batches * NO, n_xs, N)), np.empty((n_batches * NO, n_in)))


def evaluate(prog, mode, IN, XS, nb, nmax, seed, n_workers, block=FUSED_BLOCK):
    """Run the fused kernels; returns lane-merged ``(acc_v, acc_g, acc_x)`` laid out as
    the interpreter's accumulators (gradient spreads from batch means)."""
    from . import _uniform as K
    from .kernels import LANES
    from .program import PCONST, PMODE, _map
    from .results import _merge_lanes
    from .rng import workspace

    if np.any(IN[0] != 0):
        raise Unsupported("per-element inputs")
    P, mod = module_for(prog, XS)
    grad = mode == 1
    nn, NO, N, h, e = prog.n_nodes, len(prog.outs), P.N, P.h, P.e
    n_in, n_xs = max(len(prog.input_names), 1), max(len(prog.step_input_names), 1)
    nblocks = -(-nb // block)
    if grad and nblocks < 2:
        raise Unsupported("one block: no batch-means standard error")
    T = (prog.op, prog.A, prog.B, prog.C, prog.P)
    PM = (PMODE, PCONST, P.act)
    nbody, ncol = max(e - h - 1, 1), max(len(P.su_cols), 1)
    U = np.zeros((nn, 1))
    UB = np.zeros((N, nbody))
    inp = np.ascontiguousarray(IN[2], dtype=np.float64)
    xsh, xel = XS[2], XS[3]
    u = P.uniform
    pre = _i64(range(h))
    body = _i64(i for i in range(h + 1, e) if u[i] and prog.op[i] != STATE_IN)
    post = _i64(i for i in range(e + P.ns, nn) if u[i])
    uslots, init, out = _i64(P.ustates), _i64(P.init), _i64(P.out)
    K.trajectory(T, U, UB, inp, xsh, pre, body, post, uslots, h, e, N, init, out)
    act = P.act & 1
    pre_a, body_a, post_a = (a[act[a] == 1] if a.size else a for a in (pre, body, post))
    n_lanes = min(LANES, nblocks)
    acc_v = np.zeros((n_lanes, NO, 4))
    acc_g = np.zeros((n_lanes, NO, n_in, 4))
    acc_x = np.zeros((n_lanes, NO, n_xs, nmax, 4))
    nsv, nsave, ntb = max(len(P.vstates), 1), P.n_saved, P.n_fission
    seed = np.int64(seed)
    group = max(1, nblocks // BATCHES)   # blocks per batch of the batch-means errors
    per_lane = [-(-len(range(i, nblocks, n_lanes)) // group) for i in range(n_lanes)]
    n_batches = sum(per_lane)
    cols = _i64(P.su_cols)
    # the uniform reverse sweep is linear in the sums it is given: it runs for many
    # batches at once (rows b * NO + q) -- all of them after the lanes when their step
    # sums fit in SWEEP_DOUBLES, else up to 16 at a time per lane
    one_sweep = grad and n_batches * N * NO * ncol <= SWEEP_DOUBLES
    stack = max(1, min(16, SWEEP_DOUBLES // 8 // max(N * NO * ncol, 1)))
    if one_sweep:
        store = _batch_store(n_batches, NO, nn, N, ncol, n_xs, n_in)
        first = np.concatenate([[0], np.cumsum(per_lane)])
    lane_sizes = [[] for _ in range(n_lanes)]

    def sweep(Ul, st, sizes, lanes, PA, PB):
        """Uniform reverse sweep of the stored batches, then their batch means (in order)."""
        UA, SU, GX, G = st
        m = len(sizes) * NO
        GX[:m] = 0.0
        G[:m] = 0.0
        K.block_reverse(T, PM, Ul, UB, UA[:m], SU[:len(sizes)], cols, GX[:m], G[:m], PA, PB,
                        pre_a, body_a, post_a, uslots, h, e, N, init, out)
        for b, (nbt, i) in enumerate(zip(sizes, lanes)):
            K.block_sums(G[b * NO:(b + 1) * NO], acc_g[i], nbt, n_grad[i])
            K.block_sums(GX[b * NO:(b + 1) * NO], acc_x[i, :, :, :N], nbt, n_grad[i])
            n_grad[i] += nbt

    n_grad = [0] * n_lanes

    def lane(i):
        Ul = U.copy()
        w = block + ROW_PAD
        ST = np.empty((N + 1 if grad else 2, nsv, w))
        Z = np.empty((N if grad else 1, max(P.nz, 1), w))
        VS = np.empty((N if grad else 1, nsave, w))
        OV = np.empty((NO, w))
        AS = np.empty((NO, nsv, w))
        if one_sweep:
            a, b = first[i], first[i + 1]
            st = (store[0][a * NO:b * NO], store[1][a:b], None, None)
        elif grad:
            st = _batch_store(min(stack, per_lane[i]), NO, nn, N, ncol, n_xs, n_in)
        PA, PB = np.zeros((nn, 1)), np.zeros((nn, 1))
        ws = workspace(block)
        TB = np.empty((ntb, w))
        n_prev = n_batch = 0
        sizes = lane_sizes[i]
        mine = range(i, nblocks, n_lanes)
        for k, blk in enumerate(mine):
            j0 = blk * block
            n = min(block, nb - j0)
            mod.fwd(grad, n, j0, seed, Ul, UB, ST, Z, VS, OV, xel, ws, TB)
            K.block_values(acc_v[i], OV, n, n_prev)
            n_prev += n
            if not grad:
                continue
            s = len(sizes)
            UA, SU = st[0][s * NO:(s + 1) * NO], st[1][s]
            if n_batch == 0:
                UA[:] = 0.0
                SU[:] = 0.0
            mod.rev(n, j0, Ul, UB, ST, Z, VS, AS, UA, SU, xel)
            n_batch += n
            if (k + 1) % group == 0 or k == len(mine) - 1:
                sizes.append(n_batch)
                n_batch = 0
                if not one_sweep and (len(sizes) == st[1].shape[0] or k == len(mine) - 1):
                    sweep(Ul, st, sizes, [i] * len(sizes), PA, PB)
                    sizes.clear()

    _map(lane, n_lanes, n_workers)
    if one_sweep:
        sweep(U.copy(), store, [x for ls in lane_sizes for x in ls],
              [i for i, ls in enumerate(lane_sizes) for _ in ls],
              np.zeros((nn, 1)), np.zeros((nn, 1)))
    sizes = np.minimum(block, nb - np.arange(nblocks) * block)
    counts = [int(sizes[i::n_lanes].sum()) for i in range(n_lanes)]
    acc_v, acc_g, acc_x = (_merge_lanes(a, counts) for a in (acc_v, acc_g, acc_x))
    if grad:  # between-batch spread -> per-element spread (batch means)
        scale = (nb - 1) / (n_batches - 1)
        acc_g[..., 1] *= scale
        acc_x[..., 1] *= scale
    return acc_v, acc_g, acc_x
