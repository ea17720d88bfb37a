"""Warm-up: price a tiny book of every product once, so the compiled kernels are loaded.

Used by the app's lifespan and by the Dockerfile (``python -m service.warmup``
fills the Numba on-disk cache at build time). Products are taken from
:data:`aadrisk.risk.greeks.GREEK_PRODUCTS`; a product whose required fields
are not known here is skipped (it then compiles on its first request).
"""
from __future__ import annotations

import dataclasses
import time

from aadrisk.risk.greeks import GREEK_PRODUCTS

#: A small full market: a bootstrapped curve, a vol surface, flat vols, model parameters.
WARMUP_MARKET = {
    "valuation_date": "2024-06-28",
    "rates": {"EUR": 0.035},
    "curves": {"USD-W": {"currency": "USD", "quotes": [
        {"kind": "depo", "tenor": "6M", "rate": 0.053},
        {"kind": "swap", "tenor": "2Y", "rate": 0.047},
        {"kind": "swap", "tenor": "5Y", "rate": 0.042}]}},
    "underlyings": {"SPX": {"spot": 5460.0, "div_yield": 0.013, "currency": "USD"},
                    "SX5E": {"spot": 4894.0, "vol": 0.15, "div_yield": 0.03,
                             "currency": "EUR"}},
    "vol_surfaces": {"SPX": {"expiries": ["2024-12-20", "2025-06-20"],
                             "strikes": [5000, 5500, 6000],
                             "vols": [[0.17, 0.135, 0.12], [0.168, 0.141, 0.125]]}},
    "models": {"heston": {"SPX": {"v0": 0.018, "kappa": 1.8, "theta": 0.025, "xi": 0.45,
                                  "rho": -0.7}},
               "sabr": {"SPX": {"alpha": 0.14, "beta": 1.0, "nu": 0.5, "rho": -0.4}}},
}

_VALUES = {"underlying": "SPX", "option_type": "call", "strike": 5500.0,
           "expiry": "2025-03-21", "quantity": 1.0, "barrier": 6500.0,
           "barrier_type": "up_out", "payoff": "cash", "cash": 1.0, "rebate": 0.0,
           "n_fixings": 0}


#: Optional fields set small in the warm-up book (the kernels do not depend on them; a
#: Monte Carlo trade with its default 20,000 paths costs a second at every start).
_SMALL = {"paths": 100}


def warmup_trades() -> list[dict]:
    """One trade per product whose required fields are known (plus an EUR flat-vol one)."""
    out = []
    for name, cls in GREEK_PRODUCTS.items():
        fields = dataclasses.fields(cls)
        required = [f.name for f in fields if f.name != "trade_id"
                    and f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        if any(r not in _VALUES for r in required):
            continue
        small = {f.name: _SMALL[f.name] for f in fields if f.name in _SMALL}
        out.append({"trade_id": f"warm-{name}", "product": name,
                    **{r: _VALUES[r] for r in required}, **small})
    out.append({"trade_id": "warm-sx5e", **{k: _VALUES[k] for k in
               ("underlying", "option_type", "strike", "expiry", "quantity")},
                "underlying": "SX5E", "strike": 4800.0})
    return out


def warmup() -> float:
    """Parse the warm-up market and evaluate the warm-up book through the service path;
    return the seconds it took."""
    from .compute import Job, evaluate
    from .markets import parse_market

    start = time.perf_counter()
    market = parse_market(WARMUP_MARKET)
    evaluate(market, [Job(warmup_trades(), {"portfolio": "warmup"})])
    return time.perf_counter() - start


if __name__ == "__main__":  # python -m service.warmup
    print(f"aadrisk service warm-up: {warmup():.2f} s")
