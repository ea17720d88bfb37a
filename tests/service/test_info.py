"""Products, health, readiness, metrics, OpenAPI, settings and the ``aadrisk serve`` command."""
from __future__ import annotations

import dataclasses

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from aadrisk.risk.greeks import GREEK_PRODUCTS
from service.settings import Settings, SettingsError

from _svc_helpers import vanilla


def test_products_are_derived_from_the_registry(client):
    prods = {p["product"]: p for p in client.get("/v1/products").json()}
    assert set(prods) == set(GREEK_PRODUCTS)
    for name, cls in GREEK_PRODUCTS.items():
        names = [f["name"] for f in prods[name]["fields"]]
        assert set(names) == {f.name for f in dataclasses.fields(cls)} | {"product"}
    fields = {f["name"]: f for f in prods["barrier_option"]["fields"]}
    assert fields["barrier"] == {"name": "barrier", "type": "number", "required": True,
                                 "default": None}
    assert fields["rebate"]["default"] == 0.0 and not fields["rebate"]["required"]
    assert fields["expiry"]["type"] == "date"
    assert prods["digital_option"]["description"]


def test_health_and_readiness(make_app):
    app = make_app(warmup=True)
    c = TestClient(app)                       # no lifespan yet: alive, not ready
    assert c.get("/v1/health").json()["status"] == "ok"
    assert c.get("/v1/ready").status_code == 503
    with TestClient(app) as c:               # lifespan: warm-up, then ready
        r = c.get("/v1/ready")
        assert r.status_code == 200 and r.json()["warm"] and r.json()["warmup_seconds"] > 0
    assert app.state.svc.closed
    with TestClient(app) as c:               # a second lifespan of the same app reopens
        assert c.get("/v1/ready").status_code == 200
        assert c.get("/v1/markets").json() == []


def test_metrics_count_requests_by_route(client, market_full):
    client.put("/v1/markets/m1", json=market_full)
    client.get("/v1/markets/m1")
    client.get("/v1/markets/nope")
    client.post("/v1/risk", json={"portfolio": {"trades": vanilla(2)}, "market_id": "m1"})
    text = client.get("/metrics").text
    assert ('aadrisk_http_requests_total{method="GET",route="/v1/markets/{market_id}",'
            'status="404"} 1.0') in text
    assert ('aadrisk_http_requests_total{method="POST",route="/v1/risk",status="200"} 1.0'
            in text)
    assert 'aadrisk_http_request_duration_seconds_bucket{le="0.05",method="POST",' \
           'route="/v1/risk"}' in text
    assert "aadrisk_batch_trades_count 1.0" in text


def test_openapi_has_examples_and_docs(client):
    spec = client.get("/openapi.json").json()
    assert {"/v1/risk", "/v1/risk/batch", "/v1/markets/{market_id}", "/v1/products",
            "/v1/health", "/v1/ready", "/metrics"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert schemas["RiskRequest"]["examples"] and schemas["Market"]["examples"]
    assert "504" in spec["paths"]["/v1/risk"]["post"]["responses"]
    assert client.get("/docs").status_code == 200


def test_settings_from_env():
    s = Settings.from_env({"AADRISK_API_KEYS": " a, b ,", "AADRISK_BATCH_WINDOW_MS": "0",
                           "AADRISK_WARMUP": "off", "AADRISK_CORS_ORIGINS": "https://x.y",
                           "AADRISK_MAX_BODY_BYTES": "1000", "OTHER": "1"})
    assert s.api_keys == ("a", "b") and not s.batching and not s.warmup
    assert s.cors_origins == ("https://x.y",) and s.max_body_bytes == 1000
    assert Settings.from_env({}) == Settings()
    with pytest.raises(SettingsError, match="AADRISK_MAX_BODY_BYTES"):
        Settings.from_env({"AADRISK_MAX_BODY_BYTES": "ten"})
    with pytest.raises(SettingsError, match="compute_threads"):
        Settings(compute_threads=0)


def test_serve_command(monkeypatch):
    from aadrisk.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "aadrisk serve --host" in r.output
    seen = {}
    import uvicorn
    monkeypatch.setattr(uvicorn, "run", lambda target, **kw: seen.update(target=target, **kw))
    r = runner.invoke(app, ["serve", "--port", "9001"])
    assert r.exit_code == 0
    assert seen["target"] == "service.app:app" and seen["port"] == 9001 and seen["workers"] == 1
    assert seen["timeout_keep_alive"] == 75 and seen["host"] == "127.0.0.1"
    # several processes: each its own SO_REUSEPORT socket where the kernel balances them
    import service.processes as sp
    got = {}
    monkeypatch.setattr(sp, "run", lambda target, **kw: got.update(target=target, **kw) or 0)
    monkeypatch.setattr(sp, "reuseport_supported", lambda: True)
    r = runner.invoke(app, ["serve", "--port", "9001", "--workers", "2"])
    assert r.exit_code == 0 and got["workers"] == 2 and got["port"] == 9001
    assert got["timeout_keep_alive"] == 75 and got["target"] == "service.app:app"
    assert got["access_log"] is True
    runner.invoke(app, ["serve", "--workers", "2", "--no-access-log"])
    assert got["access_log"] is False
    monkeypatch.setattr(sp, "reuseport_supported", lambda: False)   # elsewhere: uvicorn's own
    seen.clear()
    r = runner.invoke(app, ["serve", "--port", "9001", "--workers", "2"])
    assert r.exit_code == 0 and seen["workers"] == 2
    monkeypatch.setenv("AADRISK_WORKERS", "x")
    assert runner.invoke(app, ["serve"]).exit_code == 2


def test_readiness_path_does_not_import_scipy_linalg():
    """Kernels are loaded from Numba's disk cache without the target refresh
    (service.numba_init): a fresh process that imports the app and runs the vanilla
    warm-up has priced trades without Numba's implementation registries or SciPy."""
    import subprocess
    import sys

    code = ("import sys, service.app; service.app.create_app; "
            "from service.warmup import VANILLA, warmup_stages; s = warmup_stages(VANILLA); "
            "print(sorted(s), 'scipy.linalg' in sys.modules, 'numba.np.arraymath' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=300).stdout.split("\n")[0]
    assert out == "['body_scan', 'european_option', 'market', 'numba_target'] False False"
