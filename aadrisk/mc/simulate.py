"""Monte Carlo programs: a model, payoff functions and a time grid recorded as ONE tape.

:func:`mc_function` builds the pricing function (keyword inputs -> one value per
payoff and path) that :func:`aadrisk.record` records; :class:`MonteCarlo`
records it once and evaluates it over paths: the batch axis of the tape is the
path, the Greeks are the pathwise derivatives averaged over paths (one reverse
sweep carries up to eight payoffs), and every figure has its standard error.

The loop state is the model state, the integrated short rate (for discount
factors) and one accumulator per observable the payoffs ask for
(:mod:`aadrisk.mc.path`); whole paths are never stored, and the reverse sweep
recomputes the loop from checkpoints, so memory does not grow with paths.

Per-step inputs: ``_dt`` (years), ``_r`` (forward short rate of the step), ``_k``
(step index 0..N-1) and the model's own (e.g. ``_vol`` for :class:`~.models.GBM`).
Payoff parameters are program inputs named ``<payoff>.<param>``.

Examples
--------
>>> import numpy as np
>>> import aadrisk as ad
>>> from aadrisk.mc import GBM, MonteCarlo
>>> def call(path, *, strike):
...     return path.df * ad.maximum(path.final - strike, 0.0)
>>> mc = MonteCarlo(GBM(), {"call": (call, ("strike",))}, n_steps=4)
>>> grid = {"_dt": np.full(4, 0.25), "_r": np.full(4, 0.05), "_vol": np.full(4, 0.2)}
>>> res = mc.grad({"spot": 100.0, "div": 0.0, "call.strike": 100.0, **grid},
...               paths=200_000, seed=1)
>>> abs(res.value["call"] - 10.4506) < 3 * res.stderr["call"]   # BSM price 10.4506
True
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from ..tape.record import gather, record, scan, table
from ..tape.results import Result
from .models import antithetic_copy, quasi_random
from .path import Observable, Path

__all__ = ["mc_function", "MonteCarlo", "SIM_XS"]

#: per-step inputs every simulation reads
SIM_XS = ("_dt", "_r", "_k")


class _Context:
    """What :class:`Path` views read: declare-pass bookkeeping, then the loop results."""

    def __init__(self, model, n_steps, kw):
        self.model, self.n_steps, self.kw = model, n_steps, kw
        self.n_assets = model.n_assets
        self.declaring = True
        self.requests: list = []      # (key, Observable) in request order
        self.pos = 0                   # evaluate pass: next request
        self.results: list = []
        self.final_state = None
        self.state = None              # model state inside the step (for step_vol)

    def observable(self, key, make):
        if self.declaring:
            self.requests.append((key, make()))
            return 1.0
        if self.pos >= len(self.requests) or self.requests[self.pos][0][:2] != key[:2]:
            raise RuntimeError("a payoff asked for different path observables on its two "
                               "calls; payoffs must be straight-line code (see aadrisk.mc.path)")
        self.pos += 1
        return self.results[self.pos - 1]

    def final(self, a):
        return 1.0 if self.declaring else self.final_state[a]

    def spot0(self, a):
        return self.model.init(self.kw)[a]

    def df(self):
        from .. import math as am
        return 1.0 if self.declaring else am.exp(-self.ldf)

    def step_vol(self, a, s, x):
        return self.model.step_vol(a, self.state, x, self.kw)


def mc_function(model, payoffs: Mapping[str, tuple[Callable, Sequence[str]]], n_steps: int, *,
                tables: Mapping[str, Callable] | None = None, extra_inputs: Sequence[str] = (),
                antithetic: bool = False, qmc: bool = False):
    """The recordable pricing function of ``payoffs`` under ``model`` on ``n_steps`` steps.

    ``payoffs``: name -> (function ``f(path, **params)``, parameter names); the
    parameters are read from the inputs ``<name>.<param>``.  ``tables``: per-step
    values computed ON THE TAPE before the loop instead of read as per-step
    inputs: name (e.g. ``"_vol"``, ``"_r"``) -> ``builder(kw) -> n_steps values``
    of the program inputs (``extra_inputs`` names more of them); the loop reads
    step ``k``'s value with :func:`aadrisk.gather`, so the Greeks land on the
    builder's inputs (surface nodes, curve quotes) directly, with standard errors.
    ``antithetic``: each batch element simulates a pair of paths driven by ``z`` and
    ``-z`` and its value is the pair's average (so standard errors stay right).
    ``qmc``: the model's normals are the per-step, per-element inputs ``_z0, _z1, ...``
    (quasi-random numbers, see :mod:`aadrisk.mc.qmc`) instead of :func:`aadrisk.normal`.
    Returns ``(fn, input_names)`` for :func:`aadrisk.record`.
    """
    tables = dict(tables or {})
    names = list(model.inputs) + list(extra_inputs) + [
        f"{p}.{q}" for p, (_, qs) in payoffs.items() for q in qs]

    def priced(**kw):
        prep = getattr(model, "prepare", None)
        kw = prep(kw) if prep else dict(kw)
        tabs = {}
        for tname, build in tables.items():
            vals = list(build(kw))
            if len(vals) != n_steps:
                raise ValueError(f"table {tname!r} has {len(vals)} values, expected {n_steps}")
            tabs[tname] = table(vals)
        ctx = _Context(model, n_steps, kw)
        args = {p: {q: kw[f"{p}.{q}"] for q in qs} for p, (_, qs) in payoffs.items()}
        starts = {}
        for p, (f, _) in payoffs.items():
            starts[p] = len(ctx.requests)
            f(Path(ctx, 0, model.asset_names), **args[p])
        obs: list[Observable] = [o for _, o in ctx.requests]
        m0 = tuple(model.init(kw))
        nm, no, C = len(m0), len(obs), 2 if antithetic else 1

        def step(state, x):
            if tabs:
                x = dict(x)
                for tname, tab in tabs.items():
                    x[tname] = gather(tab, x["_k"])
            ldf = state[C * nm] + x["_r"] * x["_dt"]
            xo = dict(x, _ldf=ldf)
            models, accs, buf = [], [], []
            source = [x[f"_z{d}"] for d in range(model.n_draws)] if qmc else None
            for c in range(C):
                ms = state[c * nm:(c + 1) * nm]
                ctx.state = ms
                with quasi_random(source), antithetic_copy(c, buf if antithetic else None):
                    new = tuple(model.step(ms, x, kw))
                ctx.state = new
                spots = new[:model.n_assets]
                a0 = C * nm + 1 + c * no
                accs += [o.update(acc, spots, xo) for o, acc in zip(obs, state[a0:a0 + no])]
                models += list(new)
            return tuple(models) + (ldf,) + tuple(accs)

        init = m0 * C + (0.0,) + tuple(o.init for o in obs) * C
        zs = tuple(f"_z{d}" for d in range(model.n_draws)) if qmc else ()
        xs = tuple(n for n in (*model.xs, *SIM_XS, *zs) if n not in tabs)
        out = scan(step, init, n_steps, xs=xs)
        ctx.ldf = out[C * nm]
        copies = []
        for c in range(C):
            a0 = C * nm + 1 + c * no
            copies.append((out[c * nm:(c + 1) * nm],
                           [o.result(acc, ctx) for o, acc in zip(obs, out[a0:a0 + no])]))
        ctx.declaring = False
        values = {}
        for p, (f, _) in payoffs.items():
            total = 0.0
            for final, results in copies:
                ctx.final_state, ctx.results = final, results
                ctx.pos = starts[p]   # each payoff reads back its own requests, in order
                total = total + f(Path(ctx, 0, model.asset_names), **args[p])
            values[p] = total if C == 1 else 0.5 * total
        return values

    return priced, names


class MonteCarlo:
    """A recorded Monte Carlo program: price and pathwise Greeks of several payoffs.

    Parameters
    ----------
    model : a model of :mod:`aadrisk.mc.models`
    payoffs : mapping name -> (payoff function, parameter names)
    n_steps : int
    tables, extra_inputs : per-step values built on the tape (see :func:`mc_function`)
    antithetic : bool
        Antithetic variates: ``paths`` then counts pairs of paths (z, -z).
    qmc : bool
        Scrambled Sobol normals with a Brownian bridge (:mod:`aadrisk.mc.qmc`) instead
        of Philox: ``replicates`` independent scrambles of ``paths / replicates``
        points each, run in chunks of ``chunk`` paths; the standard errors are the
        spread of the replicates' means (randomised QMC).
    """

    def __init__(self, model, payoffs, n_steps: int, *, tables=None, extra_inputs=(),
                 antithetic: bool = False, qmc: bool = False, replicates: int = 8,
                 chunk: int = 4096, name: str = "monte carlo"):
        self.model, self.payoffs, self.n_steps = model, dict(payoffs), int(n_steps)
        self.tables, self.antithetic, self.qmc = dict(tables or {}), bool(antithetic), bool(qmc)
        self.replicates, self.chunk = int(replicates), int(chunk)
        if self.qmc and self.replicates < 2:
            raise ValueError("randomised QMC needs at least 2 replicates for a standard error")
        fn, names = mc_function(model, self.payoffs, self.n_steps, tables=self.tables,
                                extra_inputs=extra_inputs, antithetic=self.antithetic,
                                qmc=self.qmc)
        self.program = record(fn, inputs=names, name=name)

    def _inputs(self, inputs):
        inp = dict(inputs)
        n = self.n_steps
        inp.setdefault("_k", np.arange(n, dtype=float))
        for k in ("_dt", "_r", *self.model.xs):
            if k not in inp and k not in self.tables:
                raise KeyError(f"missing per-step input {k!r} (an array of {n} values)")
        return inp

    def _run(self, method, inputs, paths, seed, **kw):
        inp = self._inputs(inputs)
        if not self.qmc:
            return method(inp, batch=paths, reduce="mean", seed=seed, **kw)
        return self._run_qmc(method, inp, paths, seed, **kw)

    def _run_qmc(self, method, inp, paths, seed, **kw):
        from .qmc import SobolNormals
        per = max(1, paths // self.replicates)
        times = np.cumsum(np.asarray(inp["_dt"], dtype=float))
        reps = []
        for r in range(self.replicates):
            gen = SobolNormals(times, self.model.n_draws, seed=seed * 1000 + r)
            parts, done = [], 0
            while done < per:
                m = min(self.chunk, per - done)
                z = gen.next(m)
                chunk_inp = {**inp, **{f"_z{d}": z[:, d, :] for d in range(z.shape[1])}}
                parts.append((m, method(chunk_inp, batch=m, reduce="mean", seed=seed, **kw)))
                done += m
            reps.append(_weighted(parts))
        return _replicate_stats(reps, per * self.replicates)

    def value(self, inputs, *, paths: int, seed: int = 0, **kw):
        """Mean payoffs over ``paths`` paths (``.value``, ``.stderr`` per payoff)."""
        return self._run(self.program.value, inputs, paths, seed, **kw)

    def _wrt(self, wrt):
        """Default: every input except the quasi-random normals."""
        if wrt is not None:
            return wrt
        names = self.program.input_names + self.program.step_input_names
        return [n for n in names if not (self.qmc and n.startswith("_z"))]

    def grad(self, inputs, *, paths: int, seed: int = 0, wrt=None, **kw):
        """Means and pathwise gradients (``.grad[payoff][input]``, ``.grad_stderr``)."""
        return self._run(self.program.grad, inputs, paths, seed, wrt=self._wrt(wrt), **kw)

    def hvp(self, inputs, direction, *, paths: int, seed: int = 0, wrt=None, **kw):
        """Means, gradients and Hessian-vector products (e.g. gamma along ``spot``)."""
        return self._run(lambda inp, **k: self.program.hvp(inp, direction, **k), inputs,
                         paths, seed, wrt=self._wrt(wrt), **kw)


def _tree_map(fn, *trees):
    t0 = trees[0]
    if isinstance(t0, dict):
        return {k: _tree_map(fn, *(t[k] for t in trees)) for k in t0}
    return fn(*trees)


def _weighted(parts):
    """Means over chunks of one replicate, weighted by chunk size (value, grad, hvp)."""
    total = sum(m for m, _ in parts)

    def avg(*xs):
        return sum(m * np.asarray(x, dtype=float) for (m, _), x in zip(parts, xs)) / total
    res = [r for _, r in parts]
    return {f: _tree_map(avg, *(getattr(r, f) for r in res)) for f in ("value", "grad", "hvp")}


def _replicate_stats(reps, batch):
    """Mean over replicates and its standard error (spread of the replicate means)."""
    R = len(reps)

    def mean(*xs):
        m = sum(np.asarray(x, dtype=float) for x in xs) / R
        return float(m) if np.ndim(m) == 0 else m

    def se(*xs):
        a = np.array([np.asarray(x, dtype=float) for x in xs])
        s = a.std(axis=0, ddof=1) / np.sqrt(R)
        return float(s) if np.ndim(s) == 0 else s
    out = {f: _tree_map(mean, *(r[f] for r in reps)) for f in ("value", "grad", "hvp")}
    err = {f: _tree_map(se, *(r[f] for r in reps)) for f in ("value", "grad", "hvp")}
    return Result(value=out["value"], grad=out["grad"], hvp=out["hvp"], stderr=err["value"],
                  grad_stderr=err["grad"], hvp_stderr=err["hvp"], batch=batch)
