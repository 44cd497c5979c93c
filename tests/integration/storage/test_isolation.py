"""Tenant isolation: tenant 5 cannot see or touch tenant 2's rows through any repository function.

``CHECKS`` holds one probe per repository function; ``test_every_repository_function_is_probed``
fails when a new function is added without one.
"""
from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from runtime.engine.inspect import NodeRecord
from runtime.ports import ChatMessage, MetricRow
from storage import repos
from storage.crypto import SecretBox
from storage.errors import NotFound
from storage.repos import (
    credentials,
    dashboard,
    flows,
    messages,
    metrics,
    node_runs,
    products,
    runs,
    sessions,
    tenants,
    tokens,
    users,
)
from storage.repos.dashboard import Filters
from storage.types import utcnow

A, B = "2", "5"
BOX = SecretBox(["isolation"])
FLOW = {"akis": 1, "flow_id": "support", "name": "A's flow", "nodes": [{"id": "in", "type": "user_input"}]}


def populate(db: Any) -> dict[str, Any]:
    """One of everything for tenant A, and a little for B so B's queries are not trivially empty."""
    with db.session() as s:
        flows.save_flow(s, A, FLOW)
        flows.save_flow(s, A, FLOW)
        flows.save_flow(s, B, {**FLOW, "flow_id": "b-flow", "name": "B's flow"})
        runs.record_run(s, A, "run-a", "support", status="succeeded", session_id="abc123",
                        inputs={"user_message": "hi"})
        runs.record_run(s, A, "run-a2", "support", status="succeeded", first_chunk_ms=100.0,
                        inputs={"user_message": "hi"}, duration_ms=200.0, trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
        runs.record_run(s, A, "run-a3", "support", status="failed", inputs={"user_message": "hi"})
        node_runs.record_run_with_nodes(s, A, "run-n", "support", status="succeeded", nodes=[
            NodeRecord("n1", "template", "succeeded", inputs={"q": "A's question"}, output={"x": "A's answer"})])
        metrics.add_metric_rows(s, [MetricRow(A, "support", "run-a", "n1", "product_search", 600.0, "hit", "succeeded",
                                              tokens_in=10, tokens_out=20),
                                    MetricRow(B, "b-flow", "run-b", "n1", "template", 5.0, "off", "succeeded")])
        messages.save_messages(s, A, "abc123", [ChatMessage("user", "A's secret question", 0, "run-a")])
        products.create_product(s, A, {"sku": "A-1", "name": "A's pallet jack", "category": "pallet_jack"})
        products.create_product(s, B, {"sku": "B-1", "name": "B's forklift", "category": "forklift"})
        credentials.set_credential(s, A, "anthropic", "anthropic", "sk-A", box=BOX)
        token, plaintext = tokens.create_token(s, A, "a-token")
        users.create_user(s, A, "alice", "alice's password")
        editor_session, session_secret = sessions.create_session(s, A, "alice", user_agent="A's browser")
        tenants.ensure_tenant(s, B)
    return {"token_id": token.id, "token": plaintext, "session_id": editor_session.id, "session_secret": session_secret}


def b_alice_session(s: Any) -> bool:
    """B may have its own alice (the create_user probe makes one): her session is B's, never A's."""
    if users.get_user(s, B, "alice") is None:
        return raises(NotFound, sessions.create_session, s, B, "alice")
    row, _ = sessions.create_session(s, B, "alice")
    return row.tenant_id == B


# name -> probe(session, fixture data) run as tenant B against A's ids; True when nothing leaked
CHECKS: dict[str, Callable[[Any, dict[str, Any]], Any]] = {
    "flows.get_flow": lambda s, d: flows.get_flow(s, B, "support") is None,
    "flows.flow_head": lambda s, d: (
        flows.flow_head(s.connection(), B, "support") is None
        and flows.flow_head(s.connection(), B, "b-flow").name == "B's flow"
    ),
    "flows.list_flows": lambda s, d: [f.id for f in flows.list_flows(s, B)] == ["b-flow"],
    "flows.current_documents": lambda s, d: list(flows.current_documents(s, B)) == ["b-flow"],
    "flows.get_version": lambda s, d: (
        flows.get_version(s, B, "support", 1) is None and flows.get_version(s, B, "support") is None
    ),
    "flows.get_document": lambda s, d: flows.get_document(s, B, "support") is None,
    "flows.list_versions": lambda s, d: flows.list_versions(s, B, "support") == [],
    "flows.set_current_version": lambda s, d: raises(NotFound, flows.set_current_version, s, B, "support", 1),
    "flows.delete_flow": lambda s, d: flows.delete_flow(s, B, "support") is False,
    "flows.save_flow": lambda s, d: flows.save_flow(s, B, FLOW).version == 1,  # B's own flow, A's untouched
    "runs.get_run": lambda s, d: runs.get_run(s, B, "run-a") is None,
    "node_runs.record_run_with_nodes": lambda s, d: node_runs.record_run_with_nodes(
        s, B, "run-n", "support", status="failed", nodes=[NodeRecord("n1", "template", "failed")]) is False,
    "node_runs.add_nodes": lambda s, d: (
        node_runs.add_nodes(s, B, "run-n", [NodeRecord("n9", "template", "failed")]) is False
        and len(node_runs.run_nodes(s, A, "run-n")) == 1
    ),
    "node_runs.run_nodes": lambda s, d: node_runs.run_nodes(s, B, "run-n") == [],
    "node_runs.run_node": lambda s, d: node_runs.run_node(s, B, "run-n", "n1") is None,
    "runs.list_runs": lambda s, d: runs.list_runs(s, B) == [] and runs.list_runs(s, B, "support") == [],
    "runs.newest_runs": lambda s, d: runs.newest_runs(s, B) == {},
    "runs.record_run": lambda s, d: runs.record_run(s, B, "run-a", "support", status="failed") is False,
    "runs.slowest_runs": lambda s, d: (
        runs.slowest_runs(s, B, utcnow() - timedelta(days=1)) == []
        and runs.slowest_runs(s, B, utcnow() - timedelta(days=1), flow_id="support") == []
    ),
    "metrics.summary": lambda s, d: [x.key for x in metrics.summary(s, B)] == ["template"],
    "metrics.run_metrics": lambda s, d: metrics.run_metrics(s, B, "run-a") == [],
    "messages.history": lambda s, d: messages.history(s, B, "abc123", 10) == [],
    "messages.next_seq": lambda s, d: messages.next_seq(s, B, "abc123") == 0,
    "messages.save_messages": lambda s, d: (
        messages.save_messages(s, B, "abc123", [ChatMessage("user", "B's own", 0, "run-a")]) == 1
    ),  # same keys, other tenant: no clash
    "products.list_products": lambda s, d: [p.id for p in products.list_products(s, B)] == ["B-1"],
    "products.get_product": lambda s, d: products.get_product(s, B, "A-1") is None,
    "products.update_product": lambda s, d: raises(NotFound, products.update_product, s, B, "A-1", {"name": "x"}),
    "products.delete_product": lambda s, d: products.delete_product(s, B, "A-1") is False,
    "products.search_products": lambda s, d: (
        [p["sku"] for p in products.search_products(s, B, "pallet jack", None, 5)] in ([], ["B-1"])
    ),
    "products.create_product": lambda s, d: (
        products.create_product(s, B, {"sku": "A-1", "name": "B's A-1"}).tenant_id == B
    ),
    "products.seed_products": lambda s, d: products.seed_products(s, B, [{"sku": "Z"}]) == 0,  # B has products
    "credentials.get_credential": lambda s, d: credentials.get_credential(s, B, "anthropic") is None,
    "credentials.get_secret": lambda s, d: credentials.get_secret(s, B, "anthropic", box=BOX) is None,
    "credentials.list_credentials": lambda s, d: credentials.list_credentials(s, B) == [],
    "credentials.delete_credential": lambda s, d: credentials.delete_credential(s, B, "anthropic") is False,
    "credentials.set_credential": lambda s, d: (
        credentials.set_credential(s, B, "anthropic", "anthropic", "sk-B", box=BOX).tenant_id == B
    ),
    "credentials.read_provider_credential": lambda s, d: (  # B's own (set above), never A's sk-A
        (credentials.read_provider_credential(s, B, "anthropic", box=BOX) or ("",))[0] not in ("", "sk-A")
    ),
    "credentials.save_provider_credential": lambda s, d: (
        credentials.save_provider_credential(s, B, "anthropic", "anthropic", "sk-B2", "", box=BOX).tenant_id == B
    ),
    "tokens.list_tokens": lambda s, d: tokens.list_tokens(s, B) == [],
    "tokens.revoke_token": lambda s, d: tokens.revoke_token(s, B, d["token_id"]) is False,
    "tokens.create_token": lambda s, d: tokens.create_token(s, B)[0].tenant_id == B,
    "tokens.verify_token": lambda s, d: tokens.verify_token(s, d["token"]) == A,  # the token names its tenant
    "users.get_user": lambda s, d: users.get_user(s, B, "alice") is None,
    "users.list_users": lambda s, d: users.list_users(s, B) == [],
    "users.authenticate": lambda s, d: users.authenticate(s, B, "alice", "alice's password") is None,
    "users.set_password": lambda s, d: raises(NotFound, users.set_password, s, B, "alice", "hijacked!!"),
    "users.create_user": lambda s, d: users.create_user(s, B, "alice", "B's own alice").tenant_id == B,
    "users.tenants_with_user": lambda s, d: A in users.tenants_with_user(s, "alice"),  # ids only (sign-in)
    "users.authenticate_by_name": lambda s, d: (
        users.authenticate_by_name(s, "alice", "alice's password", B) == []
        and all(u.tenant_id == A for u in users.authenticate_by_name(s, "alice", "alice's password"))
    ),  # only the user whose password fits; B's tenant named: none
    "tenants.ensure_tenant": lambda s, d: tenants.ensure_tenant(s, B).id == B,
    "tenants.list_tenant_ids": lambda s, d: set(tenants.list_tenant_ids(s)) >= {A, B},  # ids only, system use
    "users.any_users": lambda s, d: users.any_users(s) is True,  # a yes/no for the whole install, no rows
    "tokens.any_live_tokens": lambda s, d: tokens.any_live_tokens(s) is True,
    "dashboard.node_percentiles": lambda s, d: (
        [r.key for r in dashboard.node_percentiles(s, Filters(B))] == ["template"]
        and [r.key for r in dashboard.node_percentiles(s, Filters(B), "node_id")] == ["n1"]
    ),
    "dashboard.flow_node_stats": lambda s, d: dashboard.flow_node_stats(s, B, "support") == {},
    "dashboard.durations_over_time": lambda s, d: (
        {t for _, t, *_ in dashboard.durations_over_time(s, Filters(B))} == {"template"}
    ),
    "dashboard.tokens_over_time": lambda s, d: sum(i + o for _, i, o in dashboard.tokens_over_time(s, Filters(B))) == 0,
    "dashboard.activity_marker": lambda s, d: (
        tuple(dashboard.activity_marker(s, B)[1:]) == (0, None)
    ),  # A's 3 runs unseen
    "dashboard.runs_over_time": lambda s, d: sum(n for _, n, _ in dashboard.runs_over_time(s, Filters(B))) == 0,
    "dashboard.run_totals": lambda s, d: dashboard.run_totals(s, Filters(B)).runs == 0,
    "dashboard.cache_by_node_type": lambda s, d: set(dashboard.cache_by_node_type(s, Filters(B))) <= {"template"},
    "dashboard.first_chunk_histogram": lambda s, d: (
        sum(n for _, n in dashboard.first_chunk_histogram(s, Filters(B))[1]) == 0
    ),
    "dashboard.first_chunk_percentiles": lambda s, d: dashboard.first_chunk_percentiles(s, Filters(B)) == (None, None),
    "dashboard.input_repeat_rate": lambda s, d: dashboard.input_repeat_rate(s, B, "support", ["user_message"]) is None,
    "dashboard.metric_flows": lambda s, d: dashboard.metric_flows(s, Filters(B)) == ["b-flow"],
    "dashboard.metric_node_types": lambda s, d: dashboard.metric_node_types(s, Filters(B)) == ["template"],
    "dashboard.dashboard_data": lambda s, d: (
        [r.key for r in dashboard.dashboard_data(s, Filters(B)).by_type] == ["template"]
        and dashboard.dashboard_data(s, Filters(B)).totals.runs == 0
        and dashboard.dashboard_data(s, Filters(B)).slowest == []
    ),
    "sessions.create_session": lambda s, d: b_alice_session(s),
    "sessions.lookup_session": lambda s, d: (
        sessions.lookup_session(s, d["session_id"], "not the secret") is None
        and sessions.lookup_session(s, d["session_id"], d["session_secret"]).tenant_id == A
    ),  # the secret names A
    "sessions.list_sessions": lambda s, d: (
        d["session_id"] not in {r.id for r in sessions.list_sessions(s, B, "alice", include_ended=True)}
    ),
    "sessions.revoke_session": lambda s, d: sessions.revoke_session(s, B, "alice", d["session_id"]) is False,
    "sessions.revoke_user_sessions": lambda s, d: sessions.revoke_user_sessions(s, B, "alice") >= 0,  # A's stays live
    "metrics.add_metric_rows": lambda s, d: (
        metrics.add_metric_rows(s, [MetricRow(B, "b-flow", "run-a", "n1", "template", 1.0, "off", "succeeded")]) == 1
    ),
}


def raises(kind: type[BaseException], fn: Callable[..., Any], *args: Any) -> bool:
    session = args[0]
    try:
        with session.begin_nested():  # a refused insert must not spoil the rest of the test
            fn(*args)
    except kind:
        return True
    return False


def repository_functions() -> set[str]:
    found = set()
    for module_name in [*repos.__all__, "dashboard"]:
        module = importlib.import_module(f"storage.repos.{module_name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_"):
                params = list(inspect.signature(fn).parameters)
                if params and params[0] in ("session", "connection"):  # a prebuilt statement too
                    found.add(f"{module_name}.{name}")
    return found


def test_every_repository_function_is_probed():
    assert repository_functions() == set(CHECKS)


def test_tenant_b_cannot_reach_tenant_a(db):
    """Every probe runs as tenant B on one populated database; A's rows must not move."""
    data = populate(db)
    before = snapshot(db)
    leaks = []
    for name, probe in CHECKS.items():
        with db.session() as s:
            if not probe(s, data):
                leaks.append(name)
        if snapshot(db) != before:
            leaks.append(f"{name} changed tenant {A}'s rows")
            before = snapshot(db)
    assert leaks == []
    with db.session() as s:
        assert users.authenticate(s, A, "alice", "alice's password") is not None
        assert credentials.get_secret(s, A, "anthropic", box=BOX) == "sk-A"


def snapshot(db: Any) -> tuple[Any, ...]:
    """Tenant A's rows, as plain values."""
    with db.session() as s:
        return (
            [(f.id, f.current_version, f.name) for f in flows.list_flows(s, A)],
            [(v.version, v.document) for v in flows.list_versions(s, A, "support")],
            [(r.id, r.status, r.output) for r in runs.list_runs(s, A)],
            [(m.seq, m.role, m.content) for m in messages.history(s, A, "abc123", 10)],
            [(p.id, p.data) for p in products.list_products(s, A)],
            [(c.name, c.provider, c.secret_encrypted) for c in credentials.list_credentials(s, A)],
            [(t.id, t.token_hash, t.revoked_at) for t in tokens.list_tokens(s, A)],
            [(u.username, u.password_hash) for u in users.list_users(s, A)],
            [(x.id, x.revoked_at) for x in sessions.list_sessions(s, A, "alice", include_ended=True)],
            [(x.key, x.count) for x in metrics.summary(s, A, timedelta(hours=1))],
        )
