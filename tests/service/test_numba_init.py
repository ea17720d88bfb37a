"""service.numba_init: kernels loaded from the disk cache without Numba's target refresh
give the answers of Numba's own path, and a cache miss still compiles."""
from __future__ import annotations

import subprocess
import sys

_DIGEST = """
import hashlib, sys
from service.compute import Job, evaluate
from service.markets import parse_market
from service.warmup import WARMUP_MARKET, warmup_trades
if sys.argv[1] == "light":
    from service.numba_init import init_numba_target
    init_numba_target()
market = parse_market(WARMUP_MARKET)
out = evaluate(market, [Job(warmup_trades(), {"portfolio": "p"})])[0]
print(hashlib.sha256(out).hexdigest(), "numba.np.arraymath" in sys.modules)
"""


def _run(code: str, *args: str) -> str:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, timeout=600).stdout.strip().splitlines()[-1]


def test_light_loading_gives_numba_s_answers():
    """Every warm-up product (all kernels of the service's request path) evaluated in a
    process that loads kernels the light way and in one that refreshes the target as
    Numba does: the same JSON bytes."""
    light, light_refreshed = _run(_DIGEST, "light").split()
    full, full_refreshed = _run(_DIGEST, "full").split()
    assert light == full
    assert (light_refreshed, full_refreshed) == ("False", "True")


def test_cache_miss_still_compiles_after_light_init():
    """A kernel compiled after the light initialisation (here one using BLAS, sorting and
    hashing) gets Numba's full target, with its real BLAS check."""
    code = ("import numpy as np, numba\n"
            "from service.numba_init import init_numba_target\n"
            "assert init_numba_target() and not init_numba_target()\n"
            "from service.warmup import VANILLA, warmup\n"
            "warmup(VANILLA)\n"
            "f = numba.njit(lambda a: np.dot(a, a) + np.sort(a)[0] + (hash((1, 2)) == hash((1, 2))))\n"
            "print(f(np.arange(3.0)))\n")
    assert _run(code) == "6.0"
