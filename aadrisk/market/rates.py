"""Fixed-float swaps and FRAs priced on the AAD tape, vectorised over a book.

Every trade is reduced (once, with NumPy and the date functions; nothing here
depends on rates) to two kinds of *slots*, padded to a common count per book:

* simple cashflows ``c * DF_d(t)`` -- fixed coupons ``-s N K tau_j`` and, when
  the float leg is forecast and discounted on the same curve, its telescoped
  form ``s N (DF(t_0) - DF(t_n))`` (two slots);
* float coupons ``c * (DF_f(t_s) / DF_f(t_e) - 1) * DF_d(t_p)`` with
  ``c = s N`` (dual curve: forecast ``f`` and discount ``d`` differ),

where ``s = +1`` for a payer (pays fixed) and ``-1`` for a receiver, ``N`` the
notional in currency units and ``K`` the fixed rate per year.  A FRA
``[t_s, t_e]`` on notional ``N`` paid at ``t_e`` is the one-period case
(``s = +1``: the FRA buyer receives the floating rate).  Padding slots have
``c = 0``.

Each discount factor is ``exp(-(a zL + b zR))`` with the pillar zeros gathered
per slot (see :mod:`aadrisk.market.curves`): the recorded program's inputs are
the per-trade arrays ``c``, ``a``, ``b`` (constants) and ``zL``, ``zR`` (the
active, gathered zeros).  One ``Program.grad`` call (one reverse sweep over the
book) gives ``dV/dzL``, ``dV/dzR`` per trade and slot; they are scattered onto
the pillars (``dV/dz``, value per 1.00 of zero rate) and chained with the
bootstrap's IFT Jacobian into par-quote deltas ``dV/dq = dV/dz . dz/dq``
(value per 1.00 of par rate; multiply by 1e-4 for per basis point).

Conventions: as the curves' (:mod:`aadrisk.market.bootstrap`): no fixing lag,
no payment lag unless the swap has ``payment_lag`` (business days; then the
float leg is not telescoped), float forward and accrual on the float day count,
schedules backward from the unadjusted end (end-of-month rule with ``eom``),
times Act/365F from the valuation date.
A trade's start may be after the valuation date (forward start) but not before.

Examples
--------
>>> from datetime import date
>>> from aadrisk.market.bootstrap import Conventions, CurveSpec, Quote, bootstrap
>>> cs = bootstrap([CurveSpec("USD", [Quote("depo", "6M", 0.05), Quote("swap", "2Y", 0.045),
...                                   Quote("swap", "5Y", 0.04)])], date(2024, 1, 15))
>>> sw = Swap("T1", "5Y", fixed_rate=0.04, notional=1e6, payer=True)
>>> r = risk_swaps([sw], cs)
>>> abs(float(r.prices["price"].iloc[0])) < 1e-6      # at par: worth zero
True
>>> r.greeks[["trade", "label", "unit"]].iloc[2].tolist()
['T1', 'curve/USD/swap/5Y', 'ccy per 1.00 rate']
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from .._lazy import pandas as pd

from .. import math as am
from .. import record
from .curves import interp_coeffs_dt, scatter_pillars, tape_df
from .dates import (add_business_days, add_tenor, adjust, end_of_month, is_end_of_month,
                    parse_tenor, schedule, year_fraction)

__all__ = ["Swap", "FRA", "PreparedBook", "prepare_book", "price_book", "risk_swaps",
           "RatesRisk", "make_slot_pricer", "fair_rates", "swap_end"]


@dataclass(frozen=True)
class Swap:
    """A fixed-float swap.

    ``tenor`` from ``start`` (default the valuation date); ``fixed_rate`` per
    year; ``notional`` in currency units; ``payer`` True pays fixed.  Fixed leg
    every ``fixed_tenor`` on ``fixed_dc``, float leg every ``float_tenor`` on
    ``float_dc``; dates adjusted by ``convention`` with weekends and
    ``holidays``.  ``forecast`` / ``discount`` name curves of the curve set
    (default: the set's only curve, or its last curve for forecasting and its
    first for discounting).  ``payment_lag``: coupons are paid that many business
    days after their period end (the float rate still accrues over the period);
    ``eom``: end-of-month rule for the end date and both schedules (QuantLib
    ``endOfMonth``).
    """

    trade_id: str
    tenor: str
    fixed_rate: float
    notional: float
    payer: bool = True
    start: date | None = None
    fixed_tenor: str = "1Y"
    fixed_dc: str = "30/360"
    float_tenor: str = "3M"
    float_dc: str = "ACT/360"
    convention: str = "MF"
    holidays: frozenset = frozenset()
    forecast: str | None = None
    discount: str | None = None
    payment_lag: int = 0
    eom: bool = False


@dataclass(frozen=True)
class FRA:
    """A forward rate agreement ``'AxB'`` (months from the valuation date), settled at
    the end date ``e``: value ``s N (F - K) tau DF_d(e)``, ``s = +1`` if ``payer``
    (pays the fixed ``rate``)."""

    trade_id: str
    tenor: str
    rate: float
    notional: float
    payer: bool = True
    day_count: str = "ACT/360"
    convention: str = "MF"
    holidays: frozenset = frozenset()
    forecast: str | None = None
    discount: str | None = None


def _legs(tr, val: date, fc: str, dc: str):
    """(simple slots [(amount, curve, date)], float slots [(amount, fcurve, s, e, dcurve, p)])."""
    s = 1.0 if tr.payer else -1.0
    N = float(tr.notional)
    if isinstance(tr, FRA):
        parts = str(tr.tenor).lower().split("x")
        if len(parts) != 2 or not all(p.isdigit() for p in parts) or int(parts[0]) >= int(parts[1]):
            raise ValueError(f"trade {tr.trade_id}: FRA tenor must be 'AxB' in months with "
                             f"A < B, got {tr.tenor!r}")
        a, b = int(parts[0]), int(parts[1])
        st = adjust(add_tenor(val, f"{a}M"), tr.convention, tr.holidays)
        en = adjust(add_tenor(st, f"{b - a}M"), tr.convention, tr.holidays)
        tau = year_fraction(st, en, tr.day_count)
        return [(-s * N * float(tr.rate) * tau, dc, en)], [(s * N, fc, st, en, dc, en)]
    start = tr.start or val
    if start < val:
        raise ValueError(f"trade {tr.trade_id}: start {start} is before the valuation date")
    end = swap_end(start, tr.tenor, tr.eom, tr.holidays)
    lag = int(getattr(tr, "payment_lag", 0))
    eom = bool(getattr(tr, "eom", False))

    def pay(d):
        return add_business_days(d, lag, tr.holidays)
    fx = schedule(start, end, tr.fixed_tenor, tr.convention, tr.holidays, eom=eom)
    simple = [(-s * N * float(tr.fixed_rate) * year_fraction(d0, d1, tr.fixed_dc), dc, pay(d1))
              for d0, d1 in zip(fx[:-1], fx[1:])]
    fl = schedule(start, end, tr.float_tenor, tr.convention, tr.holidays, eom=eom)
    if fc == dc and lag == 0:   # single curve, no lag: the float leg telescopes
        return simple + [(s * N, dc, fl[0]), (-s * N, dc, fl[-1])], []
    return simple, [(s * N, fc, d0, d1, dc, pay(d1)) for d0, d1 in zip(fl[:-1], fl[1:])]


def swap_end(start: date, tenor: str, eom: bool = False, holidays=frozenset()) -> date:
    """Unadjusted end of a swap of ``tenor`` from ``start``; with the end-of-month rule a
    start on (or after) its month's last business day ends on the last business day of
    the end month (QuantLib ``Calendar::advance(..., endOfMonth=True)``)."""
    end = add_tenor(start, tenor)
    if eom and parse_tenor(tenor)[1] in ("M", "Y") and is_end_of_month(start, holidays):
        end = end_of_month(end, holidays)
    return end


@dataclass
class PreparedBook:
    """Rate-independent layout of a book on a curve set's pillars (see module notes).

    ``c``: (n, J) simple amounts; ``si``: (n, J, 2) global pillar indices,
    ``sa``: (n, J, 2) coefficients; ``fc``, ``fi`` (n, K, 3, 2), ``fa`` likewise
    for float slots (forecast start, forecast end, discount).
    """

    trade_ids: list
    c: np.ndarray
    si: np.ndarray
    sa: np.ndarray
    fc: np.ndarray
    fi: np.ndarray
    fa: np.ndarray
    n_pillars: int
    fixed_mask: np.ndarray = None
    program: object = None
    names: dict = field(default_factory=dict)
    #: d(coefficient)/d(cashflow time), shaped like ``sa`` / ``fa`` (theta)
    sd: np.ndarray = None
    fd: np.ndarray = None


def _time(curve_set, d):
    """Act/365F years from the curve set's valuation date to ``d`` (minus its ``time_shift``)."""
    return (d - curve_set.valuation_date).days / 365.0 - curve_set.time_shift


def _coeffs_dt(curve_set, curve, dates_):
    """Global pillar indices (m, 2), coefficients (m, 2) of ``-log DF`` and their
    derivatives in the cashflow time (m, 2) for cashflows paid on ``dates_``."""
    t = np.array([_time(curve_set, d) for d in dates_])
    cv = curve_set.curves[curve]
    iL, iR, a, b, a1, b1, _, _ = interp_coeffs_dt(cv.times, t, cv.method)
    off = curve_set.offsets[curve].start
    return (np.stack([iL + off, iR + off], -1), np.stack([a, b], -1),
            np.stack([a1, b1], -1))


def _coeffs(curve_set, curve, dates_):
    return _coeffs_dt(curve_set, curve, dates_)[:2]


_PROGRAMS: dict = {}


def make_slot_pricer(J: int, K: int):
    """The book pricer for ``J`` simple and ``K`` float slots, and its input names.

    Returns ``(fn, names)``: ``fn(**inputs)`` is a pure function of keyword
    inputs ``c{j}, a{j}, b{j}, zl{j}, zr{j}`` (simple slot ``j``) and
    ``fc{k}`` plus ``{s,e,p}a{k}, {s,e,p}b{k}, {s,e,p}zl{k}, {s,e,p}zr{k}``
    (float slot ``k``), working on NumPy arrays and tape values alike.

    Examples
    --------
    >>> fn, names = make_slot_pricer(1, 0)
    >>> round(float(fn(c0=100.0, a0=1.0, b0=0.0, zl0=0.05, zr0=0.0)), 6)
    95.122942
    """
    names = [f"{p}{j}" for j in range(J) for p in ("c", "a", "b", "zl", "zr")]
    names += [f"fc{k}" for k in range(K)]
    names += [f"{w}{p}{k}" for k in range(K) for w in "sep" for p in ("a", "b", "zl", "zr")]

    def slot_pv(**kw):
        pv = 0.0
        for j in range(J):
            pv = pv + kw[f"c{j}"] * tape_df(kw[f"a{j}"], kw[f"zl{j}"], kw[f"b{j}"], kw[f"zr{j}"])
        for k in range(K):
            d = {w: tape_df(kw[f"{w}a{k}"], kw[f"{w}zl{k}"], kw[f"{w}b{k}"], kw[f"{w}zr{k}"])
                 for w in "sep"}
            pv = pv + kw[f"fc{k}"] * (d["s"] / d["e"] - 1.0) * d["p"]
        return pv

    return slot_pv, names


def _program(J, K):
    key = (J, K)
    if key not in _PROGRAMS:
        fn, names = make_slot_pricer(J, K)
        _PROGRAMS[key] = (record(fn, inputs=names, name=f"rates book J={J} K={K}"), names)
    return _PROGRAMS[key]


def prepare_book(book, curve_set) -> PreparedBook:
    """Schedules, slot amounts and interpolation coefficients of a book (once per book
    and curve-set structure; independent of rates)."""
    book = list(book)
    names = list(curve_set.curves)
    val = curve_set.valuation_date
    per = []
    for tr in book:
        fc = tr.forecast or names[-1]
        dc = tr.discount or names[0]
        for cname in (fc, dc):
            if cname not in curve_set.curves:
                raise ValueError(f"trade {tr.trade_id}: curve {cname!r} is not in the curve set "
                                 f"{names}")
        per.append(_legs(tr, val, fc, dc))
    n = len(per)
    J = max([len(s) for s, _ in per] + [1])
    K = max(len(f) for _, f in per)
    c = np.zeros((n, J))
    si = np.zeros((n, J, 2), dtype=np.int64)
    sa = np.zeros((n, J, 2))
    fcs = np.zeros((n, K))
    fi = np.zeros((n, K, 3, 2), dtype=np.int64)
    fa = np.zeros((n, K, 3, 2))
    sd, fd = np.zeros_like(sa), np.zeros_like(fa)
    fmask = np.zeros((n, J), dtype=bool)
    req_s, req_f = {}, {}     # curve -> [(trade, slot[, which]), ...] and dates
    for e, (simple, flt) in enumerate(per):
        for j, x in enumerate(simple):
            req_s.setdefault(x[1], ([], []))
            req_s[x[1]][0].append((e, j))
            req_s[x[1]][1].append(x[2])
        c[e, :len(simple)] = [x[0] for x in simple]
        fmask[e, :len(simple) - (2 if not flt and not isinstance(book[e], FRA) else 0)] = True
        for k, (amt, fcur, s, en, dcur, p) in enumerate(flt):
            fcs[e, k] = amt
            for w, (cur, d) in enumerate(((fcur, s), (fcur, en), (dcur, p))):
                req_f.setdefault(cur, ([], []))
                req_f[cur][0].append((e, k, w))
                req_f[cur][1].append(d)
    for cname, (pos, ds) in req_s.items():       # one interpolation call per curve
        idx, co, sl = _coeffs_dt(curve_set, cname, ds)
        ee, jj = np.array(pos).T
        si[ee, jj], sa[ee, jj], sd[ee, jj] = idx, co, sl
    for cname, (pos, ds) in req_f.items():
        idx, co, sl = _coeffs_dt(curve_set, cname, ds)
        ee, kk, ww = np.array(pos).T
        fi[ee, kk, ww], fa[ee, kk, ww], fd[ee, kk, ww] = idx, co, sl
    prog, pnames = _program(J, K)
    return PreparedBook([tr.trade_id for tr in book], c, si, sa, fcs, fi, fa,
                        len(curve_set.zeros), fmask, prog, {"names": pnames, "J": J, "K": K},
                        sd, fd)


def _inputs(pb: PreparedBook, z):
    z = np.asarray(z, dtype=np.float64)
    inp = {}
    J, K = pb.names["J"], pb.names["K"]
    zs = z[pb.si]
    for j in range(J):
        inp[f"c{j}"] = pb.c[:, j]
        inp[f"a{j}"], inp[f"b{j}"] = pb.sa[:, j, 0], pb.sa[:, j, 1]
        inp[f"zl{j}"], inp[f"zr{j}"] = zs[:, j, 0], zs[:, j, 1]
    if K:
        zf = z[pb.fi]
        for k in range(K):
            inp[f"fc{k}"] = pb.fc[:, k]
            for w, ch in enumerate("sep"):
                inp[f"{ch}a{k}"], inp[f"{ch}b{k}"] = pb.fa[:, k, w, 0], pb.fa[:, k, w, 1]
                inp[f"{ch}zl{k}"], inp[f"{ch}zr{k}"] = zf[:, k, w, 0], zf[:, k, w, 1]
    return inp


def price_book(pb: PreparedBook, zeros) -> np.ndarray:
    """Present values of the prepared trades (currency units) at pillar ``zeros``."""
    return pb.program.value(_inputs(pb, zeros)).value


def slot_theta(pb: PreparedBook, grad) -> np.ndarray:
    """``dV/dt`` (t the valuation date, years) from the gradients of the slot coefficients:
    every cashflow time falls by dt, the pillar zeros are held (the curve in time to
    maturity): ``-sum (dV/da da/dT + dV/db db/dT)`` over the slots."""
    J, K = pb.names["J"], pb.names["K"]
    out = 0.0
    for j in range(J):
        out = out - grad[f"a{j}"] * pb.sd[:, j, 0] - grad[f"b{j}"] * pb.sd[:, j, 1]
    for k in range(K):
        for w, ch in enumerate("sep"):
            out = out - grad[f"{ch}a{k}"] * pb.fd[:, k, w, 0] \
                - grad[f"{ch}b{k}"] * pb.fd[:, k, w, 1]
    return np.broadcast_to(np.asarray(out, dtype=float), (len(pb.trade_ids),)).copy()


def coeff_names(pb: PreparedBook) -> list:
    """Input names of the slot coefficients (``a{j}``, ``b{j}``, ``{s,e,p}{a,b}{k}``)."""
    J, K = pb.names["J"], pb.names["K"]
    return [f"{p}{j}" for j in range(J) for p in "ab"] + \
        [f"{ch}{p}{k}" for k in range(K) for ch in "sep" for p in "ab"]


def zero_deltas(pb: PreparedBook, zeros, theta: bool = False):
    """``(prices (n,), dV/dz (n, P))`` from one reverse sweep; dV/dz per 1.00 of zero rate.
    With ``theta``: ``(prices, dV/dz, dV/dt)`` from the same sweep (:func:`slot_theta`)."""
    inp = _inputs(pb, zeros)
    J, K = pb.names["J"], pb.names["K"]
    wrt = [f"z{s}{j}" for j in range(J) for s in "lr"]
    wrt += [f"{ch}z{s}{k}" for k in range(K) for ch in "sep" for s in "lr"]
    if theta:
        wrt += coeff_names(pb)
    res = pb.program.grad(inp, wrt=wrt)
    n = len(pb.trade_ids)
    rows = np.arange(n)[:, None]
    g = np.stack([np.stack([res.grad[f"zl{j}"], res.grad[f"zr{j}"]], -1) for j in range(J)], 1)
    out = scatter_pillars(n, pb.n_pillars, np.broadcast_to(rows[:, :, None], pb.si.shape),
                          pb.si, g)
    if K:
        gf = np.stack([np.stack([np.stack([res.grad[f"{ch}zl{k}"], res.grad[f"{ch}zr{k}"]], -1)
                                 for ch in "sep"], 1) for k in range(K)], 1)
        scatter_pillars(n, pb.n_pillars, np.broadcast_to(rows[:, :, None, None], pb.fi.shape),
                        pb.fi, gf, out=out)
    if theta:
        return res.value, out, slot_theta(pb, res.grad)
    return res.value, out


def fair_rates(book, curve_set, pb: PreparedBook | None = None) -> np.ndarray:
    """Par (fair) fixed rates of swaps / FRAs at the curve set's zeros, per year (NumPy).

    ``V`` is linear in the fixed rate ``K``: ``fair = K - V / (dV/dK)`` with
    ``dV/dK = (fixed-leg value) / K``.
    """
    pb = pb or prepare_book(book, curve_set)
    fn, _ = make_slot_pricer(pb.names["J"], pb.names["K"])
    inp = _inputs(pb, curve_set.zeros)
    v = fn(**inp)
    K = np.array([float(getattr(t, "fixed_rate", getattr(t, "rate", 0.0))) for t in book])
    if np.any(K == 0.0):
        raise ValueError("fair_rates needs non-zero fixed rates")
    fixed_pv = fn(**{**inp, **{f"c{j}": np.where(pb.fixed_mask[:, j], pb.c[:, j], 0.0)
                               for j in range(pb.names["J"])},
                     **{f"fc{k}": np.zeros(len(book)) for k in range(pb.names["K"])}})
    return K - v * K / fixed_pv


@dataclass
class RatesRisk:
    """Prices and Greeks of a rates book.

    ``prices``: DataFrame (trade, price) in currency units; ``greeks``: long
    DataFrame (trade, label, value, unit) of par-quote deltas, value per 1.00
    of rate; ``dv_dq`` (n, Q) and ``dv_dz`` (n, P) the same as arrays.
    """

    prices: pd.DataFrame
    greeks: pd.DataFrame
    dv_dq: np.ndarray
    dv_dz: np.ndarray
    quote_labels: list
    pillar_labels: list

    def zero_greeks(self) -> pd.DataFrame:
        """Zero-rate deltas as a long DataFrame (labels ``'zero/<CURVE>/<tenor>'``)."""
        return _long(self.prices["trade"].tolist(), self.pillar_labels, self.dv_dz)


def _long(trades, labels, M):
    n, q = M.shape
    return pd.DataFrame({"trade": np.repeat(np.asarray(trades, dtype=object), q),
                         "label": np.tile(np.asarray(labels, dtype=object), n),
                         "value": M.ravel(), "unit": "ccy per 1.00 rate"})


def risk_swaps(book, curve_set, pb: PreparedBook | None = None) -> RatesRisk:
    """Prices and labelled par-quote deltas of a book of swaps / FRAs.

    One reverse sweep over the book gives ``dV/dz``; the bootstrap's IFT
    Jacobian turns it into ``dV/dq`` for every quote label.  Pass a
    :class:`PreparedBook` to skip schedule generation on repeated calls.
    """
    pb = pb or prepare_book(book, curve_set)
    v, dvdz = zero_deltas(pb, curve_set.zeros)
    dvdq = curve_set.par_sensitivities(dvdz)
    prices = pd.DataFrame({"trade": pb.trade_ids, "price": v})
    return RatesRisk(prices, _long(pb.trade_ids, curve_set.quote_labels, dvdq), dvdq, dvdz,
                     list(curve_set.quote_labels), list(curve_set.pillar_labels))
