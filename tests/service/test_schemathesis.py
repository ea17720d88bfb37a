"""Property tests generated from the OpenAPI spec: nothing a client sends gives a 5xx.

Schemathesis draws requests (valid and invalid bodies, path ids, headers) for
every operation; each answer must not be a server error, and must match the
response schema documented for its status. The example count is bounded so
the file runs in well under a minute.
"""
from __future__ import annotations

import warnings

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from service.app import create_app
from service.settings import Settings

warnings.filterwarnings("ignore", message=".*httpx2.*")

_APP = None


def _schema():
    global _APP
    import tempfile

    _APP = create_app(Settings(db_path=tempfile.mkdtemp(prefix="aadrisk-st-") + "/m.sqlite3",
                               warmup=False, request_timeout_s=20))
    return schemathesis.openapi.from_asgi("/openapi.json", _APP)


SCHEMA = _schema()
OPERATIONS = [r.ok() for r in SCHEMA.get_all_operations()]
HEAVY = {("POST", "/v1/risk"), ("POST", "/v1/risk/batch"), ("PUT", "/v1/markets/{market_id}")}


def _run(op, n: int) -> None:
    @settings(max_examples=n, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=op.as_strategy())
    def check(case):
        case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
    check()


@pytest.mark.parametrize("op", [o for o in OPERATIONS if (o.method.upper(), o.path) not in HEAVY],
                         ids=lambda o: f"{o.method.upper()} {o.path}")
def test_no_server_error_light(op):
    _run(op, 30)


@pytest.mark.slow
@pytest.mark.parametrize("op", [o for o in OPERATIONS if (o.method.upper(), o.path) in HEAVY],
                         ids=lambda o: f"{o.method.upper()} {o.path}")
def test_no_server_error_bodies(op):
    _run(op, 60)
