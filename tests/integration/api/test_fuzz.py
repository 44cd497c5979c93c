"""The OpenAPI spec, fuzzed with schemathesis: no 5xx and no traceback in any answer.

Bounded: a fixed number of examples per operation, each request with a timeout. It runs as
its own tenant so its random flows never meet the other tests' data."""
from __future__ import annotations

import time

import schemathesis
from hypothesis import HealthCheck, given, settings

from .conftest import Api

EXAMPLES = 25
TENANT = "9"


def test_openapi_fuzz_finds_no_server_error(api: Api) -> None:
    from storage.db import Database
    from storage.repos.tokens import create_token

    database = Database(api.database_url)
    _, token = database.call(create_token, TENANT, "fuzz")
    database.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_url(api.url + "/openapi.json", headers=headers, timeout=10)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 12
    seen: dict[str, int] = {}
    started = time.monotonic()

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case: schemathesis.Case) -> None:
            response = case.call(base_url=api.url, headers=headers, timeout=10, stream=False)
            label = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{label} -> {response.status_code}: {response.text[:300]}"
            assert "Traceback" not in response.text, label
            seen[operation.label] = seen.get(operation.label, 0) + 1

        check()
        assert time.monotonic() - started < 600, "the fuzz run is bounded to ten minutes"
    assert len(seen) == len(operations)
    assert "Traceback" not in api.server.log(), "a request made the server log a traceback"
