"""Shared test configuration for aadrisk.

* A Hypothesis profile (``aadrisk``, the default; override with the
  ``HYPOTHESIS_PROFILE`` environment variable) without deadlines -- the first
  call of a compiled kernel in a process may load it from Numba's on-disk cache
  -- and with a moderate example count so that the suite stays fast in CI.
* A session-scoped autouse fixture that compiles (or loads from the cache) every
  evaluation kernel once, so compile time is not charged to individual tests.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "aadrisk", deadline=None, max_examples=50, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "thorough", deadline=None, max_examples=1000, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "aadrisk"))


@pytest.fixture(scope="session", autouse=True)
def warm_kernels():
    """Record a tiny program with a scan loop and run value/grad/jvp/hvp once."""
    import aadrisk as ad

    def tiny(*, x, k):
        def step(state, xs):
            s, acc = state
            s = s * ad.exp(xs["v"] * ad.normal())
            return s, acc + s

        s_end, acc = ad.scan(step, (x, 0.0), n_steps=3, xs=["v"])
        return ad.softplus(s_end - k, 0.5) + 0.1 * acc + ad.where(x > k, x, k)

    prog = ad.record(tiny)
    inputs = {"x": np.array([1.0, 1.2]), "k": 1.1, "v": np.full(3, 0.1)}
    prog.value(inputs)
    prog.grad(inputs)
    prog.jvp(inputs, {"x": 1.0})
    prog.hvp(inputs, {"x": 1.0})
    prog.grad(inputs, reduce="mean")
    prog.hvp(inputs, {"k": 1.0}, reduce="mean")
    yield


# -- shared inputs of the batch tests (tests/batch; session-scoped: the kernels warm once) --
import json  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PORTFOLIOS = ROOT / "portfolios"


@pytest.fixture(scope="session")
def market_raw():
    return json.loads((PORTFOLIOS / "market_full.json").read_text())


@pytest.fixture(scope="session")
def mixed_doc():
    return json.loads((PORTFOLIOS / "mixed_1000.json").read_text())


@pytest.fixture(scope="session")
def small_book(tmp_path_factory, mixed_doc):
    """60 trades of the mixed book with three bad ones (bad strike, unknown underlying,
    no trade id) and a duplicate id, as a JSON file."""
    trades = [dict(t) for t in mixed_doc["trades"][:60]]
    vanillas = [dict(t) for t in mixed_doc["trades"][60:] if t["product"] == "european_option"]
    trades[7], trades[23] = vanillas[0], vanillas[1]     # option trades for the bad fields
    trades[7]["strike"] = -1
    trades[23]["underlying"] = "NOPE"
    del trades[41]["trade_id"]
    trades[50]["trade_id"] = trades[10]["trade_id"]
    path = tmp_path_factory.mktemp("books") / "small.json"
    path.write_text(json.dumps({"name": "small", "trades": trades}))
    return path


@pytest.fixture(scope="session")
def warm(market_raw, mixed_doc):
    """Run every product's kernels once in this process."""
    from aadrisk.risk.greeks import greek_vectors

    greek_vectors(mixed_doc["trades"][:60], market_raw)
    return True


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the test process right after pytest's last hook, with pytest's exit status.

    Known issue (2026-11-26, not yet diagnosed): in some full-suite runs the
    interpreter's final teardown aborts inside LLVM (``StringMapImpl::RemoveKey``
    assertion, or a segfault) *after* every test has passed and the summary has
    been printed -- two of four full runs that day.  Skipping that teardown keeps the
    suite's exit status the tests' own; the status is never changed here.
    """
    import sys

    status = getattr(config, "_aadrisk_exitstatus", None)
    if status is None or os.environ.get("AADRISK_TEST_FULL_TEARDOWN"):
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(status))


def pytest_sessionfinish(session, exitstatus):
    session.config._aadrisk_exitstatus = exitstatus
