"""Fixed-coupon bullet bonds: curve prices, accrued interest, yield to maturity, DV01 and
par-quote deltas on the AAD tape.

A :class:`FixedRateBond` accrues ``coupon`` (per year) on ``day_count`` over
the periods of ``schedule(issue, maturity, frequency, convention)`` (backward
from maturity, default unadjusted accrual dates), each coupon paid at the
period end adjusted by ``payment_convention``; the face is redeemed at the
adjusted maturity.  Settlement is the valuation date (no settlement lag); a
cashflow paid on or before it is not included (QuantLib with
``includeSettlementDateFlows=False``).  Prices are per 100 of face:

* dirty price from the curve ``100 / N sum_i CF_i DF(pay_i)`` (``DF`` the
  discount curve, Act/365F from the valuation date); the present value
  ``pv = N dirty / 100`` in currency units is what the tape differentiates;
* accrued interest ``100 c yf(accrual start, settlement)`` of the current
  coupon (zero on its start date), clean price ``dirty - accrued``;
* yield ``y`` compounded ``f`` times a year (``f = 12 / months(frequency)``)
  with ``dirty(y) = 100 / N sum_i CF_i (1 + y / f)^(-f T_i)``, where ``T_i``
  is accumulated period by period on the yield day count exactly as
  QuantLib's ``CashFlows::npv`` with an ``InterestRate`` (``T`` of the first
  coupon ``yf(start, pay) - yf(start, settlement)``, then ``yf(previous pay,
  pay)``); solved by Newton to 1e-14;
* DV01 ``-d dirty(y) / dy * 1e-4 * N / 100``: currency per 1 bp of yield
  (column ``dv01_ccy_per_bp``; positive for a long bond), from the reverse
  sweep of the recorded price-from-yield program; ``mod_duration =
  -(d dirty / dy) / dirty`` in years.

Par-quote deltas of ``pv`` (currency per 1.00 of rate, labels
``'curve/<CURVE>/<kind>/<tenor>'``) use the slot pricer of
:mod:`aadrisk.market.rates` (cashflows padded to a common count, pillar zeros
gathered per slot, one reverse sweep, scatter, IFT chain ``dV/dz . dz/dq``).

Examples
--------
>>> from datetime import date
>>> from aadrisk.market.bootstrap import CurveSpec, Quote, bootstrap
>>> cs = bootstrap([CurveSpec("USD", [Quote("depo", "6M", 0.05), Quote("swap", "2Y", 0.045),
...                                   Quote("swap", "5Y", 0.04)])], date(2024, 1, 15))
>>> b = FixedRateBond("B1", date(2022, 3, 1), date(2029, 3, 1), coupon=0.035, notional=1e6)
>>> r = risk_bonds([b], cs)
>>> r.prices[["dirty", "clean", "accrued"]].round(6).iloc[0].tolist()
[99.238162, 97.935385, 1.302778]
>>> round(float(price_from_yield(b, cs.valuation_date, r.prices["yield"].iloc[0])), 8)
99.23816235
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
from .._lazy import pandas as pd

from .. import math as am
from .. import record
from ..tape.custom import custom_derivative
from .dates import adjust, parse_tenor, schedule, year_fraction
from .rates import PreparedBook, RatesRisk, _coeffs_dt, _long, _program, zero_deltas

__all__ = ["FixedRateBond", "BondRisk", "bond_cashflows", "price_from_yield", "bond_yield",
           "tape_yield", "risk_bonds"]


@dataclass(frozen=True)
class FixedRateBond:
    """A fixed-coupon bullet bond.

    ``issue`` and ``maturity`` dates (accrual schedule anchor and end);
    ``coupon`` per year; ``notional`` face in currency units; coupons every
    ``frequency`` (``'6M'``, ``'1Y'``...) on ``day_count`` (``'30/360'``,
    ``'ACT/360'``, ``'ACT/365F'``); accrual dates adjusted by ``convention``
    (default ``'U'``), payments by ``payment_convention`` (default ``'F'``)
    with weekends and ``holidays``; ``discount`` a curve of the set (default
    its first); ``eom``: end-of-month rule for the coupon schedule (a maturity on a
    month end pays on month ends; QuantLib ``Schedule(..., endOfMonth=True)``).
    """

    trade_id: str
    issue: date
    maturity: date
    coupon: float
    notional: float = 100.0
    frequency: str = "6M"
    day_count: str = "30/360"
    convention: str = "U"
    payment_convention: str = "F"
    holidays: frozenset = frozenset()
    discount: str | None = None
    eom: bool = False


def _freq(bond):
    n, unit = parse_tenor(bond.frequency)
    months = {"M": n, "Y": 12 * n}.get(unit)
    if not months or 12 % months:
        raise ValueError(f"bond {bond.trade_id}: frequency must divide a year in months, got "
                         f"{bond.frequency!r}")
    return 12.0 / months


def bond_cashflows(bond: FixedRateBond, settlement: date):
    """Future cashflows of a bond at ``settlement``, per 100 of face.

    Returns
    -------
    pay : list of date
        Payment dates after ``settlement`` (coupons, then the redemption).
    cf : array
        Amounts per 100 of face.
    T : array
        Yield times in years on the bond's day count, accumulated period by
        period (see the module notes).
    accrued : float
        Accrued interest at ``settlement`` per 100 of face.

    Examples
    --------
    >>> b = FixedRateBond("B", date(2023, 1, 15), date(2025, 1, 15), 0.04)
    >>> pay, cf, T, acc = bond_cashflows(b, date(2024, 3, 15))
    >>> [str(d) for d in pay], cf.tolist()
    (['2024-07-15', '2025-01-15', '2025-01-15'], [2.0, 2.0, 100.0])
    >>> T.round(6).tolist(), round(acc, 6)
    ([0.333333, 0.833333, 0.833333], 0.666667)
    """
    if bond.maturity <= settlement:
        raise ValueError(f"bond {bond.trade_id}: matured on {bond.maturity}")
    if bond.issue >= bond.maturity:
        raise ValueError(f"bond {bond.trade_id}: issue {bond.issue} is not before maturity")
    _freq(bond)
    sch = schedule(bond.issue, bond.maturity, bond.frequency, bond.convention, bond.holidays,
                   eom=bond.eom)
    dc, c = bond.day_count, float(bond.coupon)
    pay, cf, T, acc = [], [], [], 0.0
    last, tacc = settlement, 0.0
    for s, e in zip(sch[:-1], sch[1:]):
        p = adjust(e, bond.payment_convention, bond.holidays)
        if p <= settlement:
            continue
        if not pay and s < settlement:   # the next coupon accrues (QuantLib accruedAmount)
            acc = 100.0 * c * year_fraction(s, min(settlement, e), dc)
        if last != s:
            dt = year_fraction(s, p, dc) - year_fraction(s, last, dc)
        else:
            dt = year_fraction(last, p, dc)
        tacc += dt
        pay.append(p)
        cf.append(100.0 * c * year_fraction(s, e, dc))
        T.append(tacc)
        last = p
    red = adjust(sch[-1], bond.payment_convention, bond.holidays)
    tacc += year_fraction(last, red, dc)
    pay.append(red)
    cf.append(100.0)
    T.append(tacc)
    return pay, np.array(cf), np.array(T), acc


def _yield_fn(J):
    def fn(**kw):
        g = am.log(1.0 + kw["y"] / kw["f"]) * kw["f"]
        pv = 0.0
        for j in range(J):
            pv = pv + kw[f"cf{j}"] * am.exp(-g * kw[f"T{j}"])
        return pv
    return fn, ["y", "f"] + [f"{p}{j}" for j in range(J) for p in ("cf", "T")]


_YPROG: dict = {}


def _yield_layout(bonds, settlement):
    rows = [bond_cashflows(b, settlement) for b in bonds]
    J = max(len(r[1]) for r in rows)
    cf, T = np.zeros((len(bonds), J)), np.zeros((len(bonds), J))
    for i, r in enumerate(rows):
        cf[i, :len(r[1])], T[i, :len(r[2])] = r[1], r[2]
    f = np.array([_freq(b) for b in bonds])
    return rows, J, {"f": f, **{f"cf{j}": cf[:, j] for j in range(J)},
                     **{f"T{j}": T[:, j] for j in range(J)}}


def _dirty_and_dy(J, inp, y):
    if J not in _YPROG:
        fn, names = _yield_fn(J)
        _YPROG[J] = record(fn, inputs=names, name=f"bond price from yield J={J}")
    res = _YPROG[J].grad({**inp, "y": np.asarray(y, dtype=np.float64)}, wrt=["y"])
    return res.value, res.grad["y"]


def price_from_yield(bond, settlement: date, y, clean=False):
    """Dirty (or clean) price per 100 of face at yield ``y`` (per year, compounded at
    the coupon frequency, on the bond's day count); NumPy.

    Examples
    --------
    >>> b = FixedRateBond("B", date(2023, 1, 15), date(2025, 1, 15), 0.04)
    >>> round(float(price_from_yield(b, date(2024, 1, 15), 0.04)), 12)
    100.0
    """
    _, cf, T, acc = bond_cashflows(bond, settlement)
    f = _freq(bond)
    dirty = float(np.sum(cf * (1.0 + y / f) ** (-f * T)))
    return dirty - acc if clean else dirty


def bond_yield(bonds, settlement: date, price, clean=True, tol=1e-14, max_iter=50):
    """Yields to maturity (per year, compounded at the coupon frequency) of ``bonds`` at
    ``price`` per 100 of face (clean by default): vectorised Newton on the recorded
    price-from-yield program (derivative from its reverse sweep).

    Examples
    --------
    >>> b = FixedRateBond("B", date(2023, 1, 15), date(2028, 1, 15), 0.05, frequency="1Y",
    ...                   payment_convention="U")
    >>> round(float(bond_yield([b], date(2024, 1, 15), [100.0])[0]), 12)
    0.05
    """
    bonds = list(bonds)
    rows, J, inp = _yield_layout(bonds, settlement)
    target = np.asarray(price, dtype=np.float64) + \
        (np.array([r[3] for r in rows]) if clean else 0.0)
    y = np.array([float(b.coupon) for b in bonds])
    for _ in range(max_iter):
        p, dp = _dirty_and_dy(J, inp, y)
        step = (p - target) / dp
        y = y - step
        if np.max(np.abs(step)) < tol:
            return y
    raise ValueError(f"bond yield did not converge (last step {np.max(np.abs(step)):.3g})")


def tape_yield(dirty, cf, T, f, guess=0.05, n_iter=12):
    """Yield (per year, compounded ``f`` times a year) of a dirty price, for use inside a
    recorded program: a Newton solve unrolled ``n_iter`` times on the stopped price
    (no derivative through the iterations), given its derivative by the implicit
    function theorem with :func:`~aadrisk.tape.custom.custom_derivative`:
    ``dy/d dirty = 1 / (d dirty / dy)`` (first and second order).

    Parameters
    ----------
    dirty : Var or float
        Dirty price, in the units of ``cf`` (e.g. per 100 of face).
    cf, T : sequences of floats (or per-element inputs)
        Cashflow amounts and their yield times in years (:func:`bond_cashflows`).
    f : float
        Compounding frequency per year.

    Examples
    --------
    >>> import aadrisk as ad
    >>> prog = ad.record(lambda *, p: tape_yield(p, [5.0, 100.0], [1.0, 1.0], 1.0))
    >>> res = prog.grad({"p": 100.0})
    >>> round(float(res.value[0]), 12), round(float(res.grad["p"]), 12)
    (0.05, -0.0105)
    """
    def price_and_slope(y):
        g = am.log(1.0 + y / f) * f
        p, dp = 0.0, 0.0
        for c, t in zip(cf, T):
            x = c * am.exp(-g * t)
            p, dp = p + x, dp - t * x
        return p, dp / (1.0 + y / f)

    target = am.stop_gradient(dirty)
    y = guess + 0.0 * target
    for _ in range(n_iter):
        p, dp = price_and_slope(y)
        y = y - (p - target) / dp
    return custom_derivative(y, [dirty], lambda args, yy: [1.0 / price_and_slope(yy)[1]])


@dataclass
class BondRisk(RatesRisk):
    """:class:`~aadrisk.market.rates.RatesRisk` of a bond book: ``prices`` has columns
    trade, dirty, clean, accrued (per 100 face), pv (currency), yield (per year),
    mod_duration (years) and dv01_ccy_per_bp; ``greeks`` the par-quote deltas of pv;
    ``theta`` (n,) dV/dt of pv (currency per year; valuation date moving forward with the
    curve held in time to maturity and no coupon paid)."""

    theta: np.ndarray = None


def risk_bonds(bonds, curve_set) -> BondRisk:
    """Curve prices, yields, DV01 and par-quote deltas of a book of fixed-rate bonds.

    Returns
    -------
    BondRisk
        ``prices`` (see :class:`BondRisk`), ``greeks`` long frame
        (trade, label, value, unit 'ccy per 1.00 rate'), ``dv_dq`` (n, Q),
        ``dv_dz`` (n, P).
    """
    bonds = list(bonds)
    val = curve_set.valuation_date
    names = list(curve_set.curves)
    rows, J, yinp = _yield_layout(bonds, val)
    n = len(bonds)
    c = np.zeros((n, J))
    si = np.zeros((n, J, 2), dtype=np.int64)
    sa = np.zeros((n, J, 2))
    sd = np.zeros((n, J, 2))
    for i, (b, (pay, cf, _, _)) in enumerate(zip(bonds, rows)):
        cur = b.discount or names[0]
        if cur not in curve_set.curves:
            raise ValueError(f"bond {b.trade_id}: curve {cur!r} is not in the curve set {names}")
        c[i, :len(cf)] = cf * float(b.notional) / 100.0
        si[i, :len(cf)], sa[i, :len(cf)], sd[i, :len(cf)] = _coeffs_dt(curve_set, cur, pay)
    prog, pnames = _program(J, 0)
    pb = PreparedBook([b.trade_id for b in bonds], c, si, sa, np.zeros((n, 0)),
                      np.zeros((n, 0, 3, 2), dtype=np.int64), np.zeros((n, 0, 3, 2)),
                      len(curve_set.zeros), np.ones((n, J), dtype=bool), prog,
                      {"names": pnames, "J": J, "K": 0}, sd, np.zeros((n, 0, 3, 2)))
    pv, dvdz, theta = zero_deltas(pb, curve_set.zeros, theta=True)
    N = np.array([float(b.notional) for b in bonds])
    dirty = pv * 100.0 / N
    acc = np.array([r[3] for r in rows])
    y = bond_yield(bonds, val, dirty, clean=False)
    _, dp = _dirty_and_dy(J, yinp, y)
    dvdq = curve_set.par_sensitivities(dvdz)
    prices = pd.DataFrame({"trade": pb.trade_ids, "dirty": dirty, "clean": dirty - acc,
                           "accrued": acc, "pv": pv, "yield": y, "mod_duration": -dp / dirty,
                           "dv01_ccy_per_bp": -dp * 1e-4 * N / 100.0})
    return BondRisk(prices, _long(pb.trade_ids, curve_set.quote_labels, dvdq), dvdq, dvdz,
                    list(curve_set.quote_labels), list(curve_set.pillar_labels), theta)
