"""Batch risk runs over whole portfolios (issue 5).

* :mod:`.portfolio` -- reading JSON / CSV portfolios and market files, with
  validation problems naming the file, trade id, field and value;
* :mod:`.run` -- the chunked, resumable run (``aadrisk risk BOOK --out DIR``):
  chunks of trades priced by :func:`aadrisk.risk.greeks.greek_vectors`, written
  atomically, merged deterministically, with a run manifest;
* :mod:`.executors` -- where chunks run: in process, a local process pool, or a
  Dask distributed scheduler;
* :mod:`.output` -- atomic Parquet / CSV writers;
* :mod:`.explain` -- P&L explain between two market snapshots;
* :mod:`.scenarios` -- full revaluation under scenario files, historical VaR / ES;
* :mod:`.generate` -- sample book generator (100,000+ trades).
"""
from __future__ import annotations

__all__ = ["load_portfolio", "load_market_file", "Portfolio", "PortfolioError", "run_batch",
           "RunOptions", "RunResult"]


def __getattr__(name):  # lazy: importing aadrisk.batch must not import numba kernels
    if name in ("load_portfolio", "load_market_file", "Portfolio", "PortfolioError"):
        from . import portfolio
        return getattr(portfolio, name)
    if name in ("run_batch", "RunOptions", "RunResult"):
        from . import run
        return getattr(run, name)
    raise AttributeError(name)
