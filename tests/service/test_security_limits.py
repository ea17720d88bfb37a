"""API keys, body size limit, time limit, CORS, and no 500 for a failing evaluation."""
from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from _svc_helpers import vanilla

FLAT = {"valuation_date": "2024-06-28", "rate": 0.05,
        "underlyings": {"SPX": {"spot": 5000.0, "vol": 0.2}}}


@pytest.fixture
def keyed(make_app):
    with TestClient(make_app(api_keys=("k1", "k2"))) as c:
        yield c


@pytest.mark.parametrize("method,path", [("get", "/v1/products"), ("get", "/v1/markets"),
                                         ("get", "/v1/markets/x"), ("delete", "/v1/markets/x"),
                                         ("post", "/v1/risk"), ("post", "/v1/risk/batch"),
                                         ("put", "/v1/markets/x")])
def test_api_key_required(keyed, method, path):
    r = keyed.request(method, path, json={})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    r = keyed.request(method, path, json={}, headers={"X-API-Key": "wrong"})
    assert r.status_code == 403
    r = keyed.request(method, path, json={}, headers={"X-API-Key": "k2"})
    assert r.status_code not in (401, 403)


def test_health_ready_metrics_need_no_key(keyed):
    for path in ("/v1/health", "/v1/ready", "/metrics"):
        assert keyed.get(path).status_code == 200


def test_no_auth_without_keys(client):
    assert client.get("/v1/products").status_code == 200


def test_body_over_the_limit_is_413(make_app, market_full):
    with TestClient(make_app(max_body_bytes=2_000)) as c:
        body = {"portfolio": {"trades": vanilla(50)}, "market": market_full}
        r = c.post("/v1/risk", json=body)
        assert r.status_code == 413 and "2000" in r.json()["detail"]

        def chunks():                                   # no Content-Length: chunked
            for _ in range(10):
                yield b" " * 500
        r = c.post("/v1/risk", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413
        small = {"portfolio": {"trades": vanilla(1)}, "market": FLAT}
        assert c.post("/v1/risk", json=small).status_code == 200


def test_slow_request_is_504(make_app):
    app = make_app(request_timeout_s=1.0)
    batcher = app.state.svc.batcher
    real = batcher.run

    def slow(market, jobs):
        time.sleep(3.0)
        return real(market, jobs)
    batcher.run = slow
    with TestClient(app) as c:
        body = {"portfolio": {"trades": vanilla(1)}, "market": FLAT}
        r = c.post("/v1/risk", json=body)
        assert r.status_code == 504 and "time limit" in r.json()["detail"]
        batcher.run = real
        time.sleep(2.5)          # the abandoned evaluation still holds the batch slot
        r = c.post("/v1/risk", json=body)
        assert r.status_code == 200


def test_failing_evaluation_is_422_not_500(client, market_full, monkeypatch):
    import service.compute as compute

    def boom(trades, market):
        raise RuntimeError("library bug")
    monkeypatch.setattr(compute, "greek_arrays", boom)
    r = client.post("/v1/risk", json={"portfolio": {"trades": vanilla(1)}, "market": market_full})
    assert r.status_code == 422
    assert "error id" in r.json()["detail"][0]["msg"]


def test_cors_off_unless_configured(client, make_app):
    h = {"Origin": "https://dash.example", "Access-Control-Request-Method": "POST"}
    r = client.options("/v1/risk", headers=h)
    assert "access-control-allow-origin" not in r.headers
    with TestClient(make_app(cors_origins=("https://dash.example",))) as c:
        r = c.options("/v1/risk", headers=h)
        assert r.headers["access-control-allow-origin"] == "https://dash.example"
        r = c.options("/v1/risk", headers={**h, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in r.headers
