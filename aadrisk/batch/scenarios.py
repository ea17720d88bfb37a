"""Full revaluation under scenarios, and historical-simulation VaR / expected shortfall.

Scenario file (JSON; docs/batch.md, schema docs/schemas/scenarios.schema.json)::

    {"scenarios": [
        {"name": "rates +100bp", "curve_bp": 100},
        {"name": "USD 5Y +25bp", "bucket_bp": {"curve/USD-SOFR/swap/5Y": 25}},
        {"name": "equity -20%", "spot": {"*": -0.20}},
        {"name": "SPX vol +5", "vol_points": {"SPX": 5}},
        {"name": "crash", "spot": {"SPX": -0.1}, "vol_points": {"*": 8}, "curve_bp": -50}
     ],
     "historical": {"confidence": 0.99, "horizon": "1 day",
                    "scenarios": [{"date": "2020-03-16", "spot": {"SPX": -0.12}, ...}, ...]}}

Shift fields of a scenario (all optional, they add up when they hit the same label):

* ``curve_bp``: parallel shift in basis points of every par quote and flat rate
  (a number), or per curve / currency (``{"USD-SOFR": 25, "EUR": -10, "*": 5}``:
  a curve name matches ``curve/<name>/...``, a currency ``rate/<CCY>`` and its
  discount curve's quotes; ``*`` all);
* ``bucket_bp``: basis points per label (quotes, flat rates, div yields);
* ``spot``: relative spot shocks per underlying (``-0.2`` = -20 %; ``*`` all);
* ``vol_points``: absolute vol shift in vol points (1 = 0.01) for all nodes of an
  underlying (``{"SPX": 5}``, ``*`` all; a number = all underlyings) or for
  selected nodes by label (``{"vol/SPX/2024-12-20/5500": 2}``);
* ``shifts``: raw additive shifts per label in the input's own unit.

Each scenario market is ``MarketData.from_mapping(raw, bumps=...)`` (curves
re-bootstrapped), and the book is repriced with the engines' ``price`` (full
revaluation, no Greeks).  Scenario P&L per trade = quantity x (unit price in
the scenario - unit price in the base market).

VaR / ES (historical simulation), per currency (the market has no FX rates, so
P&L in different currencies is never added): losses ``L = -P&L`` of the book
over the n historical scenarios, sorted from the largest; ``k = ceil(n (1 - c))``
for confidence ``c``; **VaR = the k-th largest loss, ES = the mean of the k
largest losses** (loss positive; horizon as the scenarios' returns, e.g. one day).
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["ScenarioError", "Scenario", "ScenarioTask", "reprice_group", "scenario_market",
           "load_scenarios", "scenario_bumps", "run_scenarios", "var_es", "ScenarioResult"]

_FIELDS = {"name", "description", "date", "curve_bp", "bucket_bp", "spot", "vol_points",
           "shifts"}


class ScenarioError(ValueError):
    """A scenario file or a scenario cannot be used (names the scenario and the field)."""


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    spec: Mapping
    historical: bool = False


def _check(where, spec):
    if not isinstance(spec, Mapping):
        raise ScenarioError(f"{where}: must be an object")
    bad = sorted(set(spec) - _FIELDS)
    if bad:
        raise ScenarioError(f"{where}: unknown field(s) {bad}; expected {sorted(_FIELDS)}")
    for k in ("bucket_bp", "spot", "shifts"):
        if k in spec and not isinstance(spec[k], Mapping):
            raise ScenarioError(f"{where}.{k} must be an object label/underlying -> number")
    for k in ("curve_bp", "vol_points"):
        if k in spec and not isinstance(spec[k], (Mapping, int, float)):
            raise ScenarioError(f"{where}.{k} must be a number or an object")
    for k in ("curve_bp", "bucket_bp", "spot", "vol_points", "shifts"):
        v = spec.get(k)
        vals = v.values() if isinstance(v, Mapping) else ([] if v is None else [v])
        for x in vals:
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
                raise ScenarioError(f"{where}.{k}: {x!r} is not a finite number")


def load_scenarios(doc) -> tuple[list, dict]:
    """(scenarios, historical settings) of a scenario document (see the module notes)."""
    if not isinstance(doc, Mapping):
        raise ScenarioError("scenario file must hold a JSON object")
    bad = sorted(set(doc) - {"scenarios", "historical", "description", "name"})
    if bad:
        raise ScenarioError(f"scenario file: unknown field(s) {bad}; expected scenarios, "
                            "historical, name, description")
    out, names = [], set()
    for i, s in enumerate(doc.get("scenarios", []) or []):
        _check(f"scenarios[{i}]", s)
        name = str(s.get("name") or f"scenario {i}")
        if name in names:
            raise ScenarioError(f"scenarios[{i}]: duplicate name {name!r}")
        names.add(name)
        out.append(Scenario(name, s))
    hist = doc.get("historical") or {}
    if not isinstance(hist, Mapping):
        raise ScenarioError("historical must be an object {confidence, horizon, scenarios}")
    conf = hist.get("confidence", 0.99)
    if isinstance(conf, bool) or not isinstance(conf, (int, float)) or not 0 < conf < 1:
        raise ScenarioError(f"historical.confidence = {conf!r}: must be in (0, 1)")
    for i, s in enumerate(hist.get("scenarios", []) or []):
        _check(f"historical.scenarios[{i}]", s)
        name = str(s.get("name") or s.get("date") or f"historical {i}")
        if name in names:
            raise ScenarioError(f"historical.scenarios[{i}]: duplicate name {name!r}")
        names.add(name)
        out.append(Scenario(name, s, historical=True))
    settings = {"confidence": float(conf), "horizon": str(hist.get("horizon", "1 day"))}
    return out, settings


def scenario_bumps(spec: Mapping, m) -> dict:
    """Label -> additive shift of ``spec`` on the base market ``m`` (MarketData)."""
    labels = m.labels
    bumps: dict = {}

    def add(lab, x):
        bumps[lab] = bumps.get(lab, 0.0) + float(x)

    rate_labels = [lab for lab in labels if lab.startswith(("curve/", "rate/"))]
    cb = spec.get("curve_bp")
    if isinstance(cb, (int, float)):
        for lab in rate_labels:
            add(lab, cb * 1e-4)
    elif isinstance(cb, Mapping):
        for key, bp in cb.items():
            hit = [lab for lab in rate_labels if key == "*" or lab.startswith(f"curve/{key}/")
                   or lab == f"rate/{key}"]
            d = m.discounts.get(key)
            if d is not None:
                hit += [lab for lab in d.labels if lab not in hit]
            if not hit:
                raise ScenarioError(f"curve_bp: {key!r} matches no curve or currency of the "
                                    "market")
            for lab in hit:
                add(lab, bp * 1e-4)
    for lab, bp in (spec.get("bucket_bp") or {}).items():
        add(lab, bp * 1e-4)
    for u, rel in (spec.get("spot") or {}).items():
        unds = list(m.spots) if u == "*" else [u]
        for name in unds:
            if name not in m.spots:
                raise ScenarioError(f"spot: underlying {name!r} not in the market")
            add(f"spot/{name}", m.spots[name] * rel)
    vp = spec.get("vol_points")
    if isinstance(vp, (int, float)):
        vp = {"*": vp}
    for key, pts in (vp or {}).items():
        if "/" in key:
            hit = [key]
        else:
            hit = [lab for u, vs in m.vols.items() if key in ("*", u) for lab in vs.labels]
            if not hit:
                raise ScenarioError(f"vol_points: underlying {key!r} has no vols in the market")
        for lab in hit:
            add(lab, pts * 1e-2)
    for lab, x in (spec.get("shifts") or {}).items():
        add(lab, x)
    unknown = sorted(set(bumps) - set(labels))
    if unknown:
        raise ScenarioError(f"label(s) not in the market: {unknown[:5]}")
    return bumps


def var_es(pnl: np.ndarray, confidence: float) -> tuple[float, float, int]:
    """(VaR, ES, k) of a P&L sample: losses positive; VaR = k-th largest loss, ES = mean of
    the k largest, k = ceil(n (1 - confidence)).

    >>> var_es(np.array([-5.0, 1.0, -2.0, 3.0, -1.0]), 0.6)
    (2.0, 3.5, 2)
    """
    losses = np.sort(-np.asarray(pnl, dtype=float))[::-1]
    n = losses.size
    if n == 0:
        return float("nan"), float("nan"), 0
    k = max(1, math.ceil(n * (1.0 - confidence) - 1e-9))
    return float(losses[k - 1]), float(losses[:k].mean()), k


@dataclasses.dataclass
class ScenarioResult:
    """``pnl`` (trade x scenario, long), ``by_scenario`` (book P&L per scenario and
    currency), ``var`` (per currency), ``errors`` (trade, scenario, reason), base prices."""

    base: pd.DataFrame
    pnl: pd.DataFrame
    by_scenario: pd.DataFrame
    var: pd.DataFrame
    errors: pd.DataFrame
    settings: dict

    @property
    def ok(self) -> bool:
        return self.errors.empty


def _safe_prices(trades, m):
    """Unit prices (NaN where a trade cannot be priced) and {index: reason}."""
    from ..risk.errors import TradeError
    from ..risk.registry import ENGINES

    out = np.full(len(trades), np.nan)
    why = {}
    by = {}
    for i, t in enumerate(trades):
        try:
            ENGINES[t.product_type].check(t, m)
        except TradeError as exc:
            why[i] = f"field {exc.field!r} = {exc.value!r}: {exc.reason}"
            continue
        by.setdefault(t.product_type, []).append(i)
    for product, idx in by.items():
        eng = ENGINES[product]
        try:
            out[idx] = eng.price([trades[i] for i in idx], m)
        except Exception:  # noqa: BLE001
            for i in idx:
                try:
                    out[i] = eng.price([trades[i]], m)[0]
                except Exception as exc:  # noqa: BLE001
                    why[i] = f"pricing failed: {type(exc).__name__}: {exc}"
    for i in np.flatnonzero(~np.isfinite(out)):
        why.setdefault(int(i), "non-finite price")
    return out, why


@dataclasses.dataclass(frozen=True)
class ScenarioTask:
    """A group of scenarios to reprice the book in (picklable; runs on an executor)."""

    index: int
    key: str
    market: Mapping
    trades: tuple
    specs: tuple          # ((name, bumps), ...)


_CURVE_KEYS = ("curves", "discount_curves")
_BASES: dict = {}


def scenario_market(raw: Mapping, bumps: Mapping, base=None):
    """``MarketData.from_mapping(raw, bumps=bumps)``, without re-bootstrapping the curves
    when no bump touches a par quote (``curve/...``): the base market's bootstrapped
    curves are reused (bootstrapping is ~2/3 of a scenario's cost on market_full.json).
    Falls back to the full parse whenever the shortcut could differ."""
    from ..market.snapshot import MarketData

    if base is None or not raw.get("curves") or \
            any(str(lab).startswith("curve/") for lab in bumps):
        return MarketData.from_mapping(raw, bumps=bumps)
    light = {k: v for k, v in raw.items() if k not in _CURVE_KEYS}
    try:
        m = MarketData.from_mapping(light, bumps=bumps)
    except (KeyError, ValueError):
        return MarketData.from_mapping(raw, bumps=bumps)
    curve_prob = {k: v for k, v in base.problems.items()
                  if k.startswith(("curve/", "discount/"))}
    other = {k for k in m.problems if not k.startswith(("curve/", "discount/"))}
    if other != {k for k in base.problems if not k.startswith(("curve/", "discount/"))}:
        return MarketData.from_mapping(raw, bumps=bumps)
    for ccy in list(m.discounts):
        if ccy in base.curve_of or ccy not in base.discounts:
            m.discounts.pop(ccy)
    for ccy, d in base.discounts.items():
        if ccy in base.curve_of:
            m.discounts[ccy] = d
    m.curve_of = dict(base.curve_of)
    m.curve_sets = dict(base.curve_sets)
    m.curve_discount = dict(base.curve_discount)
    m.problems = {**{k: v for k, v in m.problems.items()
                     if not k.startswith(("curve/", "discount/"))}, **curve_prob}
    return m


def reprice_group(task: ScenarioTask) -> list:
    """[(scenario name, unit prices, {trade index: reason})] of one group (worker side)."""
    from ..market.snapshot import MarketData

    from .portfolio import canonical_hash

    h = canonical_hash(task.market)
    if h not in _BASES:
        _BASES.clear()
        _BASES[h] = MarketData.from_mapping(task.market)
    base = _BASES[h]
    out = []
    for name, bumps in task.specs:
        m = scenario_market(task.market, bumps, base)
        u, why = _safe_prices(list(task.trades), m)
        out.append((name, u, why))
    return out


def run_scenarios(book, market_raw: Mapping, scenarios, settings=None, *, workers: int = 1,
                  scheduler: str | None = None, group_size: int = 16) -> ScenarioResult:
    """Reprice ``book`` (raw trades) in every scenario of ``scenarios``; VaR / ES over the
    historical ones (over all scenarios when there are none historical).

    Scenarios run in groups of ``group_size`` on the executor of ``workers`` /
    ``scheduler`` (:func:`aadrisk.batch.executors.make_executor`; 0 = every core);
    the numbers do not depend on it (each scenario is priced on its own)."""
    from ..market.snapshot import MarketData
    from ..risk.greeks import parse_greek_trade

    settings = dict(settings or {"confidence": 0.99, "horizon": "1 day"})
    base_m = MarketData.from_mapping(market_raw)
    errors, trades, pos = [], [], []
    seen = set()
    for i, raw in enumerate(book):
        t, errs = parse_greek_trade(raw, i)
        if errs:
            errors += [{"position": i, "trade_id": e.trade_id, "scenario": "",
                        "message": str(e)} for e in errs]
            continue
        if t.trade_id in seen:
            errors.append({"position": i, "trade_id": t.trade_id, "scenario": "",
                           "message": f"trade {t.trade_id!r}: duplicate trade id"})
            continue
        seen.add(t.trade_id)
        trades.append(t)
        pos.append(i)
    u0, why = _safe_prices(trades, base_m)
    for i, r in why.items():
        errors.append({"position": pos[i], "trade_id": trades[i].trade_id, "scenario": "base",
                       "message": f"trade {trades[i].trade_id!r}: {r}"})
    ok = np.isfinite(u0)
    keep = [t for t, k in zip(trades, ok) if k]
    kpos = [p for p, k in zip(pos, ok) if k]
    u0 = u0[ok]
    qty = np.array([t.quantity for t in keep], dtype=float)
    ccy = np.array([getattr(t, "currency", None)
                    or base_m.currencies.get(getattr(t, "underlying", None)) or ""
                    for t in keep], dtype=object)
    base = pd.DataFrame({"position": kpos, "trade": [t.trade_id for t in keep],
                         "product": [t.product_type for t in keep],
                         "underlying": [getattr(t, "underlying", "") for t in keep],
                         "currency": ccy,
                         "quantity": qty, "price": qty * u0})
    specs = []
    for sc in scenarios:
        try:
            specs.append((sc.name, scenario_bumps(sc.spec, base_m)))
        except (ScenarioError, KeyError, ValueError) as exc:
            raise ScenarioError(f"scenario {sc.name!r}: {exc}") from None
    size = max(1, int(group_size))
    tasks = [ScenarioTask(k, f"{k:05d}", market_raw, tuple(keep), tuple(specs[i:i + size]))
             for k, i in enumerate(range(0, len(specs), size))]
    cols = {}
    if tasks and keep:
        from .executors import make_executor

        ex = make_executor(workers, scheduler, len(tasks))
        try:
            for res in ex.run(reprice_group, tasks):
                for name, u, why in res:
                    for i, r in why.items():
                        errors.append({"position": kpos[i], "trade_id": keep[i].trade_id,
                                       "scenario": name,
                                       "message": f"trade {keep[i].trade_id!r}: {r}"})
                    cols[name] = qty * (u - u0)
        finally:
            ex.close()
    else:
        cols = {name: np.zeros(len(keep)) for name, _ in specs}
    if errors:
        order = {sc.name: j for j, sc in enumerate(scenarios)}
        errors.sort(key=lambda e: (order.get(e["scenario"], -1), e["position"]))
    names = [s.name for s in scenarios]
    pnl = pd.DataFrame({"trade": np.repeat(base["trade"].to_numpy(object), len(names)),
                        "currency": np.repeat(ccy, len(names)),
                        "scenario": np.tile(np.array(names, dtype=object), len(keep)),
                        "pnl": np.column_stack([cols[n] for n in names]).ravel()
                        if names and len(keep) else np.zeros(0)})
    by = []
    hist = {s.name for s in scenarios if s.historical}
    for n in names:
        for c in sorted(set(ccy)):
            v = cols[n][ccy == c]
            by.append({"scenario": n, "historical": n in hist, "currency": c,
                       "pnl": float(np.nansum(v)), "n_failed": int(np.sum(~np.isfinite(v)))})
    by_scenario = pd.DataFrame(by, columns=["scenario", "historical", "currency", "pnl",
                                            "n_failed"])
    sample = by_scenario[by_scenario["historical"]] if hist else by_scenario
    rows = []
    for c, grp in sample.groupby("currency", sort=True):
        v, es, k = var_es(grp["pnl"].to_numpy(float), settings["confidence"])
        rows.append({"currency": c, "confidence": settings["confidence"],
                     "horizon": settings["horizon"], "n_scenarios": len(grp), "k_tail": k,
                     "var": v, "es": es, "worst_scenario": grp.loc[grp["pnl"].idxmin(),
                                                                   "scenario"],
                     "sample": "historical" if hist else "all scenarios"})
    var = pd.DataFrame(rows, columns=["currency", "confidence", "horizon", "n_scenarios",
                                      "k_tail", "var", "es", "worst_scenario", "sample"])
    err = pd.DataFrame(errors, columns=["position", "trade_id", "scenario", "message"])
    return ScenarioResult(base, pnl, by_scenario, var, err, settings)
