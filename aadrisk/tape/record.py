"""Recording: active values (:class:`Var`) append nodes to a flat tape.

A user function written with Python operators and :mod:`aadrisk.math` is
called once on :class:`Var` objects; every operation appends one node
(op code, up to three argument indices, a constant parameter) to the
:class:`Recorder`'s flat lists.  Nothing here runs per batch element: the
recorded program is then evaluated by the compiled kernels.

Control flow that depends on a recorded value cannot be recorded (it would
freeze one branch), so ``bool(var)`` raises :class:`TapeControlFlowError`;
write ``where(cond, a, b)`` instead.

Examples
--------
>>> import aadrisk as ad
>>> prog = ad.record(lambda *, x, y: ad.exp(x) * y + 1.0)
>>> float(prog.value({"x": 0.0, "y": 2.0}).value[0])
3.0
"""
from __future__ import annotations

import inspect
import os
import sys
import threading
from dataclasses import dataclass, field

from .primitives import (CONST, GATHER, INPUT, NORMAL, OPCODE, SCAN, SCAN_RES, STATE_IN, STEP_INPUT,
                         TABLE)


class TapeError(Exception):
    """Base class of aadrisk tape errors."""


class TapeControlFlowError(TapeError, TypeError):
    """A Python ``if``/``while``/``float()`` was applied to a recorded value."""


class TapeScopeError(TapeError, ValueError):
    """A value was used outside the recording (or loop body) it belongs to."""


_PKG_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_state = threading.local()


def _active() -> "Recorder | None":
    stack = getattr(_state, "stack", None)
    return stack[-1] if stack else None


def _user_site() -> str:
    """``file:line`` of the first caller frame outside the aadrisk package."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_PKG_DIR):
        frame = frame.f_back
    if frame is None:
        return "?"
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


@dataclass
class ScanInfo:
    """Bookkeeping of one recorded time-stepping loop."""

    header: int
    n_state: int
    n_steps: int
    init: list
    out: list = field(default_factory=list)
    end: int = -1
    checkpoint_every: int | None = None


class Recorder:
    """Flat tape under construction: parallel lists indexed by node."""

    def __init__(self):
        self.op: list[int] = []
        self.a: list[int] = []
        self.b: list[int] = []
        self.c: list[int] = []
        self.p: list[float] = []
        self.scope: list[int] = []   # -1: main tape, s >= 0: body of scan s
        self.site: list[str] = []
        self.inputs: dict[str, int] = {}        # name -> input index
        self.input_nodes: dict[str, int] = {}   # name -> node
        self.step_inputs: dict[str, int] = {}   # name -> step-input index
        self.scans: list[ScanInfo] = []
        self.cur_scope = -1
        self.n_draws = 0
        self._consts: dict[tuple, int] = {}

    # -- node creation -------------------------------------------------------------
    def node(self, op, a=-1, b=-1, c=-1, p=0.0) -> int:
        self.op.append(op)
        self.a.append(a)
        self.b.append(b)
        self.c.append(c)
        self.p.append(float(p))
        self.scope.append(self.cur_scope)
        self.site.append(_user_site())
        return len(self.op) - 1

    def const(self, value: float) -> int:
        key = (self.cur_scope, float(value))
        idx = self._consts.get(key)
        if idx is None:
            idx = self.node(CONST, p=float(value))
            self._consts[key] = idx
        return idx

    def input(self, name: str) -> "Var":
        if name in self.inputs:
            raise TapeError(f"input {name!r} declared twice")
        self.inputs[name] = len(self.inputs)
        node = self.node(INPUT, c=self.inputs[name])
        self.input_nodes[name] = node
        return Var(self, node)

    def index_of(self, x) -> int:
        """Node index of a Var of this recording, or a new constant for a number."""
        if isinstance(x, Var):
            if x.rec is not self:
                raise TapeScopeError("a value from another recording was used here")
            s = self.scope[x.idx]
            if s != -1 and s != self.cur_scope:
                raise TapeScopeError(
                    f"a value computed inside loop body {s} (at {self.site[x.idx]}) is used "
                    "outside it; return it as part of the loop state instead")
            return x.idx
        try:
            value = float(x)
        except (TypeError, ValueError):
            raise TypeError(f"cannot record an operation on {type(x).__name__} {x!r}") from None
        return self.const(value)


def _rec_of(*xs) -> Recorder:
    for x in xs:
        if isinstance(x, Var):
            return x.rec
    rec = _active()
    if rec is None:
        raise TapeError("no active recording")
    return rec


def apply(name: str, *args, p: float = 0.0) -> "Var":
    """Record primitive ``name`` of :data:`primitives.TABLE` on ``args``."""
    rec = _rec_of(*args)
    code = OPCODE[name]
    if len(args) != TABLE[code].arity:
        raise TypeError(f"{name} takes {TABLE[code].arity} arguments, got {len(args)}")
    idx = [rec.index_of(x) for x in args] + [-1, -1]
    return Var(rec, rec.node(code, idx[0], idx[1], idx[2], p))


class Var:
    """An active value being recorded on a tape (one node)."""

    __slots__ = ("rec", "idx")
    __array_ufunc__ = None  # numpy defers to our operators; np.exp(var) raises

    def __init__(self, rec: Recorder, idx: int):
        self.rec = rec
        self.idx = idx

    def __repr__(self):
        return f"<aadrisk Var node {self.idx} at {self.rec.site[self.idx]}>"

    def __add__(self, o): return apply("add", self, o)
    def __radd__(self, o): return apply("add", o, self)
    def __sub__(self, o): return apply("sub", self, o)
    def __rsub__(self, o): return apply("sub", o, self)
    def __mul__(self, o): return apply("mul", self, o)
    def __rmul__(self, o): return apply("mul", o, self)
    def __truediv__(self, o): return apply("div", self, o)
    def __rtruediv__(self, o): return apply("div", o, self)
    def __neg__(self): return apply("sub", 0.0, self)
    def __pos__(self): return self
    def __abs__(self): return apply("abs", self)

    def __pow__(self, o):
        if isinstance(o, Var):
            return apply("pow", self, o)
        if float(o) == 2.0:
            return apply("square", self)
        if float(o) == 1.0:
            return self
        if float(o) == 0.5:
            return apply("sqrt", self)
        return apply("powc", self, p=float(o))

    def __rpow__(self, o):
        return apply("pow", o, self)

    def __lt__(self, o): return apply("lt", self, o)
    def __le__(self, o): return apply("le", self, o)
    def __gt__(self, o): return apply("gt", self, o)
    def __ge__(self, o): return apply("ge", self, o)
    def __eq__(self, o): return apply("eq", self, o)   # noqa: D105 (mask, not identity)
    def __ne__(self, o): return apply("ne", self, o)
    __hash__ = object.__hash__

    def _no_flow(self, *_):
        raise TapeControlFlowError(
            f"a recorded value (node {self.idx}, {self.rec.site[self.idx]}) was used in Python "
            "control flow or converted to a Python number; that would freeze one branch for all "
            "elements. Use aadrisk.where(cond, a, b) for value-dependent choices.")

    __bool__ = _no_flow
    __float__ = _no_flow
    __int__ = _no_flow
    __index__ = _no_flow


def normal() -> Var:
    """A standard normal number, per element (and per step inside :func:`scan`).

    Counter-based (Philox-4x32-10): element ``i`` at step ``t`` gets the same
    number whatever the batch size, block size or thread count; the program's
    ``seed`` selects the stream.
    """
    rec = _active()
    if rec is None:
        raise TapeError("aadrisk.normal() needs an active recording")
    rec.n_draws += 1
    return Var(rec, rec.node(NORMAL, c=rec.n_draws - 1))


def table(values) -> list:
    """Pack ``values`` into consecutive tape nodes, for :func:`gather` (one ``copy`` each).

    Tables read inside a :func:`scan` body should be packed before the loop, so
    that the copies are recorded once, not once per step.  Values that are
    already consecutive nodes (e.g. inputs declared in a row) are returned as they are.
    """
    values = list(values)
    if not values:
        raise ValueError("table() needs at least one value")
    rec = _rec_of(*values)
    idx = [rec.index_of(x) for x in values]
    if all(b == a + 1 for a, b in zip(idx, idx[1:])):
        return [Var(rec, k) for k in idx]
    return [apply("copy", Var(rec, k)) for k in idx]


def gather(values, index) -> Var:
    """``values[clip(floor(index), 0, len(values) - 1)]`` per element: a table lookup.

    ``index`` may differ per element (a path's spot bucket); the derivative goes
    to the table entry read (``index`` itself has derivative zero).  ``values``
    must be consecutive tape nodes (see :func:`table`) or are packed here.

    Examples
    --------
    >>> import numpy as np
    >>> import aadrisk as ad
    >>> def f(*, a, b, c, i):
    ...     return ad.gather([a, b, c], i) * 2.0
    >>> r = ad.record(f).grad({"a": 1.0, "b": 2.0, "c": 3.0, "i": np.array([0.5, 1.7, 9.0])})
    >>> r.value.tolist(), r.grad["b"]
    ([2.0, 4.0, 6.0], 2.0)
    """
    values = list(values)
    rec = _rec_of(index, *values)
    idx = [rec.index_of(x) for x in values]
    if not all(b == a + 1 for a, b in zip(idx, idx[1:])):
        if rec.cur_scope != -1 and any(rec.scope[k] == -1 for k in idx):
            raise TapeError("gather() inside a loop body needs a table packed before the loop: "
                            "call aadrisk.table(values) before aadrisk.scan()")
        idx = [v.idx for v in table([Var(rec, k) for k in idx])]
    b = rec.index_of(index)
    return Var(rec, rec.node(GATHER, a=idx[0], b=b, c=len(idx)))


def scan(step, init, n_steps: int, xs=(), checkpoint_every: int | None = None):
    """Record a time-stepping loop once: ``state = step(state, x_t)`` for ``t < n_steps``.

    Parameters
    ----------
    step : callable
        ``step(state, x) -> new_state``; ``state`` is a tuple of values (same
        length in and out), ``x`` a dict of this step's values of the step
        inputs named in ``xs``.  The body may use any value recorded before the
        loop (parameters, spot ...) and :func:`normal`.
    init : tuple of Var or float
        Initial state.
    n_steps : int
        Number of steps ``N``.
    xs : sequence of str
        Names of step inputs: at evaluation each is an array of shape ``(N,)``
        (shared) or ``(N, batch)`` (per element).
    checkpoint_every : int, optional
        Store the carried state every ``k`` steps for the reverse sweep and
        recompute in between (memory ``~ (N/k + k) * len(state) * block``).
        Default: every step if that fits the kernel's memory budget, else
        ``ceil(sqrt(N))``.

    Returns
    -------
    tuple of Var
        The state after ``n_steps`` steps.

    Examples
    --------
    >>> import aadrisk as ad
    >>> def f(*, x):
    ...     (y,) = ad.scan(lambda s, _: (s[0] * 1.01,), (x,), n_steps=10)
    ...     return y
    >>> round(float(ad.record(f).value({"x": 1.0}).value[0]), 12)
    1.104622125411
    """
    rec = _active()
    if rec is None:
        raise TapeError("aadrisk.scan() needs an active recording")
    if rec.cur_scope != -1:
        raise TapeError("nested scan loops are not supported: flatten the inner loop")
    if int(n_steps) < 1:
        raise ValueError(f"scan needs n_steps >= 1, got {n_steps}")
    single = not isinstance(init, (tuple, list))
    init = (init,) if single else tuple(init)
    init_idx = [rec.index_of(x) for x in init]
    sid = len(rec.scans)
    info = ScanInfo(header=-1, n_state=len(init), n_steps=int(n_steps), init=init_idx,
                    checkpoint_every=checkpoint_every)
    info.header = rec.node(SCAN, c=sid)
    rec.scans.append(info)
    rec.cur_scope = sid
    rec.scope[info.header] = -1
    try:
        state = tuple(Var(rec, rec.node(STATE_IN, c=k)) for k in range(len(init)))
        x = {}
        for name in xs:
            if name in rec.inputs:
                raise TapeError(f"{name!r} is already a program input; step inputs need own names")
            k = rec.step_inputs.setdefault(name, len(rec.step_inputs))
            x[name] = Var(rec, rec.node(STEP_INPUT, c=k))
        new = step(state[0] if single else state, x)
        new = (new,) if single and not isinstance(new, (tuple, list)) else tuple(new)
        if len(new) != len(init):
            raise TapeError(f"scan step returned {len(new)} state values, expected {len(init)}")
        info.out = [rec.index_of(v) for v in new]
    finally:
        rec.cur_scope = -1
    info.end = len(rec.op)
    results = tuple(Var(rec, rec.node(SCAN_RES, a=info.header, c=k)) for k in range(len(init)))
    return results[0] if single else results


def record(fn, inputs=None, *, name: str | None = None):
    """Record ``fn`` once on active inputs and return the compiled :class:`Program`.

    Parameters
    ----------
    fn : callable
        Called as ``fn(**vars)`` with one :class:`Var` per input.  Returns a
        Var (one output) or a dict ``{name: Var}`` (several outputs).
    inputs : sequence of str, optional
        Input names; default: the parameter names of ``fn``.
    name : str, optional
        A name for messages and reports.

    Whether an input is per element (an array over the batch) or shared (a
    scalar) is decided at evaluation, from what is passed.
    """
    from .program import Program

    if inputs is None:
        inputs = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    rec = Recorder()
    stack = getattr(_state, "stack", None)
    if stack is None:
        stack = _state.stack = []
    stack.append(rec)
    try:
        args = {n: rec.input(n) for n in inputs}
        out = fn(**args)
    finally:
        stack.pop()
    if isinstance(out, dict):
        outputs = {k: rec.index_of(v) for k, v in out.items()}
        single = False
    else:
        outputs = {"value": rec.index_of(out)}
        single = True
    for k, idx in outputs.items():
        if rec.scope[idx] != -1:
            raise TapeScopeError(f"output {k!r} was computed inside a loop body")
    return Program(rec, outputs, single=single, name=name or getattr(fn, "__name__", "program"))
