"""A recorded program and its validating Python API over the compiled kernels.

Examples
--------
>>> import numpy as np, aadrisk as ad
>>> prog = ad.record(lambda *, x, k: ad.maximum(x - k, 0.0) * x)
>>> res = prog.grad({"x": np.array([1.0, 3.0]), "k": 2.0})
>>> res.value.tolist(), res.grad["x"].tolist(), res.grad["k"]
([0.0, 3.0], [0.0, 4.0], -3.0)
"""
from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from . import fused, kernels
from .inputs import InputError, check_names, prepare  # noqa: F401 (re-exported)
from .primitives import (GATHER, N_PRIM, NORMAL, SCAN_RES, STATE_IN, STEP_INPUT, TABLE, op_name,
                         partial_modes)
from .record import Recorder, TapeError
from .results import Result, _merge_lanes, collect  # noqa: F401 (Result re-exported)

DEFAULT_BLOCK = None  # chosen per program by Program.default_block
MAX_BLOCK = 256
BLOCK_BUDGET_BYTES = 8 * 2**20  # value, two partials and adjoint rows of one worker
CKPT_BUDGET_BYTES = 64 * 2**20  # per worker, for loop state storage

_modes, _consts = partial_modes()
PMODE = np.array(_modes, dtype=np.int64)
PCONST = np.array(_consts, dtype=np.float64)


_POOLS: dict[int, ThreadPoolExecutor] = {}

#: evaluations of at most this many node-elements (batch x nodes, loop bodies counted
#: per step) run on the calling thread: the thread pool's fork/join costs more than the
#: second core saves for them (lanes are the same, so results are bit-identical)
SERIAL_WORK = 2**17

#: outputs whose adjoints one reverse sweep carries together (a vector adjoint): the
#: forward recomputation of each checkpointed loop segment is shared by them
ADJOINT_WIDTH = 8


def _map(fn, n, workers):
    """Run ``fn(0..n-1)`` on ``workers`` threads (the kernels release the GIL)."""
    workers = max(1, min(workers, n))
    if workers == 1:
        for i in range(n):
            fn(i)
        return
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ThreadPoolExecutor(workers, thread_name_prefix="aadrisk")
    for fut in [pool.submit(fn, i) for i in range(n)]:
        fut.result()


def _nonzero(t) -> bool:
    """Whether a tangent has a non-zero entry (``np.any(np.asarray(t) != 0)``; a Python
    float directly)."""
    return t != 0 if type(t) is float else bool(np.any(np.asarray(t) != 0))


class NonFiniteError(TapeError, FloatingPointError):
    """Debug mode found an operation producing NaN or inf."""


class Program:
    """A recorded function, compiled to flat arrays, evaluated over a batch.

    Create with :func:`aadrisk.record`.  Every evaluation method takes
    ``inputs``: a dict mapping each input name to a scalar (shared by all
    elements) or a 1-d array (one value per element); step inputs of loops
    take an array ``(n_steps,)`` or ``(n_steps, batch)``.
    """

    def __init__(self, rec: Recorder, outputs: dict, *, single: bool, name: str):
        self.name = name
        self.single = single
        self.output_names = list(outputs)
        self.outs = np.array(list(outputs.values()), dtype=np.int64)
        self.op = np.array(rec.op, dtype=np.int64)
        self.A = np.array(rec.a, dtype=np.int64)
        self.B = np.array(rec.b, dtype=np.int64)
        self.C = np.array(rec.c, dtype=np.int64)
        self.P = np.array(rec.p, dtype=np.float64)
        self.site = list(rec.site)
        self.scope = np.array(rec.scope, dtype=np.int64)
        self.input_names = list(rec.inputs)
        self.in_node = np.array([rec.input_nodes[n] for n in self.input_names], dtype=np.int64)
        self.step_input_names = list(rec.step_inputs)
        self.scans = rec.scans
        self.n_draws = rec.n_draws
        self._step_len = {}
        for s, info in enumerate(rec.scans):
            for i in range(info.header, info.end):
                if self.op[i] == 102:  # STEP_INPUT
                    name = self.step_input_names[self.C[i]]
                    prev = self._step_len.setdefault(name, info.n_steps)
                    if prev != info.n_steps:
                        raise TapeError(f"step input {name!r} used by loops of {prev} and "
                                        f"{info.n_steps} steps")
        self._nondiff = self._find_nondiff()
        #: nodes evaluated per batch element (a loop body once per step)
        self._work_per_element = self.n_nodes + sum(
            (s.end - s.header) * max(s.n_steps - 1, 0) for s in rec.scans)
        self._act_cache = {}
        #: per-call structures that depend only on the call's options (see :meth:`_plan`)
        self._plans = {}

    # -- structure ----------------------------------------------------------------
    @property
    def n_nodes(self) -> int:
        return len(self.op)

    def __repr__(self):
        return (f"<aadrisk Program {self.name!r}: {self.n_nodes} nodes, inputs "
                f"{self.input_names + self.step_input_names}, outputs {self.output_names}>")

    def _find_nondiff(self):
        """Non-differentiable solver nodes whose value reaches an output unstopped."""
        stop = TABLE.index(next(p for p in TABLE if p.name == "stop_gradient"))
        solver = [i for i in range(self.n_nodes) if self.op[i] < N_PRIM
                  and TABLE[self.op[i]].name.startswith("iv_")]
        bad = []
        for i in solver:
            users = np.flatnonzero((self.A == i) | (self.B == i) | (self.C == i))
            users = [u for u in users if self.op[u] < N_PRIM]
            if any(self.op[u] != stop for u in users) or i in self.outs:
                bad.append(i)
        return bad

    def _activity(self, mode, wrt_inputs, wrt_steps, tan_inputs, tan_steps):
        """Per node: bit 1 if it depends on an input whose gradient is wanted, bit 2 if
        on an input with a non-zero tangent.  Nodes without the bit skip that work."""
        key = (mode, wrt_inputs, wrt_steps, tan_inputs, tan_steps)
        cached = self._act_cache.get(key)
        if cached is not None:
            return cached
        act = np.zeros(self.n_nodes, dtype=np.int64)
        for k, node in enumerate(self.in_node):
            act[node] = (1 if k in wrt_inputs else 0) | (2 if k in tan_inputs else 0)
        for i in np.flatnonzero(self.op == STEP_INPUT):
            k = self.C[i]
            act[i] = (1 if k in wrt_steps else 0) | (2 if k in tan_steps else 0)
        modes = PMODE
        while True:  # loops: a state slot is active if its initial or its next value is
            before = act.copy()
            for i in range(self.n_nodes):
                o = self.op[i]
                if o < N_PRIM:
                    f = 0
                    if modes[o, 0]:
                        f |= act[self.A[i]]
                    if modes[o, 1]:
                        f |= act[self.B[i]]
                    act[i] = f
                elif o == STATE_IN:
                    info = self.scans[self.scope[i]]
                    slot = self.C[i]
                    act[i] |= act[info.init[slot]] | act[info.out[slot]]
                elif o == SCAN_RES:
                    act[i] = act[self.A[i] + 1 + self.C[i]]
                elif o == GATHER:
                    a0 = self.A[i]
                    act[i] = np.bitwise_or.reduce(act[a0:a0 + self.C[i]])
            if np.array_equal(act, before):
                break
        if (mode & 1) == 0:
            act &= ~1
        if mode < 2:
            act &= ~2
        self._act_cache[key] = act
        return act

    def _scan_tables(self, block):
        ns = len(self.scans)
        smax = max([s.n_state for s in self.scans], default=0)
        hdr = np.array([s.header for s in self.scans], dtype=np.int64)
        end = np.array([s.end for s in self.scans], dtype=np.int64)
        nst = np.array([s.n_steps for s in self.scans], dtype=np.int64)
        S = np.array([s.n_state for s in self.scans], dtype=np.int64)
        init = np.full((ns, max(smax, 1)), -1, dtype=np.int64)
        out = np.full((ns, max(smax, 1)), -1, dtype=np.int64)
        kck = np.ones(ns, dtype=np.int64)
        ckoff = np.zeros(ns, dtype=np.int64)
        rows = 0
        seg = 0
        for s, info in enumerate(self.scans):
            init[s, :info.n_state] = info.init
            out[s, :info.n_state] = info.out
            k = info.checkpoint_every
            if k is None:
                full = info.n_steps * info.n_state * block * 8
                k = 1 if full <= CKPT_BUDGET_BYTES else math.ceil(math.sqrt(info.n_steps))
            k = max(1, min(int(k), info.n_steps))
            kck[s] = k
            ckoff[s] = rows
            rows += -(-info.n_steps // k) * info.n_state
            seg = max(seg, k * info.n_state)
        # cache of each loop body's normals per step, so that the reverse sweep's
        # recomputation reads them instead of drawing them again (if they fit)
        zidx = np.full(self.n_nodes, -1, dtype=np.int64)
        znz = np.zeros(self.n_nodes, dtype=np.int64)
        zrows = 0
        for info in self.scans:
            body = np.arange(info.header + 1, info.end)
            normals = body[self.op[body] == NORMAL]
            need = info.n_steps * len(normals)
            if normals.size and (zrows + need) * block * 8 <= CKPT_BUDGET_BYTES:
                zidx[normals] = zrows + np.arange(len(normals))
                znz[normals] = len(normals)
                zrows += need
        return (hdr, end, nst, kck, S, init, out, ckoff), rows, seg, smax, (zidx, znz, zrows)

    @property
    def default_block(self) -> int:
        """Elements per block: 256, or fewer (a power of two, at least 16) for a long tape.

        Chosen from the tape alone -- never from the mode or thread count -- so
        that a worker's rows of values, partials and adjoints stay within about
        8 MiB, close to the caches, in every mode.
        """
        fit = BLOCK_BUDGET_BYTES // (self.n_nodes * 8 * 4)
        block = MAX_BLOCK
        while block > 16 and block > fit:
            block //= 2
        return block

    def checkpoint_intervals(self, block: int = DEFAULT_BLOCK) -> list[int]:
        """Checkpoint interval ``k`` chosen for each loop at this block size."""
        return [int(k) for k in self._scan_tables(block or self.default_block)[0][3]]

    # -- input handling -------------------------------------------------------------
    # -- evaluation -------------------------------------------------------------------
    def _fused(self, engine, mode, reduce, debug, IN, XS, nb, nmax, seed, n_workers, block):
        """Accumulators from the fused kernels (:mod:`.fused`), or None for the interpreter."""
        if engine not in ("auto", "fused", "interpreter"):
            raise ValueError(f"engine must be 'auto', 'fused' or 'interpreter', got {engine!r}")
        if engine == "interpreter":
            return None
        steps = sum(s.n_steps for s in self.scans)
        fblock = fused.FUSED_BLOCK if block is None else int(block)
        if engine == "auto" and (nb * steps < fused.MIN_WORK
                                 or nb < fused.MIN_BLOCKS * fblock):
            return None
        try:
            if mode not in (0, 1) or not reduce or debug:
                raise fused.Unsupported("fused: values or reverse gradients reduced over the "
                                        "batch, without debug")
            return fused.evaluate(self, mode, IN, XS, nb, nmax, seed, n_workers, fblock)
        except fused.Unsupported:
            if engine == "fused":
                raise
            return None

    def _run(self, mode, inputs, *, tangents=None, wrt=None, reduce=None, seed=0, batch=None,
             block=DEFAULT_BLOCK, threads=None, debug=False, engine="auto"):
        if reduce not in (None, "sum", "mean"):
            raise ValueError(f"reduce must be None, 'sum' or 'mean', got {reduce!r}")
        IN, XS, nb, nmax = prepare(self, inputs, tangents, batch)
        all_names = self.input_names + self.step_input_names
        if wrt is None:
            wrt = all_names
        wrt = [wrt] if isinstance(wrt, str) else list(wrt)
        check_names(self, wrt, all_names, "wrt name(s)")
        if (mode & 1) and self._nondiff:
            i = self._nondiff[0]
            raise TapeError(f"{self.name}: node {i} ({op_name(self.op[i])}, recorded at "
                            f"{self.site[i]}) has no derivative of its own; differentiate it "
                            "through aadrisk.custom_derivative (or implied_vol_black / _bachelier) instead")
        for n in self.step_input_names:
            if n in wrt and (mode & 1) and XS[0][self.step_input_names.index(n)] == 1:
                raise InputError(f"{self.name}: gradients with respect to the per-element step "
                                 f"input {n!r} are not supported; pass it as shape (n_steps,)")
        if block is not None and int(block) < 1:
            raise ValueError("block must be >= 1")
        n_workers = int(threads or (1 if nb * self._work_per_element <= SERIAL_WORK
                                    else numba.get_num_threads()))
        accs = self._fused(engine, mode, reduce, debug, IN, XS, nb, nmax, seed, n_workers, block)
        if accs is not None:
            one = np.empty((1, 1))
            return collect(self, mode, reduce, nb, IN, XS, wrt, [], one, one, one[None],
                           one[None], *accs)
        block = self.default_block if block is None else int(block)
        in_kind = IN[0]
        n_in = len(self.input_names)
        in_want, gpos, el_wrt, wrt_in, wrt_steps, shared, step_wrt = self._plan(
            wrt, in_kind, bool(reduce))
        n_out = len(self.outs)
        per = not reduce
        res_val = np.empty((n_out, nb)) if per else np.empty((1, 1))
        res_tan = np.empty((n_out, nb)) if per and mode >= 2 else np.empty((1, 1))
        gshape = (n_out, len(el_wrt), nb) if per and (mode & 1) and el_wrt else (1, 1, 1)
        res_gel = np.empty(gshape)
        res_hel = np.empty(gshape) if mode == 3 else np.empty((1, 1, 1))
        n_xs = len(self.step_input_names)
        nblocks = -(-nb // block)
        n_lanes = min(kernels.LANES, nblocks)
        if n_workers == 1 and not debug and not reduce and \
                not ((mode & 1) and (shared or step_wrt)):
            # no lane accumulator is read (per-element results do not depend on the lane
            # that computes their block): one kernel call instead of one per lane
            n_lanes = 1
        acc_v = np.zeros((n_lanes, n_out, 4))
        acc_g = np.zeros((n_lanes, n_out, max(n_in, 1), 4))
        acc_x = np.zeros((n_lanes, n_out, max(n_xs, 1), nmax, 4))
        dbg = np.full((n_lanes, 3), -1, dtype=np.int64)
        if not debug:
            dbg[:, 0] = 2**62  # any non-negative value disables the check
        SC, ck_rows, seg_rows, smax, (zidx, znz, zrows) = self._scan_tables_for(block)
        T = (self.op, self.A, self.B, self.C, self.P, zidx, znz)
        tans = tangents or {}
        act = self._activity(
            mode, wrt_in, wrt_steps,
            frozenset(k for k, n in enumerate(self.input_names)
                      if n in tans and _nonzero(tans[n])),
            frozenset(k for k, n in enumerate(self.step_input_names)
                      if n in tans and _nonzero(tans[n])))
        in_node = self.in_node if n_in else np.full(1, -1, dtype=np.int64)

        def lane(i):
            kernels.run_lane(i, n_lanes, mode, not per, nb, block, self.n_nodes, ck_rows,
                             seg_rows, smax, zrows, np.int64(ADJOINT_WIDTH), T,
                             (PMODE, PCONST, act), SC, IN, XS, np.int64(seed),
                             self.outs, in_node, in_want, gpos, res_val, res_tan, res_gel,
                             res_hel, acc_v[i], acc_g[i], acc_x[i], dbg[i])

        _map(lane, n_lanes, n_workers)
        sizes = np.minimum(block, nb - np.arange(nblocks) * block)
        counts = [int(sizes[i::n_lanes].sum()) for i in range(n_lanes)]
        # merged only where :func:`collect` reads them: reduced values, gradients of shared
        # (or reduced) inputs and of step inputs
        acc_v, acc_g, acc_x = (_merge_lanes(a, counts) if need else a[0] for a, need in (
            (acc_v, bool(reduce)), (acc_g, bool(mode & 1) and shared),
            (acc_x, bool(mode & 1) and step_wrt)))
        if debug:
            self._raise_nonfinite(dbg, inputs, seed, batch)
        return collect(self, mode, reduce, nb, IN, XS, wrt, el_wrt, res_val, res_tan, res_gel,
                             res_hel, acc_v, acc_g, acc_x)

    def _plan(self, wrt: list, in_kind: np.ndarray, reduce: bool) -> tuple:
        """What an evaluation derives from ``wrt`` and the inputs' kinds (per element or
        shared), memoized: (whether each input's gradient is wanted, each per-element
        wanted input's gradient row or -1, those inputs' names, the indexes of the wanted
        inputs and step inputs, whether a shared or reduced input is wanted, whether a
        step input is).  The kernels only read the arrays (kept writeable: a read-only
        array is another Numba type, hence another compilation)."""
        key = (tuple(wrt), in_kind.tobytes(), reduce)
        got = self._plans.get(key)
        if got is not None:
            return got
        want = set(wrt)
        names = self.input_names
        in_want = np.array([n in want for n in names] or [False], dtype=np.bool_)
        gpos = np.full(max(len(names), 1), -1, dtype=np.int64)
        el_wrt = [n for k, n in enumerate(names) if n in want and in_kind[k] == 1]
        for g, n in enumerate(el_wrt):
            gpos[names.index(n)] = g
        shared = any(n in want and (reduce or in_kind[k] != 1) for k, n in enumerate(names))
        got = (in_want, gpos, el_wrt, frozenset(k for k, n in enumerate(names) if n in want),
               frozenset(k for k, n in enumerate(self.step_input_names) if n in want),
               shared, any(n in want for n in self.step_input_names))
        if len(self._plans) >= 64:
            self._plans.clear()
        self._plans[key] = got
        return got

    def _scan_tables_for(self, block: int):
        """:meth:`_scan_tables` memoized per block size and checkpoint intervals (the
        kernels only read its arrays)."""
        key = ("scan", block, tuple(s.checkpoint_every for s in self.scans))
        got = self._plans.get(key)
        if got is None:
            got = self._scan_tables(block)
            if len(self._plans) >= 64:
                self._plans.clear()
            self._plans[key] = got
        return got

    def _raise_nonfinite(self, dbg, inputs, seed, batch):
        hits = [tuple(row) for row in dbg if row[0] >= 0]
        if not hits:
            return
        node, elem, step = min(hits, key=lambda h: (h[1], h[2], h[0]))
        from .reference import ReferenceEvaluator

        args = ReferenceEvaluator(self).node_args(inputs, elem, node, step, seed=seed)
        where = f" at loop step {step}" if step >= 0 else ""
        raise NonFiniteError(
            f"{self.name}: first non-finite value at node {node} ({op_name(self.op[node])}, "
            f"recorded at {self.site[node]}) for element {elem}{where}; arguments {args}")

    def value(self, inputs, *, reduce=None, seed=0, batch=None, block=DEFAULT_BLOCK,
              threads=None, debug=False, engine="auto") -> Result:
        """Values only (pricing).  ``debug=True`` names the first op giving NaN/inf.

        ``engine``: ``"interpreter"`` (any tape), ``"fused"`` (one-loop programs with
        shared inputs, reduced: the tape compiled to straight-line code, see
        :mod:`aadrisk.tape.fused`) or ``"auto"``: fused for large reduced loop
        evaluations it supports, else the interpreter.
        """
        return self._run(0, inputs, reduce=reduce, seed=seed, batch=batch, block=block,
                         threads=threads, debug=debug, engine=engine)

    def grad(self, inputs, *, wrt=None, reduce=None, seed=0, batch=None,
             block=DEFAULT_BLOCK, threads=None, debug=False, engine="auto") -> Result:
        """Values and gradients with respect to ``wrt`` (default all inputs), reverse mode.

        ``engine`` as in :meth:`value`; the fused engine estimates gradient standard
        errors from batch means (blocks of ``block`` elements).
        """
        return self._run(1, inputs, wrt=wrt, reduce=reduce, seed=seed, batch=batch, block=block,
                         threads=threads, debug=debug, engine=engine)

    def jvp(self, inputs, tangents, *, reduce=None, seed=0, batch=None, block=DEFAULT_BLOCK,
            threads=None, debug=False) -> Result:
        """Values and the directional derivative along ``tangents`` (forward mode)."""
        return self._run(2, inputs, tangents=tangents, reduce=reduce, seed=seed, batch=batch,
                         block=block, threads=threads, debug=debug)

    def hvp(self, inputs, direction, *, wrt=None, reduce=None, seed=0, batch=None,
            block=DEFAULT_BLOCK, threads=None, debug=False) -> Result:
        """Values, gradients, the JVP along ``direction`` and Hessian-vector products.

        ``result.hvp[name]`` is the derivative of ``result.grad[name]`` along
        ``direction`` (forward-over-reverse): with ``direction={"spot": 1}``,
        ``hvp["spot"]`` is gamma and ``hvp["vol"]`` is vanna.
        """
        return self._run(3, inputs, tangents=direction, wrt=wrt, reduce=reduce, seed=seed,
                         batch=batch, block=block, threads=threads, debug=debug)

    def hessian(self, inputs, wrt, **kw) -> dict:
        """Full Hessian over ``wrt`` by one forward-over-reverse sweep per name.

        Returns ``{a: {b: d2 value / da db}}`` with per-element arrays or floats.
        """
        wrt = [wrt] if isinstance(wrt, str) else list(wrt)
        H = {}
        for name in wrt:
            res = self.hvp(inputs, {name: 1.0}, wrt=wrt, **kw)
            H[name] = dict(res.hvp)
        return H
