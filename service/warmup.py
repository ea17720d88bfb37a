"""Warm-up: price a tiny book of every product once, so the compiled kernels are loaded.

Used by the app's lifespan and by the Dockerfile (``python -m service.warmup``
fills the Numba on-disk cache at build time). Products are taken from
:data:`aadrisk.risk.greeks.GREEK_PRODUCTS`; a product whose required fields
are not known here is skipped (it then compiles on its first request).

The lifespan warms in two steps: :data:`VANILLA` products (and the warm-up
market, whose curve bootstrap loads the bootstrap kernels) before ``/v1/ready``
answers 200, every other product in the background afterwards
(:func:`warm_when_quiet`: one product at a time, each once no request has been
in flight for a moment, so the first requests after a restart do not share the
interpreter with the loading of kernels they do not use). First
:func:`service.numba_init.init_numba_target` makes kernels load from the disk
cache without Numba's target refresh (its registries, SciPy).
"""
from __future__ import annotations

import asyncio
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


#: Products warmed before the service is ready (the vanilla request path).
VANILLA = ("european_option",)


def warmup_trades(products=None) -> list[dict]:
    """One trade per product whose required fields are known (plus an EUR flat-vol one).

    Parameters
    ----------
    products : collection of str, optional
        Only these products (default: all). The EUR flat-vol European option is
        included whenever ``european_option`` is.

    Examples
    --------
    >>> [t["product"] for t in warmup_trades(VANILLA)]
    ['european_option', 'european_option']
    """
    out = []
    for name, cls in GREEK_PRODUCTS.items():
        if products is not None and name not in products:
            continue
        fields = dataclasses.fields(cls)
        required = [f.name for f in fields if f.name != "trade_id"
                    and f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING]
        if any(r not in _VALUES for r in required):
            continue
        small = {f.name: _SMALL[f.name] for f in fields if f.name in _SMALL}
        out.append({"trade_id": f"warm-{name}", "product": name,
                    **{r: _VALUES[r] for r in required}, **small})
    if products is None or "european_option" in products:
        out.append({"trade_id": "warm-sx5e", "product": "european_option",
                    **{k: _VALUES[k] for k in ("option_type", "expiry", "quantity")},
                    "underlying": "SX5E", "strike": 4800.0})
    return out


_MARKET: dict = {}


def warmup_stages(products=None) -> dict[str, float]:
    """Initialise Numba's target, parse the warm-up market and evaluate the warm-up book
    of ``products`` (default: all) through the service path; seconds per stage.

    Returns
    -------
    dict
        ``numba_target``, ``market`` (parse with its curve bootstrap), ``body_scan``
        (the fast path's scan of a body with the warm-up book), then one entry
        per product (its trades evaluated alone: mostly loading its kernels from
        Numba's disk cache the first time).
    """
    import orjson

    from .compute import Job, evaluate
    from .bodyscan import scan_body
    from .markets import parse_market
    from .numba_init import init_numba_target
    from .schemas import trade_field_kinds

    out = {}
    start = time.perf_counter()
    init_numba_target()
    out["numba_target"] = time.perf_counter() - start
    start = time.perf_counter()
    market = _MARKET.get("parsed")
    if market is None:   # parsed once per process (the second step reuses it)
        market = _MARKET["parsed"] = parse_market(WARMUP_MARKET)
    out["market"] = time.perf_counter() - start
    start = time.perf_counter()
    scan_body(orjson.dumps({"portfolio": {"trades": warmup_trades(products)},
                            "market_id": "warmup"}), trade_field_kinds())  # its kernels
    out["body_scan"] = time.perf_counter() - start
    by_product: dict[str, list] = {}
    for t in warmup_trades(products):
        by_product.setdefault(t["product"], []).append(t)
    for name, trades in by_product.items():
        start = time.perf_counter()
        evaluate(market, [Job(trades, {"portfolio": "warmup"})])
        out[name] = time.perf_counter() - start
    return out


def warmup(products=None) -> float:
    """:func:`warmup_stages`; return the seconds it took in all."""
    return sum(warmup_stages(products).values())


#: seconds without a request in flight before the next background product is warmed
QUIET_S = 0.25


async def warm_when_quiet(executor, metrics, products, stop: asyncio.Event,
                          quiet_s: float = QUIET_S) -> None:
    """Warm ``products`` one at a time in ``executor``, each once no request has been in
    flight for ``quiet_s`` seconds (``metrics``: :class:`service.metrics.Metrics`); return
    early when ``stop`` is set. A product still cold when a request needs it loads its
    kernels then, as it would without warm-up. ``products`` is a list: each product is
    removed from it once warm (``/v1/ready`` shows what is left). The quiet is counted
    from this call at the earliest: a process that had no request before it became
    ready (the second of two started together) leaves the first requests after the
    start to themselves, instead of loading kernels beside them."""
    loop = asyncio.get_running_loop()
    since = time.monotonic()
    while products:
        while not stop.is_set() and min(metrics.quiet_for(),
                                        time.monotonic() - since) < quiet_s:
            await asyncio.sleep(quiet_s / 2)
        if stop.is_set():
            return
        await loop.run_in_executor(executor, warmup, [products[0]])
        products.pop(0)


if __name__ == "__main__":  # python -m service.warmup
    stages = warmup_stages()
    print(f"aadrisk service warm-up: {sum(stages.values()):.2f} s ("
          + ", ".join(f"{k} {1e3 * v:.0f} ms" for k, v in stages.items()) + ")")
