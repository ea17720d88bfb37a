"""Fixtures of the service tests: warm kernels once, apps on temporary SQLite files."""
from __future__ import annotations

import json
import pathlib
import warnings

import pytest

warnings.filterwarnings("ignore", message=".*httpx2.*")

from fastapi.testclient import TestClient  # noqa: E402

from service.app import create_app  # noqa: E402
from service.settings import Settings  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def warm_service():
    """Load the compiled kernels once for the session (the apps below skip warm-up)."""
    from service.warmup import warmup

    warmup()


@pytest.fixture(scope="session")
def market_full() -> dict:
    return json.loads((ROOT / "portfolios" / "market_full.json").read_text())


@pytest.fixture(scope="session")
def book_full() -> dict:
    return json.loads((ROOT / "portfolios" / "demo_full.json").read_text())


@pytest.fixture
def make_app(tmp_path):
    """``make_app(**settings)``: an app on a SQLite file in ``tmp_path`` (no warm-up)."""
    def make(**overrides):
        overrides.setdefault("db_path", str(tmp_path / "markets.sqlite3"))
        overrides.setdefault("warmup", False)
        return create_app(Settings(**overrides))
    return make


@pytest.fixture
def client(make_app):
    """A TestClient (lifespan run) of a default app."""
    with TestClient(make_app()) as c:
        yield c
