"""Phoenix autocallable: limiting cases with closed answers, and Greeks = same-seed bumps."""
from __future__ import annotations

import numpy as np
import pytest

from aadrisk.mc import MonteCarlo, MultiGBM, phoenix

R = 0.03
STEPS = (3, 6, 9, 12)


@pytest.fixture(scope="module")
def mc():
    return MonteCarlo(MultiGBM(asset_names=("A", "B")), {"phx": phoenix(STEPS)}, n_steps=12)


def _inp(**kw):
    base = {"spot_0": 100.0, "spot_1": 80.0, "div_0": 0.01, "div_1": 0.02, "vol_0": 0.25,
            "vol_1": 0.3, "corr_0_1": 0.5, "_dt": np.full(12, 1 / 12), "_r": np.full(12, R),
            "phx.coupon": 0.02, "phx.coupon_barrier": 0.7, "phx.autocall_barrier": 1.0,
            "phx.ki_barrier": 0.6}
    base.update(kw)
    return base


def test_never_called_never_knocked_in_always_paid_is_a_coupon_bond(mc):
    r = mc.value(_inp(**{"phx.coupon_barrier": 1e-9, "phx.autocall_barrier": 1e9,
                         "phx.ki_barrier": 1e-9}), paths=2000, seed=1)
    dfs = np.exp(-R * np.array(STEPS) / 12)
    assert r.value["phx"] == pytest.approx(0.02 * dfs.sum() + dfs[-1], rel=1e-12)


def test_memory_coupons_add_value_path_by_path():
    """Memory pays missed coupons later: path by path it never pays less than no memory,
    and on a set where coupons are often missed it pays strictly more on average."""
    both = MonteCarlo(MultiGBM(asset_names=("A", "B")),
                      {"mem": phoenix(STEPS), "plain": phoenix(STEPS, memory=False)}, n_steps=12)
    inp = {k.replace("phx.", "mem."): v for k, v in _inp().items()}
    inp.update({k.replace("mem.", "plain."): v for k, v in inp.items() if k.startswith("mem.")})
    inp["mem.coupon_barrier"] = inp["plain.coupon_barrier"] = 0.95
    r = both.program.value(both._inputs(inp), batch=4000, seed=2)
    assert np.all(r.value["mem"] >= r.value["plain"] - 1e-15)
    assert r.value["mem"].mean() > r.value["plain"].mean() + 1e-3


def test_greeks_equal_same_seed_bumps(mc):
    base = _inp()
    g = mc.grad(base, paths=3000, seed=4).grad["phx"]
    for name in ("spot_0", "spot_1", "vol_0", "corr_0_1", "phx.coupon_barrier",
                 "phx.ki_barrier", "phx.coupon"):
        h = 1e-7 * max(1.0, abs(base[name]))
        up = mc.value({**base, name: base[name] + h}, paths=3000, seed=4).value["phx"]
        dn = mc.value({**base, name: base[name] - h}, paths=3000, seed=4).value["phx"]
        assert g[name] == pytest.approx((up - dn) / (2 * h), rel=1e-5, abs=1e-9), name
