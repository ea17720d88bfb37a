"""Chunks on a Dask distributed scheduler (a LocalCluster of this machine)."""
from __future__ import annotations

import filecmp

import pytest
from typer.testing import CliRunner

from aadrisk.batch.portfolio import load_portfolio
from aadrisk.batch.run import FINAL_FILES, RunOptions, run_batch
from aadrisk.cli import app

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    c = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                     silence_logs=40, death_timeout=60)
    try:
        yield c
    finally:
        c.close(timeout=60)


def test_dask_run_matches_the_local_run_byte_for_byte(tmp_path, cluster, small_book,
                                                      market_raw, warm):
    pf = load_portfolio(small_book)
    rd = run_batch(pf, market_raw, RunOptions(out=tmp_path / "dask", chunk_size=10,
                                              scheduler=cluster.scheduler_address))
    run_batch(pf, market_raw, RunOptions(out=tmp_path / "local", chunk_size=10, workers=1))
    assert rd.manifest["options"]["executor"] == "dask"
    assert rd.manifest["options"]["executor_workers"] == 2
    assert len({c["worker"] for c in rd.manifest["timings"]["chunks"]}) == 2
    for name in FINAL_FILES:
        assert filecmp.cmp(tmp_path / "dask" / f"{name}.parquet",
                           tmp_path / "local" / f"{name}.parquet", shallow=False), name
    assert list(rd.errors["position"]) == [7, 23, 41, 50]


def test_cli_scheduler_option(tmp_path, cluster, small_book, market_raw):
    import json

    m = tmp_path / "m.json"
    m.write_text(json.dumps(market_raw))
    res = CliRunner().invoke(app, ["risk", str(small_book), "-m", str(m), "--out",
                                   str(tmp_path / "o"), "--chunk-size", "20", "--scheduler",
                                   cluster.scheduler_address])
    assert res.exit_code == 1, res.output          # the book has 4 bad trades
    assert "56 of 60 trade(s) priced, 4 rejected" in res.stdout
    assert "on dask" in res.stdout


def test_unreachable_scheduler_exits_2(tmp_path, small_book, market_raw, monkeypatch):
    import json

    monkeypatch.setenv("AADRISK_DASK_TIMEOUT", "3")
    m = tmp_path / "m.json"
    m.write_text(json.dumps(market_raw))
    res = CliRunner().invoke(app, ["risk", str(small_book), "-m", str(m), "-q",
                                   "--scheduler", "tcp://127.0.0.1:9"])
    assert res.exit_code == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in res.stderr


def test_chunks_run_with_numba_threads_of_their_share_of_the_host(cluster):
    """Two 1-thread workers on this host: each chunk runs with cores // 2 Numba threads
    (at least 1, at most the worker's NUMBA_NUM_THREADS), as in the local pool."""
    import types

    from aadrisk.batch.executors import DaskExecutor, cpu_count

    def threads(_task):
        import numba

        return numba.get_num_threads(), numba.config.NUMBA_NUM_THREADS

    ex = DaskExecutor(cluster.scheduler_address)
    try:
        assert sorted(ex.share.values()) == [2, 2]
        tasks = [types.SimpleNamespace(index=i, key=f"k{i}" * 8) for i in range(4)]
        got = list(ex.run(threads, tasks))
    finally:
        ex.close()
    assert len(got) == 4
    for n, limit in got:
        assert n == max(1, min(cpu_count() // 2, limit))


def test_batch_dask_config_round_trips_through_the_environment():
    """The environment variables the docs give for ``dask worker`` set BATCH_DASK_CONFIG."""
    import dask.config

    from aadrisk.batch.executors import BATCH_DASK_CONFIG, dask_config_env

    env = dask_config_env()
    assert all(k.startswith("DASK_DISTRIBUTED__") for k in env)
    cfg = dask.config.collect_env(env)
    for key, value in BATCH_DASK_CONFIG.items():
        node = cfg
        for part in key.split("."):
            node = node[part] if part in node else node[part.replace("-", "_")]
        assert node == value, key


def test_an_interrupted_dask_run_cancels_the_chunks_not_consumed(cluster):
    """Closing the result iterator early (a failed commit, Ctrl-C) cancels every chunk
    whose result was not taken, running or finished, in one go."""
    import types

    from aadrisk.batch.executors import DaskExecutor

    def chunk(task):
        import time

        time.sleep(0.0 if task.index == 0 else 2.0)
        return task.index

    ex = DaskExecutor(cluster.scheduler_address)
    try:
        results = ex.run(chunk, [types.SimpleNamespace(index=i, key=f"c{i}" * 8)
                                 for i in range(5)])
        assert next(results) == 0

        def pending():
            return sorted(k for k, st in ex.client.futures.items() if st.status == "pending")

        assert len(pending()) == 4
        results.close()
        assert pending() == []
    finally:
        ex.close()
