"""A small, slow, pure-Python evaluator of a recorded program.

It shares only the primitive table with the compiled kernels.  Loops are
unrolled into one flat list of (node, step) evaluations and everything is
stored -- no blocks, no checkpoints, no generated code -- so it is an
independent check of the kernels' machinery.  Use it on small batches.

Examples
--------
>>> import aadrisk as ad
>>> from aadrisk.tape.reference import ReferenceEvaluator
>>> prog = ad.record(lambda *, x: x * x)
>>> ReferenceEvaluator(prog).evaluate({"x": 3.0}, mode=1).grad["x"]
6.0
"""
from __future__ import annotations

import math

import numpy as np

from . import scalar
from .primitives import CONST, GATHER, INPUT, N_PRIM, NORMAL, SCAN, STEP_INPUT, TABLE
from .results import Result

_NS = {"math": math, "abs": abs}
for _name in ("norm_cdf", "norm_pdf", "sigmoid", "softplus", "sign", "ffloor",
              "iv_black_stdev", "iv_bachelier_stdev", "vexp", "vlog"):
    _NS[_name] = getattr(scalar, _name).py_func


def _lam(expr, args):
    if expr is None:
        return None
    return eval(f"lambda {args}: {expr}", dict(_NS))  # noqa: S307 - table formulas only


def _safe(fn, *args):
    try:
        v = fn(*args)
    except ZeroDivisionError:
        return math.inf
    except (ValueError, OverflowError):
        return math.nan
    return float(v.real) if isinstance(v, complex) else float(v)


class _Rules:
    """The table's formulas as Python callables."""

    def __init__(self):
        self.fwd, self.d, self.dd = [], [], []
        for prim in TABLE:
            self.fwd.append(_lam(prim.fwd, "a, b, c, p"))
            self.d.append([_lam(e, "a, b, c, p, y") if prim.diff else None
                           for e in (prim.da, prim.db)])
            sec = prim.second if prim.diff else {}
            self.dd.append({k: _lam(v, "a, b, c, p, y") for k, v in sec.items()})


RULES = _Rules()


class ReferenceEvaluator:
    """Evaluate a :class:`~aadrisk.tape.program.Program` element by element."""

    def __init__(self, program):
        self.prog = program
        self.entries, self.alias = self._unroll()

    def _unroll(self):
        pr = self.prog
        alias = {}
        entries = []

        def key(i, t):
            k = (i, t if pr.scope[i] != -1 else -1)
            while k in alias:
                k = alias[k]
            return k

        i = 0
        n = pr.n_nodes
        while i < n:
            o = pr.op[i]
            if o == SCAN:
                info = pr.scans[pr.C[i]]
                for t in range(info.n_steps):
                    for slot in range(info.n_state):
                        src = info.init[slot] if t == 0 else None
                        alias[(info.header + 1 + slot, t)] = (
                            key(src, -1) if t == 0 else key(info.out[slot], t - 1))
                    for b in range(info.header + 1 + info.n_state, info.end):
                        entries.append(self._entry(b, t, key))
                for slot in range(info.n_state):
                    alias[(info.end + slot, -1)] = key(info.out[slot], info.n_steps - 1)
                i = info.end + info.n_state
                continue
            entries.append(self._entry(i, -1, key))
            i += 1
        return entries, alias

    def _entry(self, i, t, key):
        pr = self.prog
        o = int(pr.op[i])
        args = []
        if o < N_PRIM:
            for arr in (pr.A, pr.B, pr.C)[:TABLE[o].arity]:
                args.append(key(int(arr[i]), t))
        elif o == GATHER:   # index first, then the table
            args = [key(int(pr.B[i]), t)] + [key(int(pr.A[i]) + r, t)
                                              for r in range(int(pr.C[i]))]
        return (key(i, t), o, args, float(pr.P[i]), int(pr.C[i]), i, t)

    # -- one element ----------------------------------------------------------------
    def _element(self, vals_in, xs, tan_in, xs_tan, j, seed, mode):
        v, tv, pd, tpd = {}, {}, {}, {}
        for key, o, args, p, c, i, t in self.entries:
            if o < N_PRIM:
                a = [v[k] for k in args] + [0.0] * (3 - len(args))
                y = _safe(RULES.fwd[o], a[0], a[1], a[2], p)
                v[key] = y
                if mode:
                    parts, tparts = [], []
                    ta = [tv.get(k, 0.0) for k in args] + [0.0] * (3 - len(args))
                    for slot, fn in enumerate(RULES.d[o]):
                        if fn is None or slot >= len(args):
                            continue
                        parts.append((args[slot], _safe(fn, a[0], a[1], a[2], p, y)))
                        keys = ("aa", "ab") if slot == 0 else ("ab", "bb")
                        tp = 0.0
                        for kk, tt in zip(keys, ta[:2]):
                            f2 = RULES.dd[o].get(kk)
                            if f2 is not None:
                                tp += _safe(f2, a[0], a[1], a[2], p, y) * tt
                        tparts.append(tp)
                    pd[key], tpd[key] = parts, tparts
                    tv[key] = sum(g * tv.get(k, 0.0) for k, g in parts)
            elif o == CONST:
                v[key] = p
            elif o == INPUT:
                v[key] = vals_in[c]
                tv[key] = tan_in[c]
            elif o == STEP_INPUT:
                v[key] = xs[c][t]
                tv[key] = xs_tan[c][t]
            elif o == NORMAL:
                v[key] = scalar.counter_normal.py_func(seed, j, t, c)
            elif o == GATHER:
                x, top = v[args[0]], len(args) - 2
                r = 0 if not x > 0.0 else (top if x >= top else int(x))
                src = args[1 + r]
                v[key] = v[src]
                tv[key] = tv.get(src, 0.0)
                pd[key], tpd[key] = [(src, 1.0)], [0.0]
        return v, tv, pd, tpd

    def _reverse(self, v, pd, tpd, out_key, second):
        adj, adjt = {out_key: 1.0}, {}
        for key, o, args, p, c, i, t in reversed(self.entries):
            g = adj.get(key, 0.0)
            gt = adjt.get(key, 0.0)
            if (o < N_PRIM or o == GATHER) and (g != 0.0 or gt != 0.0) and key in pd:
                for (k, d), td in zip(pd[key], tpd[key]):
                    adj[k] = adj.get(k, 0.0) + g * d
                    if second:
                        adjt[k] = adjt.get(k, 0.0) + gt * d + g * td
        return adj, adjt

    def _resolve(self, k):
        while k in self.alias:
            k = self.alias[k]
        return k

    def evaluate(self, inputs, *, mode=0, tangents=None, seed=0, batch=None):
        """Evaluate like :meth:`Program.value`/``grad``/``jvp``/``hvp`` (mode 0-3), no reduce."""
        pr = self.prog
        tangents = tangents or {}
        sizes = [np.shape(inputs[n])[0] for n in pr.input_names if np.ndim(inputs[n]) == 1]
        sizes += [np.shape(inputs[n])[1] for n in pr.step_input_names if np.ndim(inputs[n]) == 2]
        nb = sizes[0] if sizes else (batch or 1)

        def col(x, n):
            a = np.asarray(x, dtype=float)
            return np.full(n, float(a)) if a.ndim == 0 else a

        vals_in = [col(inputs[n], nb) for n in pr.input_names]
        tan_in = [col(tangents.get(n, 0.0), nb) for n in pr.input_names]
        xs, xs_tan = [], []
        for n in pr.step_input_names:
            a = np.asarray(inputs[n], dtype=float)
            xs.append(a[:, None] * np.ones(nb) if a.ndim == 1 else a)
            xs_tan.append(col(tangents.get(n, 0.0), a.shape[0]))
        out_keys = [self._resolve((int(i), -1)) for i in pr.outs]
        results = []
        for oi, ok in enumerate(out_keys):
            r = Result(batch=nb, value=np.zeros(nb))
            if mode >= 2:
                r.tangent = np.zeros(nb)
            results.append(r)
        grads = [{} for _ in out_keys]
        hvps = [{} for _ in out_keys]
        for j in range(nb):
            v, tv, pd, tpd = self._element([x[j] for x in vals_in], [x[:, j] for x in xs],
                                           [x[j] for x in tan_in], xs_tan, j, seed, mode)
            for oi, ok in enumerate(out_keys):
                results[oi].value[j] = v[ok]
                if mode >= 2:
                    results[oi].tangent[j] = tv.get(ok, 0.0)
                if mode & 1:
                    adj, adjt = self._reverse(v, pd, tpd, ok, mode == 3)
                    for k, n in enumerate(pr.input_names):
                        key = (int(pr.in_node[k]), -1)
                        grads[oi].setdefault(n, np.zeros(nb))[j] = adj.get(key, 0.0)
                        hvps[oi].setdefault(n, np.zeros(nb))[j] = adjt.get(key, 0.0)
                    for k, n in enumerate(pr.step_input_names):
                        N = len(xs[k])
                        g = grads[oi].setdefault(n, np.zeros((nb, N)))
                        h = hvps[oi].setdefault(n, np.zeros((nb, N)))
                        for key, o, args, p, c, i, t in self.entries:
                            if o == STEP_INPUT and c == k:
                                g[j, t] += adj.get(key, 0.0)
                                h[j, t] += adjt.get(key, 0.0)
        for oi, r in enumerate(results):
            if mode & 1:
                for k, n in enumerate(pr.input_names):
                    shared = np.ndim(inputs[n]) == 0
                    r.grad[n] = float(grads[oi][n].sum()) if shared else grads[oi][n]
                    if mode == 3:
                        r.hvp[n] = float(hvps[oi][n].sum()) if shared else hvps[oi][n]
                for n in pr.step_input_names:
                    r.grad[n] = grads[oi][n].sum(axis=0)
                    if mode == 3:
                        r.hvp[n] = hvps[oi][n].sum(axis=0)
        if pr.single:
            return results[0]
        merged = Result(batch=nb)
        for fld in ("value", "grad", "tangent", "hvp"):
            setattr(merged, fld, {n: getattr(r, fld) for n, r in zip(pr.output_names, results)})
        return merged

    def node_args(self, inputs, elem, node, step, *, seed=0):
        """Argument values of ``node`` (at loop ``step``) for element ``elem``."""
        pr = self.prog
        one = {}
        for n in pr.input_names:
            a = np.asarray(inputs[n], dtype=float)
            one[n] = float(a) if a.ndim == 0 else float(a[elem])
        for n in pr.step_input_names:
            a = np.asarray(inputs[n], dtype=float)
            one[n] = a if a.ndim == 1 else a[:, elem]
        xs = [np.asarray(one[n]) for n in pr.step_input_names]
        v = self._element([one[n] for n in pr.input_names], xs, [0.0] * len(one),
                          [np.zeros(len(x)) for x in xs], elem, seed, 0)[0]
        for key, o, args, p, c, i, t in self.entries:
            if i == node and t == (step if pr.scope[node] != -1 else -1):
                return {TABLE[o].name if o < N_PRIM else "arg": [v[k] for k in args]}
        return {}
