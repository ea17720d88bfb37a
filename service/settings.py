"""Service settings: a small typed object read from ``AADRISK_*`` environment variables.

=============================  ==========================  =====================================
variable                       default                     meaning
=============================  ==========================  =====================================
``AADRISK_API_KEYS``           (unset: no auth)            comma-separated accepted API keys
``AADRISK_DB_PATH``            ``aadrisk-markets.sqlite3``  SQLite file of stored markets
                                                           (``:memory:`` keeps nothing)
``AADRISK_BATCH_WINDOW_MS``    ``5``                       micro-batch window; 0 disables batching
``AADRISK_BATCH_QUIET_MS``     ``1``                       the window closes once no request has
                                                           joined for this long (0: never early)
``AADRISK_BATCH_CONCURRENCY``  ``1``                       batches evaluated at the same time
``AADRISK_BATCH_MAX_REQUEST``  ``250``                     larger requests are evaluated alone
``AADRISK_MAX_BATCH_TRADES``   ``20000``                   a batch is flushed at once beyond this
``AADRISK_MAX_BODY_BYTES``     ``10000000``                larger request bodies get 413
``AADRISK_REQUEST_TIMEOUT_S``  ``30``                      slower requests get 504
``AADRISK_CORS_ORIGINS``       (unset: CORS off)           comma-separated allowed origins
``AADRISK_COMPUTE_THREADS``    ``1``                       threads running the pricing
``AADRISK_WORKERS``            ``1``                       uvicorn worker processes (serve)
``AADRISK_KEEP_ALIVE_S``       ``75``                      idle keep-alive timeout (serve)
``AADRISK_WARMUP``             ``1``                       price a tiny book at startup
``AADRISK_MARKET_CACHE``       ``32``                      parsed markets kept in memory
``AADRISK_GC_GEN0``            ``50000``                   garbage-collector generation-0
                                                           threshold while serving (0: Python's)
=============================  ==========================  =====================================
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

PREFIX = "AADRISK_"


class SettingsError(ValueError):
    """An ``AADRISK_*`` variable has a value of the wrong type (names the variable)."""


def _csv(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be one of 1/0, true/false, yes/no, on/off")


@dataclasses.dataclass(frozen=True)
class Settings:
    """Service settings (see the module table for the environment variables).

    Parameters
    ----------
    api_keys : tuple of str
        Accepted API keys; empty: no authentication.
    db_path : str
        SQLite database of stored markets (``":memory:"``: not persisted).
    batch_window_ms : float
        Requests on the same market arriving within this window share one
        ``greek_vectors`` call; ``0`` disables batching.
    batch_quiet_ms : float
        A batch's window closes early once no request has joined it for this long (the
        requests that came together are in); ``0`` (or more than the window): the
        window alone decides.
    batch_concurrency : int
        Batches evaluated at the same time; a dispatched batch keeps collecting
        requests until one of these slots is free. The evaluation is mostly Python
        holding the GIL, so 1 (the default) gives the largest batches.
    batch_max_request : int
        A request with more trades than this is evaluated alone, at once (merging
        gains nothing for large books and would make them wait for each other).
    max_batch_trades : int
        A pending batch is evaluated at once when it holds this many trades.
    max_body_bytes : int
        Request bodies larger than this are refused with 413.
    request_timeout_s : float
        Time limit of one risk request (504 beyond).
    cors_origins : tuple of str
        Origins allowed by CORS; empty: no CORS headers at all.
    compute_threads : int
        Size of the thread pool running body parsing, market parsing and pricing. One
        by default: that work is mostly Python holding the GIL, so a second thread adds
        GIL hand-offs, not throughput (measured: 8 clients of 1,000-trade books, server
        CPU per request 11-12 ms with one thread, 13-15 ms with two); the compiled
        kernels use every core on their own, and ``aadrisk serve --workers N`` scales
        the Python part.
    workers : int
        Uvicorn worker processes (``aadrisk serve``).
    keep_alive_s : float
        Idle keep-alive timeout of ``aadrisk serve`` (uvicorn's default of 5 s lets a
        busy client's reused connection be closed under it: ``ReadError``).
    warmup : bool
        Price a tiny book in the lifespan so the compiled kernels are loaded.
    market_cache : int
        Parsed market snapshots kept in memory (by stored id+version or content hash).
    gc_gen0 : int
        Generation-0 threshold of Python's cyclic garbage collector while the app runs
        (the objects alive after start-up are frozen out of its scans); ``0`` keeps
        Python's settings. A 1,000-trade answer allocates tens of thousands of lists and
        dicts, all freed by reference counting: with Python's default (700) they trigger
        dozens of collections per request that find nothing.
    """

    api_keys: tuple[str, ...] = ()
    db_path: str = "aadrisk-markets.sqlite3"
    batch_window_ms: float = 5.0
    batch_quiet_ms: float = 1.0
    batch_concurrency: int = 1
    batch_max_request: int = 250
    max_batch_trades: int = 20_000
    max_body_bytes: int = 10_000_000
    request_timeout_s: float = 30.0
    cors_origins: tuple[str, ...] = ()
    compute_threads: int = 1
    workers: int = 1
    keep_alive_s: float = 75.0
    warmup: bool = True
    market_cache: int = 32
    gc_gen0: int = 50_000

    def __post_init__(self):
        for name in ("batch_window_ms", "batch_quiet_ms", "request_timeout_s", "keep_alive_s",
                     "gc_gen0"):
            if getattr(self, name) < 0:
                raise SettingsError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("max_batch_trades", "max_body_bytes", "compute_threads", "workers",
                     "market_cache", "batch_concurrency", "batch_max_request"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be >= 1, got {getattr(self, name)!r}")

    @property
    def batching(self) -> bool:
        """True when requests are merged (window > 0)."""
        return self.batch_window_ms > 0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Read ``AADRISK_<FIELD>`` variables (field name upper-cased); ``overrides`` win.

        Raises
        ------
        SettingsError
            A variable cannot be converted (names the variable and the value).
        """
        env = os.environ if environ is None else environ
        values = {}
        for f in dataclasses.fields(cls):
            key = PREFIX + f.name.upper()
            if key not in env:
                continue
            raw = env[key]
            conv = {"int": int, "float": float, "bool": _bool, "str": str,
                    "tuple[str, ...]": _csv}[str(f.type)]
            try:
                values[f.name] = conv(raw)
            except ValueError as exc:
                raise SettingsError(f"{key}={raw!r}: {exc}") from None
        values.update(overrides)
        return cls(**values)
