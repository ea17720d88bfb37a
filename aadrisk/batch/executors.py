"""Where chunks run: in this process, a local process pool, or a Dask distributed cluster.

Every executor has ``run(fn, tasks)`` yielding ``fn(task)`` results *as they finish*
(any order; the run orders them by chunk index), and ``close()``.

* :class:`InProcess` -- one chunk after the other (small books; no start-up cost);
* :class:`LocalPool` -- ``concurrent.futures.ProcessPoolExecutor`` with N worker
  processes (``forkserver`` start method, preloading the library so that workers
  start in a fraction of a second); each worker limits Numba's threads to
  ``cores // N`` so that N workers do not oversubscribe the machine;
* :class:`DaskExecutor` -- ``distributed.Client(address)`` of an existing scheduler
  (``--scheduler tcp://host:8786``): chunks are submitted as tasks, results come
  back to this process, which writes them (no shared file system needed).  As
  in the local pool, a chunk caps Numba's threads on its worker at the host's
  cores divided by the Dask worker threads on that host (:func:`numba_share`),
  so that two workers on one machine do not run two kernel threads each;
  ``NUMBA_NUM_THREADS`` on the workers stays an upper bound.

Results never depend on the executor or the number of workers: a chunk's
output is a function of its trades, the market and the options only.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping

__all__ = ["SchedulerError", "InProcess", "LocalPool", "DaskExecutor", "make_executor", "cpu_count",
           "numba_share", "run_on_dask_worker", "BATCH_DASK_CONFIG", "dask_config_env"]

#: Dask settings recommended for the scheduler, nannies and workers of a batch
#: cluster (docs/batch.md).  Dask's defaults sample every worker's running task
#: stack 100 times a second (the dashboard's profile), poll process memory every
#: 100 ms per worker and system metrics every 500 ms: about 5 % of a core per
#: process, idle or not, taken from the workers when the machine has no spare
#: core.  A batch of long chunk tasks needs none of it at that rate (the memory
#: limit is still enforced, once a second).
BATCH_DASK_CONFIG = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "200ms",
}


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover  (not Linux)
        return os.cpu_count() or 1


class SchedulerError(RuntimeError):
    """The Dask scheduler given with ``--scheduler`` cannot be reached."""


def _set_numba_threads(threads: int) -> None:
    """Cap Numba's threads (of the calling thread) at ``threads``, never above
    ``NUMBA_NUM_THREADS``; a hint: failures are ignored."""
    try:
        import numba

        numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
    except Exception:  # noqa: BLE001  (thread count is a hint)
        pass


def _init_worker(threads: int) -> None:
    os.environ["AADRISK_BATCH_WORKER"] = "1"
    _set_numba_threads(threads)


def dask_config_env(config: Mapping = BATCH_DASK_CONFIG) -> dict:
    """``config`` as the environment variables Dask reads at start (for ``dask worker`` and
    ``dask scheduler`` command lines).

    Examples
    --------
    >>> dask_config_env({"distributed.admin.tick.interval": "200ms"})
    {'DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL': '200ms'}
    """
    return {"DASK_" + "__".join(k.upper().replace("-", "_") for k in key.split(".")): str(v)
            for key, v in config.items()}


def numba_share(workers: Mapping) -> dict:
    """Dask worker address -> the Dask worker threads on its host, from
    ``scheduler_info()["workers"]``.

    Examples
    --------
    >>> numba_share({"tcp://a:1": {"host": "a", "nthreads": 1},
    ...              "tcp://a:2": {"host": "a", "nthreads": 1},
    ...              "tcp://b:1": {"host": "b", "nthreads": 4}})
    {'tcp://a:1': 2, 'tcp://a:2': 2, 'tcp://b:1': 4}
    """
    per_host: dict = {}
    for info in workers.values():
        host = info.get("host")
        per_host[host] = per_host.get(host, 0) + int(info.get("nthreads") or 1)
    return {addr: per_host[info.get("host")] for addr, info in workers.items()}


def run_on_dask_worker(fn: Callable, task, share: Mapping):
    """``fn(task)`` on a Dask worker, Numba's threads capped at this host's cores / the
    Dask worker threads on it (``share``: :func:`numba_share`; an unknown worker
    keeps its setting)."""
    try:
        from distributed import get_worker

        n = share.get(get_worker().address)
    except (ImportError, ValueError):
        n = None
    if n:
        _set_numba_threads(cpu_count() // n)
    return fn(task)


class InProcess:
    name = "in-process"
    workers = 1

    def run(self, fn: Callable, tasks: Iterable) -> Iterator:
        for t in tasks:
            yield fn(t)

    def close(self) -> None:
        pass


class LocalPool:
    """N worker processes on this machine."""

    name = "local-processes"

    def __init__(self, workers: int):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.workers = int(workers)
        if sys.platform.startswith("linux"):
            ctx = mp.get_context("forkserver")
            ctx.set_forkserver_preload(["aadrisk.risk.greeks", "aadrisk.batch.run"])
        else:  # pragma: no cover
            ctx = mp.get_context("spawn")
        threads = max(1, cpu_count() // self.workers)
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                         initializer=_init_worker, initargs=(threads,))

    def run(self, fn: Callable, tasks: Iterable) -> Iterator:
        from concurrent.futures import FIRST_COMPLETED, wait

        tasks = iter(tasks)
        pending = set()
        limit = 2 * self.workers        # bounded: never all chunks' inputs in flight
        while True:
            while len(pending) < limit:
                try:
                    pending.add(self._pool.submit(fn, next(tasks)))
                except StopIteration:
                    break
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield f.result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """Chunks as tasks on an existing Dask distributed scheduler."""

    name = "dask"

    def __init__(self, address: str, timeout: float | None = None):
        from distributed import Client

        self.address = address
        if timeout is None:
            timeout = float(os.environ.get("AADRISK_DASK_TIMEOUT", "30"))
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise SchedulerError(f"cannot reach the Dask scheduler at {address}: {exc}") \
                from None
        info = self.client.scheduler_info()
        self.workers = len(info.get("workers", {}))
        self.share = numba_share(info.get("workers", {}))

    def run(self, fn: Callable, tasks: Iterable) -> Iterator:
        from distributed import as_completed

        # submitted one by one as ``tasks`` yields them (the run builds each chunk's
        # payload on demand): the first chunk starts while later ones are being built
        futures = []
        for t in tasks:
            futures.append(self.client.submit(
                run_on_dask_worker, fn, t, self.share, pure=False,
                key=f"aadrisk-{fn.__name__}-{t.index}-{t.key[:12]}"))
        left = set(futures)
        try:
            for fut in as_completed(futures, loop=self.client.loop):
                res = fut.result()
                fut.release()
                left.discard(fut)
                yield res
        finally:
            if left:    # an interrupted run: ONE message to the scheduler, none after a full run
                self.client.cancel(list(left))

    def close(self) -> None:
        self.client.close()


def make_executor(workers: int, scheduler: str | None, n_chunks: int):
    """The executor for ``--workers`` / ``--scheduler`` (``workers=0``: every core)."""
    if scheduler:
        return DaskExecutor(scheduler)
    n = cpu_count() if workers <= 0 else workers
    n = max(1, min(n, n_chunks))
    return InProcess() if n == 1 else LocalPool(n)
