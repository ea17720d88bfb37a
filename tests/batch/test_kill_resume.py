"""A run killed (SIGKILL) mid-way and started again ends bit-identical to a clean run."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aadrisk.batch.run import FINAL_FILES, PAUSE_ENV

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from aadrisk.cli import app; app()", "risk"]


def _cli(args, env_extra=None, **kw):
    env = dict(os.environ, PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.Popen(CLI + [str(a) for a in args], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, **kw)


def test_sigkill_mid_run_then_resume_is_bit_identical_to_a_clean_run(tmp_path):
    book = ROOT / "portfolios" / "mixed_1000.json"
    market = ROOT / "portfolios" / "market_full.json"
    args = [book, "-m", market, "--chunk-size", "150", "--workers", "1", "--quiet"]
    killed = tmp_path / "killed"
    p = _cli(args + ["--out", killed], {PAUSE_ENV: "3"})
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            if len(list((killed / "chunks").glob("*.chunk"))) >= 3:
                break
            assert p.poll() is None, p.communicate()
            time.sleep(0.2)
        else:
            raise AssertionError("no chunks committed in time")
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
    assert p.returncode == -signal.SIGKILL
    # killed mid-way: chunks, no final results
    assert not (killed / "manifest.json").exists()
    assert not any((killed / f"{n}.parquet").exists() for n in FINAL_FILES)
    # a temp file left by a write interrupted at the worst moment is ignored
    (killed / "chunks" / ".00004-deadbeef.greeks.parquet.x.tmp").write_bytes(b"junk")

    p = _cli(args + ["--out", killed])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err.decode()
    clean = tmp_path / "clean"
    p = _cli(args + ["--out", clean, "--fresh", "--workers", "2"])
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err.decode()

    import json
    man = json.loads((killed / "manifest.json").read_text())
    assert man["counts"]["chunks_reused"] == 3 and man["counts"]["chunks_computed"] == 4
    assert json.loads((clean / "manifest.json").read_text())["counts"]["chunks_reused"] == 0
    for name in FINAL_FILES:
        assert (killed / f"{name}.parquet").read_bytes() == \
            (clean / f"{name}.parquet").read_bytes(), name
    assert not list((killed / "chunks").glob(".*"))
