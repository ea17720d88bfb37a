"""Bootstrapping yield curves from par quotes, with IFT Jacobians from the AAD tape.

A curve is built from par quotes of deposits (``'depo'``), FRAs (``'fra'``,
tenor ``'AxB'`` in months), fixed-float swaps (``'swap'``) and overnight-index
swaps (``'ois'``), one pillar per quote at the instrument's last date.  Every
quote has a *par-rate residual* ``R_k(z, q) = par_k(z) - q_k`` (rate units,
per year), where ``par_k`` is the instrument's par rate implied by the pillar
zeros ``z``:

* depo ``[s, e]`` and FRA ``[s, e]``: ``(DF(s) / DF(e) - 1) / tau(s, e)``;
* swap: ``float PV / annuity``, annuity ``sum_j tau_j DF_d(pay_j)`` over the
  fixed schedule, float PV ``sum_k (DF_f(s_k) / DF_f(e_k) - 1) DF_d(e_k)``
  over the float schedule (forward and accrual on the same day count, paid at
  period end, no fixing lag); with ``DF_d = DF_f`` (single curve) the float
  leg telescopes to ``DF(s_0) - DF(e_n)``, which is what is recorded;
* OIS: as a swap whose float periods are the fixed periods (daily compounded
  overnight rate, no lookback: each coupon is ``DF_f(s)/DF_f(e) - 1``).

Dual curve: a :class:`CurveSpec` with ``discount='USD-OIS'`` discounts its
swaps on that (earlier) curve.  :class:`CurveBuilder` records all residuals of
all curves once as one tape program of the pillar zeros and the quotes, solves
the curves in order by Newton (Jacobian from the tape), then gives

    dz/dq = -(dR/dz)^-1 dR/dq

(implicit function theorem) with ``dR/dz`` and ``dR/dq`` from ``Program.grad``
-- no finite differences.  Par-quote sensitivities of any trade are
``dV/dq = dV/dz . dz/dq``.

Conventions: no settlement lag (instruments start on the valuation date, which
must be a business day), schedules backward from the unadjusted end
``start + tenor`` with the curve's business-day convention, pillar times
Act/365F from the valuation date.

Labels: quotes ``'curve/<CURVE>/<kind>/<tenor>'``, pillars
``'zero/<CURVE>/<tenor>'``.

Examples
--------
>>> from datetime import date
>>> spec = CurveSpec("USD-SOFR", [Quote("depo", "6M", 0.05), Quote("swap", "2Y", 0.045)],
...                  Conventions(fixed_tenor="1Y", float_tenor="6M"))
>>> cs = bootstrap([spec], date(2024, 1, 15))
>>> cs.quote_labels
['curve/USD-SOFR/depo/6M', 'curve/USD-SOFR/swap/2Y']
>>> bool(abs(cs.residuals()).max() < 1e-14), cs.dzdq.shape
(True, (2, 2))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from .._lazy import pandas as pd

from .. import record
from ._rowwise import fits, matmul_rows
from .curves import YieldCurve, interp_coeffs, tape_df
from .dates import add_tenor, adjust, is_business_day, parse_tenor, schedule, year_fraction

__all__ = ["Quote", "Conventions", "CurveSpec", "CurveSet", "CurveBuilder", "BootstrapError",
           "bootstrap", "KINDS"]

KINDS = ("depo", "fra", "swap", "ois")


class BootstrapError(ValueError):
    """Bad curve input or a bootstrap that did not converge; names curve and quote."""


@dataclass(frozen=True)
class Quote:
    """A par quote: ``kind`` in depo/fra/swap/ois, ``tenor`` (``'3M'``, ``'5Y'``, FRA
    ``'3x6'``) and ``rate`` (simple par rate per year, e.g. 0.05 for 5 %)."""

    kind: str
    tenor: str
    rate: float


@dataclass(frozen=True)
class Conventions:
    """Conventions of a curve's instruments.

    ``holidays`` (set of dates, on top of weekends) and ``convention`` (F/MF/P/U)
    apply to every date; deposits and FRAs accrue ``depo_dc``; swap fixed legs
    pay every ``fixed_tenor`` accruing ``fixed_dc``; float legs every
    ``float_tenor`` accruing (and forecasting) ``float_dc``.
    """

    holidays: frozenset = frozenset()
    convention: str = "MF"
    depo_dc: str = "ACT/360"
    fixed_tenor: str = "1Y"
    fixed_dc: str = "30/360"
    float_tenor: str = "3M"
    float_dc: str = "ACT/360"


@dataclass(frozen=True)
class CurveSpec:
    """Quotes and conventions of one curve; ``discount`` names an earlier curve of the
    same build to discount its swaps on (dual curve), ``None`` for itself."""

    name: str
    quotes: tuple
    conventions: Conventions = Conventions()
    discount: str | None = None
    method: str = "loglinear_df"


@dataclass
class _Instr:
    label: str
    curve: str        # forecast curve (the one this quote builds)
    disc: str         # discount curve
    pillar: date
    fixed: list = field(default_factory=list)    # (accrual, pay date)
    floats: list = field(default_factory=list)   # (start, end, pay) dates
    telescope: bool = False


def _label(curve, q):
    return f"curve/{curve}/{q.kind}/{q.tenor}"


def _instrument(spec: CurveSpec, q: Quote, val: date) -> _Instr:
    c = spec.conventions
    lab = _label(spec.name, q)
    kind = str(q.kind).lower()
    disc = spec.discount or spec.name
    try:
        if kind == "depo":
            e = adjust(add_tenor(val, q.tenor), c.convention, c.holidays)
            return _Instr(lab, spec.name, spec.name, e, [(year_fraction(val, e, c.depo_dc), e)],
                          [(val, e, e)])
        if kind == "fra":
            parts = str(q.tenor).lower().split("x")
            if len(parts) != 2 or not all(p.isdigit() for p in parts) or \
                    int(parts[0]) >= int(parts[1]):
                raise ValueError(f"FRA tenor must be 'AxB' in months with A < B, got {q.tenor!r}")
            m0, m1 = int(parts[0]), int(parts[1])
            s = adjust(add_tenor(val, f"{m0}M"), c.convention, c.holidays)
            e = adjust(add_tenor(s, f"{m1 - m0}M"), c.convention, c.holidays)
            return _Instr(lab, spec.name, spec.name, e, [(year_fraction(s, e, c.depo_dc), e)],
                          [(s, e, e)])
        if kind in ("swap", "ois"):
            end = add_tenor(val, q.tenor)
            fx = schedule(val, end, c.fixed_tenor, c.convention, c.holidays)
            fixed = [(year_fraction(a, b, c.fixed_dc), b) for a, b in zip(fx[:-1], fx[1:])]
            fl = fx if kind == "ois" else schedule(val, end, c.float_tenor, c.convention,
                                                  c.holidays)
            floats = [(a, b, b) for a, b in zip(fl[:-1], fl[1:])]
            pillar = max(fx[-1], fl[-1])
            return _Instr(lab, spec.name, disc, pillar, fixed, floats, disc == spec.name)
    except ValueError as exc:
        raise BootstrapError(f"curve {spec.name}: quote {lab}: {exc}") from None
    raise BootstrapError(f"curve {spec.name}: quote {lab}: unknown kind {q.kind!r}; "
                         f"known: {', '.join(KINDS)}")


def _check_spec(spec: CurveSpec, built: list, val: date):
    if not spec.quotes:
        raise BootstrapError(f"curve {spec.name}: no quotes")
    if spec.discount is not None and spec.discount != spec.name and spec.discount not in built:
        raise BootstrapError(f"curve {spec.name}: discount curve {spec.discount!r} must be "
                             f"built earlier in the same bootstrap (built so far: {built})")
    seen = {}
    for q in spec.quotes:
        lab = _label(spec.name, q)
        if str(q.kind).lower() != "fra":
            try:
                parse_tenor(q.tenor)
            except ValueError as exc:
                raise BootstrapError(f"curve {spec.name}: quote {lab}: {exc}") from None
        try:
            r = float(q.rate)
        except (TypeError, ValueError):
            raise BootstrapError(f"curve {spec.name}: quote {lab}: rate {q.rate!r} is not a "
                                 "number") from None
        if not math.isfinite(r):
            raise BootstrapError(f"curve {spec.name}: quote {lab}: rate is {r} (NaN/inf)")
        if q.tenor in seen:
            raise BootstrapError(f"curve {spec.name}: duplicate tenor {q.tenor!r} "
                                 f"({seen[q.tenor]} and {lab})")
        seen[q.tenor] = lab
    if not is_business_day(val, spec.conventions.holidays):
        raise BootstrapError(f"curve {spec.name}: valuation date {val} is not a business day")


def rowwise_matmul(a, b) -> np.ndarray:
    """``a @ b`` computed row by row in a fixed order (``einsum`` without BLAS), so that a
    trade's row never depends on how many other rows are in the batch -- BLAS may sum in
    another order for another shape, changing the last bits (and chunked batch runs must
    be bit-identical).  Two C-contiguous float matrices are multiplied by a compiled
    loop in einsum's own order (:mod:`aadrisk.market._rowwise`)."""
    if fits(a, b):
        return matmul_rows(a, b)
    return np.einsum("...j,jk->...k", a, b, optimize=False)


@dataclass
class CurveSet:
    """Bootstrapped curves with their quote Jacobian.

    Attributes
    ----------
    valuation_date : date
    curves : dict
        Curve name -> :class:`~aadrisk.market.curves.YieldCurve`.
    quote_labels, pillar_labels : list of str
        ``Q`` quote labels, ``P`` pillar labels (``P == Q``), curve by curve.
    quotes : array (Q,)
        Quote rates, per year.
    zeros : array (P,)
        All pillar zeros, curve by curve (continuous, per year).
    offsets : dict
        Curve name -> slice of ``zeros`` / ``pillar_labels``.
    dzdq : array (P, Q)
        ``d zero / d quote`` (dimensionless), by the implicit function theorem.
    """

    valuation_date: date
    curves: dict
    quote_labels: list
    pillar_labels: list
    quotes: np.ndarray
    zeros: np.ndarray
    offsets: dict
    dzdq: np.ndarray
    builder: "CurveBuilder" = None
    iterations: int = 0
    #: years subtracted from every time measured from the valuation date by the pricers
    #: of :mod:`aadrisk.market.rates` / ``rate_options`` / ``bonds`` (the valuation date
    #: moved forward by a fraction of a day with the curves held in time to maturity;
    #: finite-difference checks of theta)
    time_shift: float = 0.0

    def residuals(self, zeros=None) -> np.ndarray:
        """Par rate minus quote per quote (rate units), NumPy, at these or other zeros."""
        return self.builder.residuals(self.zeros if zeros is None else zeros, self.quotes)

    def par_rates(self) -> np.ndarray:
        """Par rates of the input instruments implied by the curves (per year)."""
        return self.residuals() + self.quotes

    def jacobian(self) -> pd.DataFrame:
        """``d zero / d quote`` as a DataFrame (rows pillar labels, columns quote labels)."""
        return pd.DataFrame(self.dzdq, index=self.pillar_labels, columns=self.quote_labels)

    def zero_to_par(self) -> pd.DataFrame:
        """``d quote / d zero`` (the inverse Jacobian: par rates as functions of zeros)."""
        return pd.DataFrame(np.linalg.inv(self.dzdq), index=self.quote_labels,
                            columns=self.pillar_labels)

    def par_sensitivities(self, dv_dz) -> np.ndarray:
        """Chain zero sensitivities ``(..., P)`` to par-quote sensitivities ``(..., Q)``:
        ``dV/dq = dV/dz . dz/dq`` (value units per 1.00 of rate)."""
        return rowwise_matmul(np.asarray(dv_dz), self.dzdq)

    def depends_on(self, names) -> list:
        """The curves whose quotes can move curves ``names``: themselves and, transitively,
        the curves they are discounted on (in build order)."""
        disc = {sp.name: sp.discount for sp in self.builder.specs} if self.builder else {}
        out, todo = set(), [n for n in names if n]
        while todo:
            n = todo.pop()
            if n in out or n not in self.curves:
                continue
            out.add(n)
            if disc.get(n) and disc[n] != n:
                todo.append(disc[n])
        return [n for n in self.curves if n in out]

    def label_masks(self, names):
        """Boolean masks over ``quote_labels`` and ``pillar_labels`` of the curves
        :meth:`depends_on` ``names`` (the other quotes have exactly zero sensitivity)."""
        q = np.zeros(len(self.quote_labels), dtype=bool)
        for n in self.depends_on(names):
            q[self.offsets[n]] = True
        return q, q.copy()

    def curve_zeros(self, name, zeros=None):
        """The pillar zeros of one curve (from ``zeros`` if given, else the solution)."""
        z = self.zeros if zeros is None else np.asarray(zeros)
        return z[self.offsets[name]]


class CurveBuilder:
    """Instruments and the recorded residual program of a set of curve specs.

    Recording happens once; :meth:`solve` can then rebuild the curves for any
    quote values (bumped quotes, scenarios) without re-recording.

    Parameters
    ----------
    specs : sequence of CurveSpec
        In build order (a discount curve before the curves discounted on it).
    valuation_date : date
    """

    def __init__(self, specs, valuation_date: date):
        self.valuation_date = valuation_date
        self.specs = list(specs)
        names = [s.name for s in self.specs]
        if len(set(names)) != len(names):
            raise BootstrapError(f"curve names must be unique, got {names}")
        self.instr, self.offsets, built = [], {}, []
        self.times = {}
        for spec in self.specs:
            _check_spec(spec, built, valuation_date)
            ins = [_instrument(spec, q, valuation_date) for q in spec.quotes]
            for prev, cur, q in zip(ins[:-1], ins[1:], spec.quotes[1:]):
                if cur.pillar <= prev.pillar:
                    raise BootstrapError(
                        f"curve {spec.name}: quote {cur.label} ends {cur.pillar}, not after "
                        f"{prev.label} ({prev.pillar}); pillars must be strictly increasing "
                        "(order quotes by maturity, no two on the same date)")
            if ins[0].pillar <= valuation_date:
                raise BootstrapError(f"curve {spec.name}: quote {ins[0].label} does not end "
                                     "after the valuation date")
            n0 = len(self.instr)
            self.offsets[spec.name] = slice(n0, n0 + len(ins))
            self.instr += ins
            self.times[spec.name] = np.array([self.t(i.pillar) for i in ins])
            built.append(spec.name)
        self.quote_labels = [i.label for i in self.instr]
        self.pillar_labels = [f"zero/{s.name}/{q.tenor}" for s in self.specs for q in s.quotes]
        self.methods = {s.name: s.method for s in self.specs}
        self._plan = [self._plan_instr(i) for i in self.instr]
        self.n = len(self.instr)
        self.z_names = [f"z{k}" for k in range(self.n)]
        self.q_names = [f"q{k}" for k in range(self.n)]
        self.program = record(self._residual_fn, inputs=self.z_names + self.q_names,
                              name="bootstrap residuals")

    def t(self, d: date) -> float:
        """Act/365F time from the valuation date, years."""
        return (d - self.valuation_date).days / 365.0

    def _df_plan(self, curve, d):
        iL, iR, a, b = interp_coeffs(self.times[curve], np.array([self.t(d)]),
                                     self.methods[curve])
        off = self.offsets[curve].start
        return (off + int(iL[0]), float(a[0]), off + int(iR[0]), float(b[0]))

    def _plan_instr(self, ins: _Instr):
        fixed = [(acc, self._df_plan(ins.disc, p)) for acc, p in ins.fixed]
        if ins.telescope:
            floats = [(self._df_plan(ins.curve, ins.floats[0][0]),
                       self._df_plan(ins.curve, ins.floats[-1][1]), None)]
        else:
            floats = [(self._df_plan(ins.curve, s), self._df_plan(ins.curve, e),
                       self._df_plan(ins.disc, p)) for s, e, p in ins.floats]
        return fixed, floats

    @staticmethod
    def _df(z, plan):
        iL, a, iR, b = plan
        return tape_df(a, z[iL], b, z[iR])

    def _par(self, z, k):
        fixed, floats = self._plan[k]
        ann = 0.0
        for acc, p in fixed:
            ann = ann + acc * self._df(z, p)
        flt = 0.0
        for s, e, p in floats:
            if p is None:        # telescoped single-curve float leg
                flt = flt + (self._df(z, s) - self._df(z, e))
            else:
                flt = flt + (self._df(z, s) / self._df(z, e) - 1.0) * self._df(z, p)
        return flt / ann

    def _residual_fn(self, **kw):
        z = [kw[n] for n in self.z_names]
        return {f"r{k}": self._par(z, k) - kw[self.q_names[k]] for k in range(self.n)}

    def residuals(self, zeros, quotes) -> np.ndarray:
        """Par rate minus quote for every quote (NumPy floats, no tape)."""
        z = [float(v) for v in zeros]
        return np.array([self._par(z, k) for k in range(self.n)]) - np.asarray(quotes, float)

    def _jac(self, zeros, quotes):
        """Residuals, dR/dz and dR/dq from ONE Program.grad call (one reverse sweep per output)."""
        inputs = {**dict(zip(self.z_names, map(float, zeros))),
                  **dict(zip(self.q_names, map(float, quotes)))}
        res = self.program.grad(inputs)
        outs = [f"r{k}" for k in range(self.n)]
        r = np.array([float(np.asarray(res.value[o]).ravel()[0]) for o in outs])
        Jz = np.array([[res.grad[o][n] for n in self.z_names] for o in outs])
        Jq = np.array([[res.grad[o][n] for n in self.q_names] for o in outs])
        return r, Jz, Jq

    def quotes(self) -> np.ndarray:
        """The quote rates of the specs, in label order."""
        return np.array([float(q.rate) for s in self.specs for q in s.quotes])

    def solve(self, quotes=None, *, tol=1e-15, max_iter=50) -> CurveSet:
        """Bootstrap: Newton per curve in build order, then the IFT Jacobian.

        Parameters
        ----------
        quotes : array (Q,), optional
            Quote rates in label order (default: the specs' rates).
        tol : float
            Stop when the largest residual (rate units) is below ``tol``, or
            below 1e-13 and no longer halving (the rounding floor, ~1e-15);
            a curve whose residual is still above 1e-12 after ``max_iter``
            steps raises :class:`BootstrapError`.
        """
        q = self.quotes() if quotes is None else np.asarray(quotes, dtype=np.float64)
        if q.shape != (self.n,):
            raise BootstrapError(f"expected {self.n} quotes, got shape {q.shape}")
        bad = [lab for lab, v in zip(self.quote_labels, q) if not math.isfinite(v)]
        if bad:
            raise BootstrapError(f"quote {bad[0]} is NaN/inf")
        z = q.copy()
        iters = 0
        for spec in self.specs:
            sl = self.offsets[spec.name]
            last = np.inf
            for it in range(max_iter):
                r, Jz, _ = self._jac(z, q)
                iters += 1
                rc = r[sl]
                err = float(np.max(np.abs(rc)))
                if not np.all(np.isfinite(rc)):
                    raise BootstrapError(f"curve {spec.name}: residuals became non-finite "
                                         "(check the quotes)")
                if err < tol or (err < 1e-13 and err >= 0.5 * last):
                    break   # converged, or at the rounding floor (no longer improving)
                last = err
                z[sl] -= np.linalg.solve(Jz[sl, sl], rc)
            else:
                worst = self.quote_labels[sl.start + int(np.argmax(np.abs(rc)))]
                if err > 1e-12:
                    raise BootstrapError(f"curve {spec.name}: Newton did not converge (largest "
                                         f"residual {err:.3g} at {worst})")
        r, Jz, Jq = self._jac(z, q)
        dzdq = -np.linalg.solve(Jz, Jq)
        curves = {s.name: YieldCurve(s.name, self.times[s.name], z[self.offsets[s.name]],
                                     s.method, self.pillar_labels[self.offsets[s.name]])
                  for s in self.specs}
        return CurveSet(self.valuation_date, curves, list(self.quote_labels),
                        list(self.pillar_labels), q, z, dict(self.offsets), dzdq, self, iters)


def bootstrap(specs, valuation_date: date, quotes=None) -> CurveSet:
    """Record, solve and differentiate a set of curves (see :class:`CurveBuilder`)."""
    return CurveBuilder(specs, valuation_date).solve(quotes)
