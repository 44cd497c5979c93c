"""The OpenAPI spec fuzzed with schemathesis, and hostile flow documents fuzzed with hypothesis
as raw bytes: no 5xx and no traceback in any answer or in the server log.

Bounded: a fixed number of examples per operation, each request with a timeout. It runs as
its own tenant so its random flows never meet the other tests' data."""
from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Api
from .harness import trivial_flow

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
            seen[operation.label] = seen.get(operation.label, 0) + 1  # noqa: B023 - check() runs in this iteration

        check()
        assert time.monotonic() - started < 600, "the fuzz run is bounded to ten minutes"
    assert len(seen) == len(operations)
    assert "Traceback" not in api.server.log(), "a request made the server log a traceback"


# ---- hostile flow documents, sent as raw bytes to POST /api/flows and POST /api/flows/import ----
HOSTILE_EXAMPLES = 400
FUZZ_TENANT = "8"
BIDI = "\u202e\u2066\u2067\u2068\u2069\u200f\u061c"


@dataclass(frozen=True)
class Raw:
    """JSON text placed as is (it may be invalid JSON on purpose)."""

    text: str


Pairs = list[tuple[str, object]]  # an object whose keys may repeat


def as_pairs(value: object) -> object:
    if isinstance(value, dict):
        return [(k, as_pairs(v)) for k, v in value.items()]
    if isinstance(value, list):
        return ("list", [as_pairs(v) for v in value])
    return value


def render(value: object) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, tuple) and value[0] == "list":
        return "[" + ",".join(render(v) for v in value[1]) + "]"
    if isinstance(value, list):
        return "{" + ",".join(f"{json.dumps(k)}:{render(v)}" for k, v in value) + "}"
    return json.dumps(value)


def at(tree: object, path: tuple[object, ...]) -> Pairs | None:
    """The object (pairs) at ``path``, or None when the path is not there."""
    for step in path:
        if isinstance(step, int) and isinstance(tree, tuple) and step < len(tree[1]):
            tree = tree[1][step]
        elif isinstance(step, str) and isinstance(tree, list):
            tree = next((v for k, v in tree if k == step), None)
        else:
            return None
    return tree if isinstance(tree, list) else None


OBJECTS = [(), ("nodes", 0), ("nodes", 1), ("nodes", 1, "config"), ("settings",), ("settings", "cache_events"),
           ("nodes", 2, "ui")]
KEYS = ["name", "label", "description", "template", "output_key", "flow_id", "type", "id", "timeout_s", "x",
        "product.updated", "cache_events", "extra", "\u202ekey", "k\\u0000"]

hostile_scalar = st.one_of(
    st.integers(1, 6000).map(lambda n: Raw("9" * n)),
    st.integers(1, 400).map(lambda n: Raw(f"-{'1' * n}.5e{n}")),
    st.sampled_from([Raw('"\\ud800"'), Raw('"a\\udfffb"'), Raw('"\\udc00\\ud800"'), Raw("NaN"), Raw("Infinity"),
                     Raw("-Infinity"), Raw("1e999"), Raw('"\\u0000"'), Raw('"\\u0007\\u001b[31m"'), Raw('"\x01"'),
                     Raw("-0"), Raw("1.5e-400"), Raw("true"), Raw("null"), Raw("[]"), Raw("{}"),
                     Raw('"{{ (9**5000)|string }}"'), Raw('"{{ 9**9**9 }}"'),
                     Raw('"{% for i in range(10**9) %}x{% endfor %}"')]),
    st.text(alphabet=st.characters(codec=None, categories=None), max_size=30).map(
        lambda s: Raw(json.dumps(s, ensure_ascii=True))
    ),
    st.text(alphabet=BIDI + "ab\t\n\r\x7f\x85\u2028", max_size=30).map(
        lambda s: Raw(json.dumps(s, ensure_ascii=False))
    ),
    st.integers(1, 80).map(lambda depth: Raw("[" * depth + "]" * depth)),
    st.integers(1, 80).map(lambda depth: Raw('{"a":' * depth + "1" + "}" * depth)),
    st.integers(100_000, 2_500_000).map(lambda n: Raw(json.dumps("x" * n))),
)

edit = st.tuples(st.sampled_from(OBJECTS), st.sampled_from(KEYS), hostile_scalar, st.booleans())
counter = itertools.count()


@st.composite
def hostile_document(draw: st.DrawFn) -> bytes:
    """A valid flow with one to three hostile edits: a value replaced or a key repeated, at any depth."""
    tree = as_pairs(trivial_flow(f"hostile-{next(counter)}"))
    for path, key, value, duplicate in draw(st.lists(edit, min_size=1, max_size=3)):
        target = at(tree, path)
        if target is None:
            continue
        existing = [i for i, (k, _) in enumerate(target) if k == key]
        if existing and not duplicate:
            target[existing[0]] = (key, value)
        else:
            target.append((key, value))  # a new key, or the same key a second time
    text = render(tree)
    return text.encode("utf-8", "surrogatepass") if draw(st.booleans()) else text.encode("utf-8", "replace")


def test_hostile_flow_documents_never_answer_5xx_nor_log_a_traceback(api: Api) -> None:
    from storage.db import Database
    from storage.repos.tokens import create_token

    database = Database(api.database_url)
    _, token = database.call(create_token, FUZZ_TENANT, "hostile flows")
    database.dispose()
    since = len(api.server.log())
    tally = {"requests": 0, "5xx": 0, "stored": 0}
    client = httpx.Client(base_url=api.url, headers={"Authorization": f"Bearer {token}",
                                                      "content-type": "application/json"}, timeout=30)
    started = time.monotonic()

    @given(body=hostile_document(), route=st.sampled_from(["/api/flows", "/api/flows/import?mode=version"]))
    @settings(max_examples=HOSTILE_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(body: bytes, route: str) -> None:
        response = client.post(route, content=body)
        tally["requests"] += 1
        tally["5xx"] += response.status_code >= 500
        assert response.status_code < 500, (route, response.status_code, response.text[:300])
        assert "Traceback" not in response.text
        answer = response.json()
        if response.status_code == 201:  # stored: it must read back, validate and export as JSON
            tally["stored"] += 1
            flow_id = answer["flow_id"]
            for path in (f"/api/flows/{flow_id}", f"/api/flows/{flow_id}/export"):
                again = client.get(path)
                tally["requests"] += 1
                assert again.status_code == 200, (path, again.status_code, again.text[:300])
                assert again.json() and "Traceback" not in again.text
            assert answer["problems"] == []
        else:
            assert response.status_code in (409, 413, 422), (response.status_code, response.text[:300])
            assert isinstance(answer["detail"], (str, list)), answer
            for problem in answer.get("problems", []):
                assert problem["code"] and problem["message"], problem

    try:
        check()
    finally:
        client.close()
        print(f"hostile flow documents: {tally['requests']} requests, {tally['5xx']} answers 5xx, "
              f"{tally['stored']} stored, {time.monotonic() - started:.1f} s")
    log = api.server.log()[since:]
    assert log.count("Traceback") == 0, log[-3000:]
    assert tally["stored"] > 0 and tally["requests"] >= HOSTILE_EXAMPLES
