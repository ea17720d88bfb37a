"""The primitive table: each operation's forward formula beside its derivative rules.

One row per primitive.  Formulas are expressions in

* ``a``, ``b``, ``c``: the argument values (``c`` is only ever a
  non-differentiable condition, as in ``where``);
* ``p``: the node's constant parameter (a smoothing width);
* ``y``: the node's own value (available to the derivative formulas).

``da`` and ``db`` are the first partial derivatives with respect to ``a`` and
``b``; ``aa``, ``ab``, ``bb`` the second partials (missing means zero).  From
this one table :mod:`aadrisk.tape._gen` writes the Numba kernels
(``_generated.py``) and :mod:`aadrisk.tape.reference` builds the pure-Python
evaluator, so a rule lives in exactly one place.  Reverse mode uses
``adj[a] += adj[y] * da``; forward mode ``tan[y] = da tan[a] + db tan[b]``;
forward-over-reverse additionally propagates the tangents of the partials,
``d(da) = aa tan[a] + ab tan[b]``.

Derived operations (``neg``, ``smooth_max``, ``select``, logical and/or/not,
``maximum`` with a scalar ...) are built from these rows in
:mod:`aadrisk.tape.record` and :mod:`aadrisk.math`.

``domain`` gives, per argument, an interval on which the row's formulas are
valid; the tests draw inputs there.  ``kink`` marks rows whose derivative
jumps where ``kink(a, b)`` is zero (tests stay away from it).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Prim:
    """One primitive: forward formula and derivative rules side by side."""

    name: str
    arity: int
    fwd: str
    da: str | None = None
    db: str | None = None
    second: dict = field(default_factory=dict)
    domain: tuple = ()
    param: tuple | None = None  # (lo, hi) for the constant parameter p, if used
    kink: str | None = None     # expression that is zero at a derivative jump
    diff: bool = True           # False: the op has no derivative (solver, comparison)
    doc: str = ""


W = (-3.0, 3.0)      # generic real interval for tests
POS = (0.05, 20.0)   # strictly positive interval
NZ = (0.2, 5.0)      # away from zero (divisors)

TABLE: tuple[Prim, ...] = (
    # -- arithmetic ---------------------------------------------------------------
    Prim("add", 2, "a + b", "1.0", "1.0", domain=(W, W)),
    Prim("sub", 2, "a - b", "1.0", "-1.0", domain=(W, W)),
    Prim("mul", 2, "a * b", "b", "a", {"ab": "1.0"}, domain=(W, W)),
    Prim("div", 2, "a / b", "1.0 / b", "-y / b",
         {"ab": "-1.0 / (b * b)", "bb": "2.0 * y / (b * b)"}, domain=(W, NZ)),
    Prim("square", 1, "a * a", "2.0 * a", None, {"aa": "2.0"}, domain=(W,)),
    Prim("powc", 1, "a ** p", "p * a ** (p - 1.0)", None,
         {"aa": "p * (p - 1.0) * a ** (p - 2.0)"}, domain=(POS,), param=(-3.0, 3.0),
         doc="a ** p for a constant exponent p"),
    Prim("pow", 2, "a ** b", "b * a ** (b - 1.0)", "y * vlog(a)",
         {"aa": "b * (b - 1.0) * a ** (b - 2.0)",
          "ab": "a ** (b - 1.0) * (1.0 + b * vlog(a))",
          "bb": "y * vlog(a) * vlog(a)"}, domain=(POS, W),
         doc="a ** b for a > 0"),
    # -- elementary functions -------------------------------------------------------
    Prim("exp", 1, "vexp(a)", "y", None, {"aa": "y"}, domain=(W,)),
    Prim("log", 1, "vlog(a)", "1.0 / a", None, {"aa": "-1.0 / (a * a)"}, domain=(POS,)),
    Prim("sqrt", 1, "math.sqrt(a)", "0.5 / y", None, {"aa": "-0.25 / (y * a)"}, domain=(POS,)),
    Prim("abs", 1, "abs(a)", "sign(a)", None, domain=(W,), kink="a"),
    Prim("sin", 1, "math.sin(a)", "math.cos(a)", None, {"aa": "-y"}, domain=(W,)),
    Prim("cos", 1, "math.cos(a)", "-math.sin(a)", None, {"aa": "-y"}, domain=(W,)),
    Prim("tanh", 1, "math.tanh(a)", "1.0 - y * y", None, {"aa": "-2.0 * y * (1.0 - y * y)"},
         domain=(W,)),
    Prim("atan2", 2, "math.atan2(a, b)", "b / (a * a + b * b)", "-a / (a * a + b * b)",
         {"aa": "-2.0 * a * b / ((a * a + b * b) * (a * a + b * b))",
          "ab": "(a * a - b * b) / ((a * a + b * b) * (a * a + b * b))",
          "bb": "2.0 * a * b / ((a * a + b * b) * (a * a + b * b))"}, domain=(W, NZ),
         doc="angle of the point (b, a), as math.atan2(y=a, x=b); jumps across b < 0, a = 0"),
    Prim("erf", 1, "math.erf(a)", "1.1283791670955126 * vexp(-a * a)", None,
         {"aa": "-2.2567583341910252 * a * vexp(-a * a)"}, domain=(W,)),
    Prim("norm_cdf", 1, "norm_cdf(a)", "norm_pdf(a)", None, {"aa": "-a * norm_pdf(a)"},
         domain=((-8.0, 8.0),)),
    Prim("norm_pdf", 1, "norm_pdf(a)", "-a * y", None, {"aa": "(a * a - 1.0) * y"},
         domain=(W,)),
    # -- non-smooth and smoothed ------------------------------------------------------
    Prim("max", 2, "a if a >= b else b", "1.0 if a >= b else 0.0",
         "0.0 if a >= b else 1.0", domain=(W, W), kink="a - b",
         doc="ties send the derivative to the first argument"),
    Prim("min", 2, "a if a <= b else b", "1.0 if a <= b else 0.0",
         "0.0 if a <= b else 1.0", domain=(W, W), kink="a - b",
         doc="ties send the derivative to the first argument"),
    Prim("sigmoid", 1, "sigmoid(a, p)", "y * sigmoid(-a, p) * (1.0 / p)", None,
         {"aa": "y * sigmoid(-a, p) * (sigmoid(-a, p) - y) / (p * p)"}, domain=(W,), param=(0.1, 2.0),
         doc="smooth step 1/(1+exp(-a/p)); p is the width"),
    Prim("softplus", 1, "softplus(a, p)", "sigmoid(a, p)", None,
         {"aa": "sigmoid(a, p) * sigmoid(-a, p) / p"}, domain=(W,), param=(0.1, 2.0),
         doc="smooth max(a, 0) = p log(1 + exp(a/p)); p is the width"),
    Prim("where", 3, "a if c != 0.0 else b", "1.0 if c != 0.0 else 0.0",
         "0.0 if c != 0.0 else 1.0", domain=(W, W, (0.0, 1.0)),
         doc="select: a where the mask c is non-zero, else b"),
    Prim("stop_gradient", 1, "a", "0.0", None, domain=(W,),
         doc="identity whose derivative is zero"),
    Prim("copy", 1, "a", "1.0", None, domain=(W,),
         doc="identity: packs values into consecutive nodes (tables for gather)"),
    Prim("floor", 1, "ffloor(a)", "0.0", None, domain=((-2.7, 3.3),),
         kink="math.sin(math.pi * a)",
         doc="largest integer <= a; derivative zero (jumps at integers)"),
    # -- comparisons: masks of 0.0 / 1.0 with zero derivative ---------------------
    Prim("lt", 2, "1.0 if a < b else 0.0", domain=(W, W), diff=False),
    Prim("le", 2, "1.0 if a <= b else 0.0", domain=(W, W), diff=False),
    Prim("gt", 2, "1.0 if a > b else 0.0", domain=(W, W), diff=False),
    Prim("ge", 2, "1.0 if a >= b else 0.0", domain=(W, W), diff=False),
    Prim("eq", 2, "1.0 if a == b else 0.0", domain=(W, W), diff=False),
    Prim("ne", 2, "1.0 if a != b else 0.0", domain=(W, W), diff=False),
    # -- root solves: no derivative of their own; aadrisk.tape.custom gives them
    #    their implicit-function-theorem adjoint ------------------------------------
    Prim("iv_black_stdev", 3, "iv_black_stdev(a, b, c)", domain=((0.05, 0.3), (0.7, 1.4),
         (1.0, 1.0)), diff=False, doc="raw Black implied total stdev (see custom.py)"),
    Prim("iv_bachelier_stdev", 2, "iv_bachelier_stdev(a, b)", domain=((0.5, 2.0), W),
         diff=False, doc="raw Bachelier implied total stdev (see custom.py)"),
)

OPCODE = {prim.name: code for code, prim in enumerate(TABLE)}
N_PRIM = len(TABLE)

# Leaf and structural node kinds, handled by the kernels' driver, not the table.
CONST, INPUT, STEP_INPUT, NORMAL, STATE_IN, SCAN, SCAN_RES, GATHER = range(100, 108)
LEAF_NAMES = {CONST: "const", INPUT: "input", STEP_INPUT: "step_input", NORMAL: "normal",
              STATE_IN: "state_in", SCAN: "scan", SCAN_RES: "scan_result", GATHER: "gather"}
#: GATHER node: value of node ``A + clip(floor(value of B), 0, C - 1)`` (a table of C
#: consecutive nodes starting at A, read at a per-element index); its adjoint is added
#: to the table node it read, its tangent is that node's tangent.


def op_name(code: int) -> str:
    """Readable name of an op code."""
    return TABLE[code].name if code < N_PRIM else LEAF_NAMES[code]


def partial_modes():
    """Per op and argument slot: 0 no derivative, 1 constant partial, 2 stored partial.

    Returns ``(modes, consts)``, lists of ``[mode_a, mode_b]`` and
    ``[const_a, const_b]`` per op code.
    """
    modes, consts = [], []
    for prim in TABLE:
        m, c = [0, 0], [0.0, 0.0]
        for slot, expr in enumerate((prim.da, prim.db)):
            if not prim.diff or expr is None or slot >= prim.arity:
                continue
            try:
                value = float(expr)
            except ValueError:
                m[slot] = 2
            else:
                m[slot], c[slot] = (1, value) if value != 0.0 else (0, 0.0)
        modes.append(m)
        consts.append(c)
    return modes, consts
