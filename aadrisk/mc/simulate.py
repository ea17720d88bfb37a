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
from .models import antithetic_copy
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
                antithetic: bool = False):
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
            for c in range(C):
                ms = state[c * nm:(c + 1) * nm]
                ctx.state = ms
                if antithetic:
                    with antithetic_copy(c, buf):
                        new = tuple(model.step(ms, x, kw))
                else:
                    new = tuple(model.step(ms, x, kw))
                ctx.state = new
                spots = new[:model.n_assets]
                a0 = C * nm + 1 + c * no
                accs += [o.update(acc, spots, xo) for o, acc in zip(obs, state[a0:a0 + no])]
                models += list(new)
            return tuple(models) + (ldf,) + tuple(accs)

        init = m0 * C + (0.0,) + tuple(o.init for o in obs) * C
        xs = tuple(n for n in (*model.xs, *SIM_XS) if n not in tabs)
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
    """

    def __init__(self, model, payoffs, n_steps: int, *, tables=None, extra_inputs=(),
                 antithetic: bool = False, name: str = "monte carlo"):
        self.model, self.payoffs, self.n_steps = model, dict(payoffs), int(n_steps)
        self.tables, self.antithetic = dict(tables or {}), bool(antithetic)
        fn, names = mc_function(model, self.payoffs, self.n_steps, tables=self.tables,
                                extra_inputs=extra_inputs, antithetic=self.antithetic)
        self.program = record(fn, inputs=names, name=name)

    def _inputs(self, inputs):
        inp = dict(inputs)
        n = self.n_steps
        inp.setdefault("_k", np.arange(n, dtype=float))
        for k in ("_dt", "_r", *self.model.xs):
            if k not in inp and k not in self.tables:
                raise KeyError(f"missing per-step input {k!r} (an array of {n} values)")
        return inp

    def value(self, inputs, *, paths: int, seed: int = 0, **kw):
        """Mean payoffs over ``paths`` paths (``.value``, ``.stderr`` per payoff)."""
        return self.program.value(self._inputs(inputs), batch=paths, reduce="mean", seed=seed,
                                  **kw)

    def grad(self, inputs, *, paths: int, seed: int = 0, wrt=None, **kw):
        """Means and pathwise gradients (``.grad[payoff][input]``, ``.grad_stderr``)."""
        return self.program.grad(self._inputs(inputs), batch=paths, reduce="mean", seed=seed,
                                 wrt=wrt, **kw)

    def hvp(self, inputs, direction, *, paths: int, seed: int = 0, wrt=None, **kw):
        """Means, gradients and Hessian-vector products (e.g. gamma along ``spot``)."""
        return self.program.hvp(self._inputs(inputs), direction, batch=paths, reduce="mean",
                                seed=seed, wrt=wrt, **kw)
