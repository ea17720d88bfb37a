"""Sample portfolios: books of any size (100,000+ trades) valid on a given market.

``python -m aadrisk.batch.generate --trades 100000 --market portfolios/market_full.json
--products european_option --out big.json`` (``--csv`` for a CSV book of vanilla
products).  Trades are drawn with a seeded generator (same arguments, same
file): underlyings of the market, expiries between one month and two years
(on the surface's expiries when the underlying has a surface), strikes within
+-25 % of spot, quantities in [-500, 500] (never 0).

The products are those of :data:`aadrisk.risk.greeks.GREEK_PRODUCTS` that have
a template in :data:`TEMPLATES` (:func:`register_template` adds one), plus the
option products (subclasses of ``EuropeanOption``) whose extra fields all have
defaults, generated from the option fields and kept when their engine accepts
them on the market; any other product is reported as skipped.  Market data
must be present (``heston_option`` needs ``models.heston.<U>``, ``sabr_option``
``models.sabr.<U>``).

Examples
--------
>>> m = {"valuation_date": "2024-06-28", "rate": 0.05,
...      "underlyings": {"XYZ": {"spot": 100.0, "vol": 0.2, "currency": "USD"}}}
>>> doc, skipped = generate_book(3, m, products=["european_option"], seed=1)
>>> [t["product"] for t in doc["trades"]], doc["trades"][0]["trade_id"]
(['european_option', 'european_option', 'european_option'], 'EUROPEAN_OPTION-000000')
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Callable, Mapping

import numpy as np

__all__ = ["TEMPLATES", "register_template", "generate_book", "write_csv", "write_json",
           "scenario_file", "main"]

#: product -> function(rng, base fields, context) -> extra fields of the trade, or None when
#: the market lacks what the product needs for that underlying
TEMPLATES: dict[str, Callable] = {}


def register_template(product: str):
    def deco(fn):
        TEMPLATES[product] = fn
        return fn
    return deco


@register_template("european_option")
def _european(rng, base, ctx):
    return {}


@register_template("digital_option")
def _digital(rng, base, ctx):
    if rng.random() < 0.5:
        return {"payoff": "cash", "cash": float(rng.choice([1.0, 10.0, 100.0]))}
    return {"payoff": "asset"}


@register_template("barrier_option")
def _barrier(rng, base, ctx):
    s, k = ctx["spot"], base["strike"]
    kind = str(rng.choice(["down_in", "down_out", "up_in", "up_out"]))
    if kind.startswith("down"):
        b = round(min(s, k) * float(rng.uniform(0.75, 0.92)), 2)
    else:
        b = round(max(s, k) * float(rng.uniform(1.08, 1.3)), 2)
    out = {"barrier": b, "barrier_type": kind}
    if kind.endswith("out") and rng.random() < 0.3:
        out["rebate"] = float(rng.choice([1.0, 5.0]))
    return out


@register_template("geometric_asian")
def _asian(rng, base, ctx):
    return {"n_fixings": int(rng.choice([0, 4, 12, 52]))}


@register_template("heston_option")
def _heston(rng, base, ctx):
    return {} if ctx["has_model"]("heston") else None


@register_template("sabr_option")
def _sabr(rng, base, ctx):
    return {} if ctx["has_model"]("sabr") else None


#: templates whose trades are checked against the market before they are kept
CHECKED = {"swap", "fra", "cap_floor", "swaption", "bond", "mc_option"}


def _currencies(ctx):
    m = ctx["market"]
    return sorted(c for c in m.curve_of if not m.discount_problem(c))


def _rates_trade(rng, ctx, fields):
    """A whole rates trade (no underlying / strike / expiry of an option) on a currency
    with a bootstrapped curve, or None when the market has none."""
    ccys = _currencies(ctx)
    if not ccys:
        return None
    ccy = str(rng.choice(ccys))
    notional = float(rng.choice([1e6, 5e6, 1e7, 2.5e7]))
    return {"_replace": True, "currency": ccy, "notional": notional,
            "quantity": 1.0 if rng.random() < 0.6 else -1.0, **fields(ccy)}


@register_template("swap")
def _swap(rng, base, ctx):
    return _rates_trade(rng, ctx, lambda c: {
        "tenor": str(rng.choice(["2Y", "3Y", "5Y", "7Y", "10Y"])),
        "fixed_rate": round(float(rng.uniform(0.02, 0.05)), 4), "payer": bool(rng.random() < 0.5)})


@register_template("fra")
def _fra(rng, base, ctx):
    return _rates_trade(rng, ctx, lambda c: {
        "tenor": str(rng.choice(["1x4", "3x6", "6x9", "6x12"])),
        "rate": round(float(rng.uniform(0.02, 0.055)), 4), "payer": bool(rng.random() < 0.5)})


@register_template("cap_floor")
def _cap(rng, base, ctx):
    return _rates_trade(rng, ctx, lambda c: {
        "option_type": str(rng.choice(["cap", "floor"])),
        "tenor": str(rng.choice(["2Y", "3Y", "5Y"])),
        "strike": round(float(rng.uniform(0.025, 0.055)), 4), "float_tenor": "3M"})


@register_template("swaption")
def _swaption(rng, base, ctx):
    return _rates_trade(rng, ctx, lambda c: {
        "expiry": str(rng.choice(["6M", "1Y", "2Y"])), "tenor": str(rng.choice(["2Y", "5Y"])),
        "strike": round(float(rng.uniform(0.03, 0.05)), 4), "payer": bool(rng.random() < 0.5)})


@register_template("bond")
def _bond(rng, base, ctx):
    val = ctx["market"].valuation_date
    years = int(rng.integers(2, 11))
    issue = val - dt.timedelta(days=int(rng.integers(0, 365)))
    issue = issue.replace(day=min(issue.day, 28))          # a maturity date in every year
    return _rates_trade(rng, ctx, lambda c: {
        "issue": issue.isoformat(),
        "maturity": issue.replace(year=issue.year + years).isoformat(),
        "coupon": round(float(rng.uniform(0.01, 0.06)), 4), "frequency": "6M",
        "day_count": "ACT/365F"})


@register_template("mc_option")
def _mc(rng, base, ctx):
    """Monte Carlo options kept light (5,000 paths, 26 steps a year) so that a mixed book
    of 1,000 trades stays a quick run."""
    models = ["gbm", "local_vol"] + (["heston"] if ctx["has_model"]("heston") else [])
    payoff = str(rng.choice(["european", "asian", "barrier", "lookback", "digital"]))
    out = {"payoff": payoff, "model": str(rng.choice(models)), "paths": 5000,
           "steps_per_year": 26, "seed": int(rng.integers(1, 1000))}
    if payoff == "barrier":
        out.update(_barrier(rng, base, ctx))
        out.pop("rebate", None)
    return out


def _option_like(cls) -> bool:
    """An option product whose extra fields all have defaults: generated from the European
    option's fields alone (e.g. a Monte Carlo option registered later)."""
    import dataclasses

    from ..risk.instruments import EuropeanOption

    if not (isinstance(cls, type) and issubclass(cls, EuropeanOption)):
        return False
    base = {f.name for f in dataclasses.fields(EuropeanOption)}
    return all(f.default is not dataclasses.MISSING or f.default_factory is not
               dataclasses.MISSING for f in dataclasses.fields(cls) if f.name not in base)


def _valid(raw, m) -> bool:
    """The trade parses and its engine accepts the market (generic products only)."""
    from ..risk.errors import TradeError
    from ..risk.greeks import parse_greek_trade
    from ..risk.registry import ENGINES

    t, errs = parse_greek_trade(raw)
    if errs:
        return False
    try:
        ENGINES[t.product_type].check(t, m)
    except TradeError:
        return False
    return True


def _market_context(market_raw: Mapping):
    from ..market.snapshot import MarketData

    m = MarketData.from_mapping(market_raw)
    unds = sorted(u for u in m.spots if f"spot/{u}" not in m.problems)
    return m, unds


def generate_book(n: int, market_raw: Mapping, *, products=None, seed: int = 0,
                  name: str | None = None, weights: Mapping | None = None):
    """A book of ``n`` trades valid on ``market_raw``: (document, skipped products)."""
    from ..risk.greeks import GREEK_PRODUCTS

    m, unds = _market_context(market_raw)
    wanted = list(products) if products else sorted(GREEK_PRODUCTS)
    generic = {p for p in wanted if p in GREEK_PRODUCTS and p not in TEMPLATES
               and _option_like(GREEK_PRODUCTS[p])}
    CHECKED.update(generic)
    skipped = [p for p in wanted if p not in generic and
               (p not in TEMPLATES or p not in GREEK_PRODUCTS)]
    prods = [p for p in wanted if p not in skipped]
    if not prods or not unds:
        raise ValueError(f"nothing to generate: products {prods}, underlyings {unds}")
    w = np.array([float((weights or {}).get(p, 1.0)) for p in prods])
    w = w / w.sum()
    rng = np.random.default_rng(seed)
    val = m.valuation_date
    trades = []
    counter = {p: 0 for p in prods}
    attempts = 0
    while len(trades) < n:
        attempts += 1
        if attempts > 20 * n + 100:
            raise ValueError("the market cannot support the requested products")
        p = prods[int(rng.choice(len(prods), p=w))]
        u = unds[int(rng.integers(len(unds)))]
        spot = m.spots[u]
        vs = m.vols.get(u)
        if vs is not None and len(vs.surface.expiry_labels) > 1 and \
                vs.surface.expiry_labels[0][:2] in ("19", "20"):
            expiry = str(rng.choice(list(vs.surface.expiry_labels)))
        else:
            expiry = (val + dt.timedelta(days=int(rng.integers(30, 730)))).isoformat()
        strike = float(round(spot * float(rng.uniform(0.75, 1.25)), 0 if spot > 1000 else 2))
        qty = float(rng.integers(1, 501)) * (1.0 if rng.random() < 0.6 else -1.0)
        base = {"trade_id": "", "product": p, "underlying": u,
                "option_type": "call" if rng.random() < 0.5 else "put",
                "strike": strike, "expiry": expiry, "quantity": qty}
        ctx = {"spot": spot, "market": m,
               "has_model": lambda model, u=u: any(k.startswith(f"model/{model}/{u}/")
                                                   for k in m.models)}
        extra = TEMPLATES[p](rng, base, ctx) if p in TEMPLATES else {}
        if extra is None:
            continue
        if extra.pop("_replace", False):      # a whole trade of another shape (rates)
            base = {"trade_id": "", "product": p, **extra}
        else:
            base.update(extra)
        if p in CHECKED and not _valid(dict(base, trade_id="probe"), m):
            continue
        base["trade_id"] = f"{p.upper()}-{counter[p]:06d}"
        counter[p] += 1
        trades.append(base)
    doc = {"name": name or f"generated_{n}",
           "description": f"Generated by aadrisk.batch.generate (seed {seed}); illustrative.",
           "trades": trades}
    return doc, skipped


def scenario_file(market_raw: Mapping, n_days: int = 250, seed: int = 0,
                  confidence: float = 0.99) -> dict:
    """A sample scenario document for ``market_raw``: a few named stress scenarios and
    ``n_days`` *synthetic* dated one-day historical shift vectors (correlated spot returns,
    vol moves against spot, parallel + bucketed curve moves).  Illustrative, not real data."""
    from ..market.snapshot import MarketData

    m = MarketData.from_mapping(market_raw)
    rng = np.random.default_rng(seed)
    unds = sorted(m.spots)
    quotes = [lab for lab in m.labels if lab.startswith(("curve/", "rate/"))]
    named = [
        {"name": "rates +100bp parallel", "curve_bp": 100},
        {"name": "rates -50bp parallel", "curve_bp": -50},
        {"name": "equities -20%", "spot": {"*": -0.20}},
        {"name": "equities +10%", "spot": {"*": 0.10}},
        {"name": "vols +5 points", "vol_points": 5},
        {"name": "crash: spots -15%, vols +10, rates -75bp", "spot": {"*": -0.15},
         "vol_points": {"*": 10}, "curve_bp": -75},
    ]
    if quotes:
        named.append({"name": f"{quotes[-1]} +25bp", "bucket_bp": {quotes[-1]: 25}})
    days, d = [], m.valuation_date
    corr = 0.6 * np.ones((len(unds), len(unds))) + 0.4 * np.eye(len(unds))
    chol = np.linalg.cholesky(corr)
    for _ in range(n_days):
        d -= dt.timedelta(days=1)
        while d.weekday() >= 5:
            d -= dt.timedelta(days=1)
        fat = 1.0 if rng.random() > 0.05 else 2.5          # a few stressed days
        ret = fat * 0.012 * (chol @ rng.standard_normal(len(unds)))
        par = fat * 6.0 * rng.standard_normal()
        day = {"date": d.isoformat(),
               "spot": {u: round(float(r), 6) for u, r in zip(unds, ret)},
               "vol_points": {u: round(float(-40.0 * r + 0.3 * rng.standard_normal()), 4)
                              for u, r in zip(unds, ret) if u in m.vols},
               "bucket_bp": {q: round(float(par + 2.0 * rng.standard_normal()), 3)
                             for q in quotes}}
        days.append(day)
    return {"name": "sample scenarios",
            "description": "Named stresses and SYNTHETIC one-day historical shift vectors "
                           f"(aadrisk.batch.generate, seed {seed}); illustrative, not real "
                           "market history.",
            "scenarios": named,
            "historical": {"confidence": confidence, "horizon": "1 day",
                           "scenarios": days[::-1]}}


def write_csv(path, trades) -> None:
    cols = []
    for t in trades:
        for k in t:
            if k not in cols:
                cols.append(k)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for t in trades:
            w.writerow({k: ("" if t.get(k) is None else t.get(k)) for k in cols})


def write_json(path, doc) -> None:
    """The book as JSON with one trade per line (diffable, still compact)."""
    head = {k: v for k, v in doc.items() if k != "trades"}
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("{\n")
        for k, v in head.items():
            fh.write(f"  {json.dumps(k)}: {json.dumps(v)},\n")
        fh.write('  "trades": [\n')
        n = len(doc["trades"])
        for i, t in enumerate(doc["trades"]):
            fh.write("    " + json.dumps(t) + (",\n" if i < n - 1 else "\n"))
        fh.write("  ]\n}\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m aadrisk.batch.generate",
                                 description="Write a sample book valid on a market file.")
    ap.add_argument("--trades", type=int, default=100_000)
    ap.add_argument("--market", required=True, help="market JSON file")
    ap.add_argument("--products", default="", help="comma-separated (default: every product "
                    "with a template)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--name", default=None)
    ap.add_argument("--csv", action="store_true", help="write CSV (vanilla products)")
    ap.add_argument("--scenarios", type=int, default=0, metavar="DAYS",
                    help="write a scenario file with DAYS synthetic historical days instead")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    with open(a.market, encoding="utf-8") as fh:
        raw = json.load(fh)
    if a.scenarios:
        doc = scenario_file(raw, a.scenarios, a.seed)
        with open(a.out, "w", encoding="utf-8") as fh:
            fh.write("{\n")
            for k in ("name", "description", "scenarios"):
                fh.write(f"  {json.dumps(k)}: {json.dumps(doc[k])},\n")
            h = doc["historical"]
            fh.write('  "historical": {"confidence": %s, "horizon": %s, "scenarios": [\n'
                     % (json.dumps(h["confidence"]), json.dumps(h["horizon"])))
            fh.write(",\n".join("    " + json.dumps(x) for x in h["scenarios"]))
            fh.write("\n  ]}\n}\n")
        print(f"wrote {len(doc['scenarios'])} named and {a.scenarios} historical scenarios "
              f"to {a.out}", file=sys.stderr)
        return 0
    prods = [p.strip() for p in a.products.split(",") if p.strip()] or None
    doc, skipped = generate_book(a.trades, raw, products=prods, seed=a.seed, name=a.name)
    if skipped:
        print(f"skipped (no template): {', '.join(skipped)}", file=sys.stderr)
    if a.csv:
        write_csv(a.out, doc["trades"])
    else:
        write_json(a.out, doc)
    print(f"wrote {len(doc['trades'])} trades to {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
