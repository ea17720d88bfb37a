"""Helpers shared by the benchmark scripts (see ``benchmarks/README.md``).

Rules implemented here, from ``WORKLOADS.md``:

* the first (warm-up, compiling) call is timed apart and never enters a median;
* reported times are medians of at least 5 repeats; jobs compared by a ratio
  are timed round-robin in the same process (one repeat of each job per
  round), so that noise from the shared machine hits all of them alike;
* peak memory is ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` read inside a
  fresh subprocess per measurement;
* the last line printed is one JSON object.
"""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

MIN_REPEATS = 5


def n_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":  # pragma: no cover - bytes there
        return kib / 2**20
    return kib / 1024.0


def timed(fn):
    """``(seconds, result)`` of one call of ``fn()``."""
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def bench(jobs: dict, repeats: int = 7) -> dict:
    """Time several jobs round-robin; the first call of each is the warm-up.

    Parameters
    ----------
    jobs : dict
        name -> zero-argument callable.  A job must block until its result is
        ready (e.g. call ``block_until_ready`` for JAX).
    repeats : int
        Timed repeats per job after the warm-up (at least ``MIN_REPEATS``).

    Returns
    -------
    dict
        name -> {"first_call_s", "median_s", "times_s"}; the median excludes
        the warm-up call.
    """
    repeats = max(int(repeats), MIN_REPEATS)
    out = {}
    for name, fn in jobs.items():
        t, _ = timed(fn)
        out[name] = {"first_call_s": t, "times_s": []}
    for _ in range(repeats):
        for name, fn in jobs.items():
            t, _ = timed(fn)
            out[name]["times_s"].append(t)
    for rec in out.values():
        rec["median_s"] = statistics.median(rec["times_s"])
    return out


def spread(rec: dict) -> str:
    """``median [min-max] over n`` of a :func:`bench` record, for printing."""
    ts = rec["times_s"]
    return f"{rec['median_s']:.4f} s  [min {min(ts):.4f}, max {max(ts):.4f}, n={len(ts)}]"


# -- subprocesses ---------------------------------------------------------------------

_LAUNCHER_CODE = r"""
import json, os, subprocess, sys
for line in sys.stdin:
    req = json.loads(line)
    env = dict(os.environ)
    env.update(req["env"])
    try:
        p = subprocess.run(req["argv"], env=env, capture_output=True, text=True,
                           timeout=req["timeout"])
        rep = {"rc": p.returncode, "stdout": p.stdout, "stderr": p.stderr}
    except subprocess.TimeoutExpired as exc:
        rep = {"rc": -1, "stdout": str(exc.stdout or ""), "stderr": "timeout"}
    sys.stdout.write(json.dumps(rep) + "\n")
    sys.stdout.flush()
"""
_launcher = None


def start_launcher() -> None:
    """Start a tiny stdlib-only process that will spawn the measurement children.

    On Linux a child's ``ru_maxrss`` starts from the peak RSS of the process
    that spawned it (the spawning address space is accounted at ``exec``), so
    a child spawned by a large benchmark process would report at least the
    parent's peak.  Call this at the start of a script, while it is small;
    :func:`run_child` then spawns through the launcher.
    """
    global _launcher
    if _launcher is None:
        _launcher = subprocess.Popen([sys.executable, "-c", _LAUNCHER_CODE],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def run_child(argv: list, *, env_extra: dict | None = None, timeout: float = 1800.0) -> dict:
    """Run ``python argv...`` in a fresh process and return the JSON of its last line.

    Spawns through the launcher when :func:`start_launcher` was called.  On
    failure the child's output is shown and ``RuntimeError`` raised.
    """
    cmd = [sys.executable, *argv]
    if _launcher is not None:
        _launcher.stdin.write(json.dumps({"argv": cmd, "env": env_extra or {},
                                          "timeout": timeout}) + "\n")
        _launcher.stdin.flush()
        rep = json.loads(_launcher.stdout.readline())
        rc, stdout, stderr = rep["rc"], rep["stdout"], rep["stderr"]
    else:
        env = dict(os.environ)
        env.update(env_extra or {})
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if rc != 0 or not lines:
        sys.stderr.write(stdout[-4000:] + stderr[-4000:])
        raise RuntimeError(f"child {argv} failed with exit code {rc}")
    return json.loads(lines[-1])


def current_rss_mib() -> float | None:
    """Current resident set size (``VmRSS``), MiB; ``None`` where /proc is absent."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset this process's RSS high-water mark (Linux ``clear_refs`` 5), if allowed.

    After a reset, ``ru_maxrss`` reports the peak reached since the reset.
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def child_reply(obj: dict) -> None:
    """Last line of a child process: its figures as JSON for :func:`run_child`."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def empty_cache_dir(tag: str) -> str:
    """A new empty directory to pass as ``NUMBA_CACHE_DIR`` (cold compile)."""
    return tempfile.mkdtemp(prefix=f"aadrisk-bench-{tag}-numba-")


# -- peers ------------------------------------------------------------------------------

def load_jax():
    """JAX configured for float64, or ``None`` with a clear 'JAX absent' message."""
    try:
        import jax
    except Exception as exc:  # ImportError, or a broken jaxlib
        print(f"JAX absent ({type(exc).__name__}: {exc}); the JAX peers are not measured. "
              "Install them with: pip install 'aadrisk[bench]'")
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


def load_ndtr():
    """``scipy.special.ndtr`` (vectorised normal CDF) or ``None`` with a message."""
    try:
        from scipy.special import ndtr
    except Exception as exc:
        print(f"SciPy absent ({type(exc).__name__}); the NumPy closed-form peer, which needs "
              "scipy.special.ndtr for a vectorised normal CDF, is not measured.")
        return None
    return ndtr


# -- output ---------------------------------------------------------------------------------

def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items() if v is not None}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float):
        return float(f"{x:.6g}")
    if hasattr(x, "item"):  # numpy scalar
        return _clean(x.item())
    return x


def print_json_last(obj: dict) -> None:
    """Print the benchmark's JSON summary as the very last line of stdout.

    Keys whose value is ``None`` (figures not measured) are left out.
    """
    sys.stdout.flush()
    sys.stdout.write(json.dumps(_clean(obj)) + "\n")
    sys.stdout.flush()


def environment() -> dict:
    """Versions and core count, for the JSON summary."""
    import numba
    import numpy as np

    info = {"python": sys.version.split()[0], "numpy": np.__version__,
            "numba": numba.__version__, "cores": n_cores()}
    try:
        import jax
        info["jax"] = jax.__version__
    except Exception:
        pass
    info.update(aadrisk_source())
    return info


def aadrisk_source() -> dict:
    """Where the measured aadrisk comes from: its path, git commit and local changes."""
    import aadrisk

    pkg = os.path.dirname(os.path.abspath(aadrisk.__file__))
    out = {"aadrisk_path": pkg}
    try:
        def git(*args):
            return subprocess.run(["git", "-C", pkg, *args], capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        out["aadrisk_commit"] = git("rev-parse", "--short", "HEAD")
        out["aadrisk_uncommitted_files"] = len(git("status", "--porcelain", "--", ".").splitlines())
    except Exception:  # not a git checkout, or git missing
        pass
    return out


def report_aad_vs_jax(t: dict, *, workload: str, size: dict, n_greeks: int,
                      jax_target: str, extra: dict | None = None) -> None:
    """Print the timing lines of an ``aad_price`` / ``aad_greeks`` (/ ``jax_price`` /
    ``jax``) :func:`bench` record, the ratios, and the JSON last line."""
    for name, rec in t.items():
        print(f"  {name:11s} first call {rec['first_call_s']:7.3f} s | median {spread(rec)}")
    price_s, greeks_s = t["aad_price"]["median_s"], t["aad_greeks"]["median_s"]
    print(f"  greeks_s / price_s (aadrisk) = {greeks_s / price_s:.3f}  (target <= 2)")
    peers = {}
    if "jax" in t:
        peers = {"jax": t["jax"]["median_s"], "jax_price": t["jax_price"]["median_s"]}
        print(f"  aadrisk / JAX, price + Greeks = {greeks_s / peers['jax']:.3f} "
              f"(target {jax_target}); price only = {price_s / peers['jax_price']:.3f}")
    print_json_last({"workload": workload, "size": size, "n_greeks": n_greeks,
                     "price_s": price_s, "greeks_s": greeks_s, "ratio": greeks_s / price_s,
                     **(extra or {}), "first_call_s": t["aad_greeks"]["first_call_s"],
                     "peers": peers, "env": environment()})
