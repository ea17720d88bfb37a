"""Bermudan (and European) swaptions under Hull-White 1F by Monte Carlo: product
``bermudan_swaption`` (model ``hull_white_mc``; see :mod:`aadrisk.risk.registry`).

Trade
-----
At the first exercise date ``expiry`` (a tenor from the valuation date, adjusted as the
``swaption`` product's) starts a ``tenor`` swap paying (``payer``) or receiving the fixed
``strike`` every ``fixed_tenor`` on ``fixed_dc``.  A Bermudan (``exercise: bermudan``)
may be exercised on every fixed-leg period start, entering the remaining swap (a
co-terminal ``expiry x tenor`` Bermudan); a European (``exercise: european``) only at
``expiry``.  Exercise settles physically on the date itself (no notice lag, no payment
lag).  Schedule conventions a trade does not give (``fixed_tenor``, ``fixed_dc``,
business-day ``convention``) are its discount curve's ``conventions``, as for the
other rates products.

Model
-----
**Single curve.**  Hull-White 1F (:class:`aadrisk.mc.rates.HullWhite`, exact
simulation on the grid of the fixed-leg dates; times Act/365F from the valuation date,
the curves' time axis) is fitted to the currency's discount curve
(``discount_curves.<CCY>``), and the floating leg is worth par on that curve: for a
currency whose swaps float on a separate forecast curve (EUR: EURIBOR-6M on ESTR) the
basis is ignored.  Parameters ``a``, ``sigma`` from the market's
``models.hull_white.<CCY>`` (labels ``model/hull_white/<CCY>/a`` and ``.../sigma``;
``aadrisk calibrate hull-white`` writes them).

Price: Longstaff-Schwartz (:class:`aadrisk.mc.rates.BermudanSwaption`): the
continuation value is regressed on ``1, x, x^2`` on a pre-simulation with seed
``seed + 1``, then the rule is held fixed on ``paths`` fresh paths with ``seed``;
the price carries its standard error (LSM is low-biased by its sub-optimal rule).

Greeks (each with its standard error): pathwise derivatives with the exercise rule
held fixed (by the envelope theorem the first-order Greeks of the optimal rule): every
par quote of the discount curve (greek ``par``, the curve's own quote labels), the
pillar zeros (``zero_rows``) and the model parameters (greek ``model``).  The per-step
rates are built on the tape from the curve's quote shifts through the bootstrap's IFT
Jacobian (as for ``mc_option``), so the quote labels are program inputs and their
Greeks come out of the one reverse sweep.  No theta yet.

Trades on the same currency, dates, accruals, exercise style, paths and seed share
their paths (one program, up to eight trades per reverse sweep); prices are per unit
``quantity``: the PV of ``notional`` in the currency.
"""
from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from typing import ClassVar

import numpy as np

from ...market.dates import add_tenor, adjust, schedule, year_fraction
from ...market.rates import swap_end
from ...market.snapshot import MarketData
from ...mc import MonteCarlo
from ...mc.rates import BermudanSwaption, HullWhite
from .. import _validate as v
from ..errors import TradeError
from ..registry import Evaluation, ProductEngine, Rows, register_engine
from .mc import MC_BLOCK, _choice, _count, _rate_table
from .rates import (_RatesInstrument, _bool, _conventions, _convention, _day_count, _frequency,
                    _opt, _tenor, resolve_curves)

__all__ = ["BermudanSwaptionTrade", "HW_PARAMS", "MAX_PERIODS", "exercise_rules",
           "price_with_rules", "trade_schedule"]

#: Hull-White parameters read from ``models.hull_white.<CCY>``
HW_PARAMS = ("a", "sigma")
#: most fixed-leg periods of one trade (e.g. 30 years quarterly)
MAX_PERIODS = 120
#: trades per recorded program (one vector-adjoint sweep)
GROUP_SIZE = 8


@dataclasses.dataclass(frozen=True)
class BermudanSwaptionTrade(_RatesInstrument):
    """Bermudan or European swaption under Hull-White 1F by LSM (see the module notes)."""

    product_type: ClassVar[str] = "bermudan_swaption"
    trade_id: str
    currency: str
    expiry: str
    tenor: str
    strike: float
    notional: float
    payer: bool = True
    exercise: str = "bermudan"
    fixed_tenor: str | None = None
    fixed_dc: str | None = None
    convention: str | None = None
    paths: int = 10_000
    seed: int = 1
    quantity: float = 1.0
    validators: ClassVar[Mapping[str, Callable]] = {
        "currency": v.text, "expiry": _tenor, "tenor": _tenor, "strike": v.number,
        "notional": v.positive, "payer": _bool,
        "exercise": _choice(("bermudan", "european")), "fixed_tenor": _opt(_frequency),
        "fixed_dc": _opt(_day_count), "convention": _opt(_convention),
        "paths": _count(100, 10_000_000), "seed": _count(0, 2**62), "quantity": v.number}


# ----------------------------------------------------------------------------- market
def _curve(t, m: MarketData):
    """(curve set, discount curve name) of the trade's currency, or TradeError."""
    cs, _, dc = resolve_curves(types.SimpleNamespace(trade_id=t.trade_id, currency=t.currency,
                                                     discount=None), m, forecast=False)
    return cs, dc


def _params(t, m: MarketData):
    """``{a, sigma}`` of ``models.hull_white.<CCY>``, or TradeError naming the currency."""
    ccy, out = t.currency, {}
    for p in HW_PARAMS:
        lab = f"model/hull_white/{ccy}/{p}"
        prob = m.problems.get(lab) or m.problems.get(f"model/hull_white/{ccy}")
        if prob is not None:
            raise TradeError(t.trade_id, "currency", ccy, f"bad market data: {prob}")
        if lab not in m.models:
            raise TradeError(t.trade_id, "currency", ccy, f"no Hull-White parameters "
                             f"{list(HW_PARAMS)} for {ccy} (models.hull_white.{ccy}) in the "
                             "market")
        if not m.models[lab] > 0:
            raise TradeError(t.trade_id, "currency", ccy, f"{lab} = {m.models[lab]:g}: "
                             "must be positive")
        out[p] = float(m.models[lab])
    return out


def trade_schedule(t, m: MarketData):
    """``(times, accruals)``: the fixed-leg dates as Act/365F years from the valuation date
    (``times[0]`` the first exercise) and the fixed leg's accrual per period."""
    cs, dc = _curve(t, m)
    c, hol = _conventions(cs, dc, dc)
    conv, dcount = t.convention or c.convention, t.fixed_dc or c.fixed_dc
    val = m.valuation_date
    start = adjust(add_tenor(val, t.expiry), conv, hol)
    if start <= val:
        raise TradeError(t.trade_id, "expiry", t.expiry, "the first exercise must be after "
                         "the valuation date")
    try:
        dates = schedule(start, swap_end(start, t.tenor, False, hol),
                         t.fixed_tenor or c.fixed_tenor, conv, hol)
    except ValueError as exc:
        raise TradeError(t.trade_id, "tenor", t.tenor, str(exc)) from None
    if len(dates) - 1 > MAX_PERIODS:
        raise TradeError(t.trade_id, "tenor", t.tenor, f"{len(dates) - 1} fixed-leg periods; "
                         f"at most {MAX_PERIODS}")
    times = tuple(m.year_fraction(d) for d in dates)
    acc = tuple(year_fraction(d0, d1, dcount) for d0, d1 in zip(dates[:-1], dates[1:]))
    return times, acc


def _check(t, m: MarketData):
    trade_schedule(t, m)
    _params(t, m)


# ----------------------------------------------------------------------------- programs
def _group_key(t, m):
    """Trades with equal keys share their paths (one program, one set of draws)."""
    return (t.currency, *trade_schedule(t, m), t.exercise, t.paths, t.seed)


def _model(t0, m):
    """(BermudanSwaption of the group's schedule, discount source, numeric inputs)."""
    times, acc = trade_schedule(t0, m)
    hw = HullWhite(times=times)
    n = len(times)
    ex = range(n - 1) if t0.exercise == "bermudan" else (0,)
    bs = BermudanSwaption(hw, range(1, n + 1), exercise=ex, accruals=acc)
    src = m.discounts[t0.currency]
    grid = hw.grid(lambda x: src.discount(np.atleast_1d(x))[0])
    return bs, src, {**_params(t0, m), **grid}


def _rules(trades, m, bs, num):
    """Regression coefficients per trade from ONE pre-simulation (seed + 1)."""
    t0 = trades[0]
    pre = bs.presimulate(num, paths=t0.paths, seed=t0.seed + 1)
    return [bs.regress(num, strike=t.strike, payer=1.0 if t.payer else 0.0, pre=pre)
            for t in trades]


def _program(trades, m, rules=None):
    """(MonteCarlo pricing the group, its inputs, discount source); ``rules`` (one
    coefficient dict per trade) replaces the regression (held-fixed rule)."""
    bs, src, num = _model(trades[0], m)
    rules = _rules(trades, m, bs, num) if rules is None else rules
    times = np.asarray(bs.hw.times)
    build, P, Q = _rate_table(src, times)
    extra = [f"dz{p}" for p in range(P)] + [f"dq{q}" for q in range(Q)]
    inp = {"a": num["a"], "sigma": num["sigma"], "_dt": num["_dt"], **{k: 0.0 for k in extra}}
    for i, (t, coef) in enumerate(zip(trades, rules)):
        inp.update({f"t{i}.strike": t.strike, f"t{i}.payer": 1.0 if t.payer else 0.0,
                    **{f"t{i}.{k}": float(c) for k, c in coef.items()}})
    mc = MonteCarlo(bs.hw, {f"t{i}": (bs.payoff(), bs.params) for i in range(len(trades))},
                    len(times), tables={"_r": build}, extra_inputs=extra,
                    name=f"hull-white bermudan x{len(trades)}")
    return mc, inp, src


def _chunks(trades, m):
    """Index lists of trades sharing paths, at most :data:`GROUP_SIZE` each."""
    groups = {}
    for i, t in enumerate(trades):
        groups.setdefault(_group_key(t, m), []).append(i)
    for members in groups.values():
        for k in range(0, len(members), GROUP_SIZE):
            yield members[k:k + GROUP_SIZE]


# ----------------------------------------------------------------------------- evaluation
def _evaluate_group(trades, m, rows, zero_rows, idx):
    mc, inp, src = _program(trades, m)
    ccy = trades[0].currency
    direct = {p: (f"model/hull_white/{ccy}/{p}", "model") for p in HW_PARAMS}
    qmask = np.ones(len(src.labels), bool) if src.quote_mask is None else src.quote_mask
    zmask = np.ones(len(src.zero_labels), bool) if src.zero_mask is None else src.zero_mask
    direct.update({f"dq{q}": (lab, "par") for q, lab in enumerate(src.labels) if qmask[q]})
    zeros = {f"dz{p}": lab for p, lab in enumerate(src.zero_labels) if zmask[p]}
    t0 = trades[0]
    res = mc.grad(inp, paths=t0.paths, seed=t0.seed, wrt=[*direct, *zeros], block=MC_BLOCK)
    price, se = np.empty(len(trades)), np.empty(len(trades))
    for i, t in enumerate(trades):
        o, n = f"t{i}", t.notional
        g, gs = res.grad[o], res.grad_stderr[o]
        price[i], se[i] = n * res.value[o], n * res.stderr[o]
        for name, (label, greek) in direct.items():
            rows.add([idx[i]], label, greek, n * g[name], n * gs[name])
        for name, label in zeros.items():
            zero_rows.add([idx[i]], label, "zero", n * g[name], n * gs[name])
    return price, se


def _evaluate(trades, m: MarketData) -> Evaluation:
    rows, zero_rows = Rows(), Rows()
    price, se = np.empty(len(trades)), np.empty(len(trades))
    for idx in _chunks(trades, m):
        price[idx], se[idx] = _evaluate_group([trades[i] for i in idx], m, rows, zero_rows,
                                              idx)
    return Evaluation(price, [m.curve_of.get(t.currency, "") for t in trades],
                      [t.currency for t in trades], rows, zero_rows, stderr=se,
                      model="hull_white_mc")


def exercise_rules(trades, m: MarketData) -> list:
    """The LSM exercise rule (continuation coefficients) of each trade on market ``m``:
    what :func:`price_with_rules` holds fixed."""
    out = [None] * len(trades)
    for idx in _chunks(trades, m):
        sub = [trades[i] for i in idx]
        bs, _, num = _model(sub[0], m)
        for i, r in zip(idx, _rules(sub, m, bs, num)):
            out[i] = r
    return out


def price_with_rules(trades, m: MarketData, rules=None) -> tuple[np.ndarray, np.ndarray]:
    """Unit prices and standard errors; ``rules`` (from :func:`exercise_rules`, one per
    trade) holds the exercise rule fixed, e.g. to bump and reprice like with like."""
    price, se = np.empty(len(trades)), np.empty(len(trades))
    for idx in _chunks(trades, m):
        sub = [trades[i] for i in idx]
        mc, inp, _ = _program(sub, m, None if rules is None else [rules[i] for i in idx])
        res = mc.value(inp, paths=sub[0].paths, seed=sub[0].seed, block=MC_BLOCK)
        price[idx] = [t.notional * res.value[f"t{k}"] for k, t in enumerate(sub)]
        se[idx] = [t.notional * res.stderr[f"t{k}"] for k, t in enumerate(sub)]
    return price, se


def _price(trades, m: MarketData) -> np.ndarray:
    """Unit prices only (the rule regressed on ``m``)."""
    return price_with_rules(trades, m)[0]


register_engine(ProductEngine(product="bermudan_swaption", instrument=BermudanSwaptionTrade,
                              model="hull_white_mc", check=_check, evaluate=_evaluate,
                              price=_price))
