"""P&L explain between two market snapshots: full revaluation against the Greeks' prediction.

For every trade priced in both snapshots (``m0`` at ``t0``, ``m1`` at ``t1``):

* actual P&L = ``V(m1, t1) - V(m0, t0)`` (full revaluation: the engines' ``price``);
* predicted P&L from the Greeks of ``m0`` (one :func:`greek_vectors` call), with
  ``dX = X(m1) - X(m0)`` per input label X (:func:`market_values`) and
  ``dS`` the move of the trade's own spot:

  ======================  =====================================================
  term                    contribution
  ======================  =====================================================
  ``delta``               delta . dS
  ``gamma``               1/2 gamma . dS^2
  ``vega``, ``div``,      first-order Greek . dX of its label (vol nodes, div yield,
  ``rate``, ``par``,      flat rates, par quotes with re-bootstrap, model params;
  ``model``, other kinds  any other first-order kind an engine adds is treated alike)
  ``cross``               cross_gamma . dS . dX (spot-vol vanna, spot-div, spot-curve)
  ``theta``               theta . dt, dt = (t1 - t0) in years (Act/365F), when the
                          engine reports ``theta`` (label ``time``)
  ======================  =====================================================

* unexplained = actual - predicted (higher-order terms, second order in
  non-spot labels -- not computed by the engines --, time decay when no theta).

``zero/...`` rows are not used (they are the same risk as the par rows).  A
label whose input value cannot be read from either snapshot (or that exists in
only one) contributes nothing and is listed in :attr:`ExplainResult.unmapped`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["market_values", "explain_pnl", "ExplainResult", "TERMS"]

#: explain terms, in display order
TERMS = ("delta", "gamma", "vega", "div", "rate", "par", "model", "cross", "theta", "other")
_TERM_OF = {"delta": "delta", "gamma": "gamma", "vega": "vega", "div": "div", "rate": "rate",
            "par": "par", "model": "model", "cross_gamma": "cross", "theta": "theta"}


def market_values(m) -> dict:
    """Label -> input value of a :class:`~aadrisk.market.snapshot.MarketData` (spots, divs,
    vol nodes / flat vols, rate vol nodes, flat rates, par quotes of bootstrapped curves,
    model parameters).

    (The library has no such accessor yet; this reads the snapshot's attributes.)
    """
    out = {}
    for u, s in m.spots.items():
        out[f"spot/{u}"] = float(s)
    for u, q in m.divs.items():
        out[f"div/{u}"] = float(q)
    for vs in m.vols.values():
        vals = np.asarray(vs.surface.vols, dtype=float).ravel()
        for lab, x in zip(vs.labels, vals):
            out[lab] = float(x)
    seen = set()
    for cs in m.curve_sets.values():
        if id(cs) in seen:
            continue
        seen.add(id(cs))
        for lab, q in zip(cs.quote_labels, np.asarray(cs.quotes, dtype=float)):
            out[lab] = float(q)
    for d in m.discounts.values():
        for lab in d.labels:
            if lab.startswith("rate/"):
                out[lab] = float(d.zeros[0])
    for rv in getattr(m, "rate_vols", {}).values():
        for lab, x in zip(rv.labels, np.asarray(rv.vols, dtype=float).ravel()):
            out[lab] = float(x)
    for lab, x in m.models.items():
        out[lab] = float(x)
    return out


@dataclasses.dataclass
class ExplainResult:
    """Per trade (``trades``), per trade and risk factor (``factors``), per risk factor
    (``by_factor``), per currency and term (``totals``), the rejected trades (``errors``)."""

    trades: pd.DataFrame
    factors: pd.DataFrame
    by_factor: pd.DataFrame
    totals: pd.DataFrame
    errors: pd.DataFrame
    date0: dt.date
    date1: dt.date
    unmapped: list

    @property
    def ok(self) -> bool:
        return self.errors.empty


def _prices_in(trades, m1, errors):
    """Unit prices of validated instruments in ``m1`` (NaN + error for the ones that fail)."""
    from ..risk.errors import TradeError
    from ..risk.registry import ENGINES

    out = np.full(len(trades), np.nan)
    by = {}
    for i, t in enumerate(trades):
        try:
            ENGINES[t.product_type].check(t, m1)
        except TradeError as exc:
            errors.append((t.trade_id, exc.field, exc.value, f"in the second market: {exc.reason}"))
            continue
        by.setdefault(t.product_type, []).append(i)
    for product, idx in by.items():
        eng = ENGINES[product]
        try:
            out[idx] = eng.price([trades[i] for i in idx], m1)
        except Exception:  # noqa: BLE001  (one trade must not sink the others)
            for i in idx:
                try:
                    out[i] = eng.price([trades[i]], m1)[0]
                except Exception as exc:  # noqa: BLE001
                    errors.append((trades[i].trade_id, "product", product,
                                   f"pricing in the second market failed: {exc}"))
    for i in np.flatnonzero(~np.isfinite(out)):
        if not any(e[0] == trades[i].trade_id for e in errors):
            errors.append((trades[i].trade_id, "price", None,
                           "non-finite price in the second market"))
    return out


def explain_pnl(book, market0, market1, *, file: str = "") -> ExplainResult:
    """P&L explain of ``book`` (raw trade mappings) from ``market0`` to ``market1``
    (mappings or :class:`MarketData`); see the module notes."""
    from ..market.snapshot import MarketData
    from ..risk.greeks import greek_vectors, parse_greek_trade

    m0 = market0 if isinstance(market0, MarketData) else MarketData.from_mapping(market0)
    m1 = market1 if isinstance(market1, MarketData) else MarketData.from_mapping(market1)
    book = list(book)
    rep = greek_vectors(book, m0)
    pos_of, errs = {}, []
    for pos, raw in enumerate(book):
        if isinstance(raw, Mapping) and "trade_id" in raw:
            pos_of.setdefault(str(raw["trade_id"]).strip(), pos)
    for e in rep.errors:
        errs.append((e.trade_id, e.field, e.value, f"in the first market: {e.reason}"))
    priced = rep.prices.reset_index(drop=True)
    instruments = [parse_greek_trade(book[pos_of[t]], pos_of[t])[0] for t in priced["trade"]]
    u1 = _prices_in(instruments, m1, errs)
    ok = np.isfinite(u1)
    qty = priced["quantity"].to_numpy(float)
    trades = priced.loc[ok, ["trade", "product", "underlying", "currency", "quantity"]].copy()
    trades["v0"] = priced.loc[ok, "price"].to_numpy(float)
    trades["v1"] = (qty * u1)[ok]
    trades["actual"] = trades["v1"] - trades["v0"]

    x0, x1 = market_values(m0), market_values(m1)
    dyears = (m1.valuation_date - m0.valuation_date).days / 365.0
    g = rep.greeks[rep.greeks["trade"].isin(set(trades["trade"]))]
    labels = g["label"].to_numpy(object)
    dx = np.array([x1[lab] - x0[lab] if lab in x0 and lab in x1 else np.nan
                   for lab in labels], dtype=float) if len(g) else np.zeros(0)
    spot_lab = ("spot/" + g["underlying"].astype(str)).to_numpy(object)
    ds = np.array([x1.get(s, np.nan) - x0.get(s, np.nan) for s in spot_lab], dtype=float) \
        if len(g) else np.zeros(0)
    greek = g["greek"].to_numpy(object)
    val = g["value"].to_numpy(float)
    term = np.array([_TERM_OF.get(k, "other") for k in greek], dtype=object)
    contrib = val * dx
    is_gamma, is_cross, is_theta = greek == "gamma", greek == "cross_gamma", greek == "theta"
    contrib = np.where(is_gamma, 0.5 * val * dx * dx, contrib)
    contrib = np.where(is_cross, val * ds * dx, contrib)
    contrib = np.where(is_theta, val * dyears, contrib)
    dxo = np.where(is_theta, dyears, dx)
    unmapped = sorted({lab for lab, c, th in zip(labels, contrib, is_theta)
                       if not th and not np.isfinite(c)})
    contrib = np.where(np.isfinite(contrib), contrib, 0.0)
    factors = pd.DataFrame({"trade": g["trade"].to_numpy(object),
                            "underlying": g["underlying"].to_numpy(object),
                            "currency": g["currency"].to_numpy(object), "label": labels,
                            "greek": greek, "term": term, "value": val, "dx": dxo,
                            "contribution": contrib})
    per = factors.pivot_table(index="trade", columns="term", values="contribution",
                              aggfunc="sum", fill_value=0.0) if len(factors) else pd.DataFrame()
    for t in TERMS:
        trades[t] = trades["trade"].map(per[t]).fillna(0.0).to_numpy(float) \
            if t in per else 0.0
    trades["predicted"] = trades[list(TERMS)].sum(axis=1)
    trades["unexplained"] = trades["actual"] - trades["predicted"]
    trades = trades.reset_index(drop=True)
    by_factor = (factors.groupby(["label", "term", "currency"], sort=True, dropna=False)
                 ["contribution"].sum().reset_index()) if len(factors) else \
        pd.DataFrame(columns=["label", "term", "currency", "contribution"])
    by_ccy = trades.groupby("currency", sort=True, dropna=False)
    totals = by_ccy[["v0", "v1", "actual", *TERMS, "predicted", "unexplained"]].sum()
    totals = totals.reset_index()
    totals.insert(1, "n_trades", by_ccy.size().to_numpy())
    def _pos(t):
        if t in pos_of:
            return pos_of[t]
        return int(t[1:]) if t.startswith("#") and t[1:].isdigit() else -1

    errors = pd.DataFrame([{"position": _pos(t), "trade_id": t, "field": f,
                            "value": repr(v), "message": f"{file}: trade {t!r}: field {f!r} = "
                            f"{v!r}: {r}" if file else f"trade {t!r}: field {f!r} = {v!r}: {r}",
                            "file": file} for t, f, v, r in errs],
                          columns=["position", "trade_id", "field", "value", "message", "file"])
    if len(errors):
        errors = errors.sort_values("position", kind="stable").reset_index(drop=True)
    return ExplainResult(trades, factors, by_factor, totals, errors, m0.valuation_date,
                         m1.valuation_date, unmapped)
