"""The metrics observer without the app: events in, the text Prometheus reads out (parsed with
``prometheus_client``'s parser), the tenant label only when asked for, bounded flow labels,
and who may read. The app end to end: tests/integration/api/test_prometheus.py."""
from __future__ import annotations

import gc
from typing import Any

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from editor.observability.gc_pauses import gc_pauses
from editor.observability.metrics import AppMetrics
from runtime.events import Event
from runtime.settings import AkisSettings


def metrics(**settings: Any) -> AppMetrics:
    made = AppMetrics(AkisSettings(_env_file=None, metrics_token=SecretStr("scrape-token"), **settings))
    made.watch(lambda: 2, lambda: 1)
    return made


def samples(made: AppMetrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = generate_latest(made.registry).decode()
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def one_run(made: AppMetrics, run_id: str, tenant: str = "2", flow: str = "chat") -> None:
    observe = made.observer(tenant, flow)
    observe(Event("run.started", run_id, 0.0, flow_id=flow, tenant_id=tenant))
    observe(Event("node.started", run_id, 0.1, 1, "ai", "ai_response"))
    for seq, t_ms in enumerate((3.0, 4.0, 5.0)):
        observe(Event("message.chunk", run_id, t_ms, 2 + seq, "ai", "ai_response", "x", seq))
    observe(Event("node.finished", run_id, 6.0, 5, "ai", "ai_response", None, None, 5.9, "off", "succeeded"))
    observe(Event("node.finished", run_id, 6.5, 6, "search", "product_search", None, None, 0.4, "hit", "succeeded"))
    observe(Event("node.failed", run_id, 7.0, 7, "call", "http_request", duration_ms=0.5, status="continued"))
    observe(Event("run.finished", run_id, 8.0, 8, duration_ms=8.0, status="succeeded",
                  usage={"tokens_in": 3, "tokens_out": 7}))


def test_events_become_counts_histograms_and_gauges() -> None:
    made = metrics()
    one_run(made, "r1")
    one_run(made, "r2")
    got = samples(made)
    assert got[("akis_runs_total", frozenset({("flow", "chat"), ("status", "succeeded")}))] == 2
    assert got[("akis_run_duration_seconds_count", frozenset({("flow", "chat")}))] == 2
    assert got[("akis_run_duration_seconds_sum", frozenset({("flow", "chat")}))] == 0.016
    assert got[("akis_run_duration_seconds_bucket", frozenset({("flow", "chat"), ("le", "0.01")}))] == 2
    assert got[("akis_run_duration_seconds_bucket", frozenset({("flow", "chat"), ("le", "0.005")}))] == 0
    # the first chunk only, once per run
    assert got[("akis_run_first_chunk_seconds_count", frozenset({("flow", "chat")}))] == 2
    assert got[("akis_run_first_chunk_seconds_sum", frozenset({("flow", "chat")}))] == 0.006
    assert got[("akis_node_duration_seconds_count", frozenset({("node_type", "ai_response")}))] == 2
    assert got[("akis_node_duration_seconds_count", frozenset({("node_type", "http_request")}))] == 2
    assert got[("akis_node_failures_total", frozenset({("node_type", "http_request")}))] == 2
    assert got[("akis_cache_lookups_total", frozenset({("node_type", "product_search"), ("outcome", "hit")}))] == 2
    assert ("akis_cache_lookups_total", frozenset({("node_type", "ai_response"), ("outcome", "hit")})) not in got
    assert got[("akis_model_tokens_total", frozenset({("flow", "chat"), ("direction", "out")}))] == 14
    assert got[("akis_runs_in_flight", frozenset())] == 2
    assert got[("akis_background_jobs_pending", frozenset())] == 1
    assert not made.chunked  # nothing kept per run once it finished


def test_the_tenant_is_a_label_only_when_configured() -> None:
    without = metrics()
    one_run(without, "r1", tenant="2")
    one_run(without, "r2", tenant="3")
    assert samples(without)[("akis_runs_total", frozenset({("flow", "chat"), ("status", "succeeded")}))] == 2
    with_tenant = metrics(metrics_tenant_label=True)
    one_run(with_tenant, "r1", tenant="2")
    one_run(with_tenant, "r2", tenant="3")
    got = samples(with_tenant)
    for tenant in ("2", "3"):
        assert got[("akis_runs_total", frozenset({("tenant", tenant), ("flow", "chat"), ("status", "succeeded")}))] == 1
        assert got[("akis_node_duration_seconds_count",
                    frozenset({("tenant", tenant), ("node_type", "ai_response")}))] == 1


def test_flow_labels_are_bounded() -> None:
    made = AppMetrics(AkisSettings(_env_file=None, metrics_token=SecretStr("t")), max_flows=3)
    for n in range(10):
        one_run(made, f"r{n}", flow=f"flow{n}")
    flows = {dict(labels)["flow"] for (name, labels) in samples(made) if name == "akis_runs_total"}
    assert flows == {"flow0", "flow1", "flow2", "other"}


def test_who_may_read() -> None:
    made = metrics(metrics_allow="10.0.0.0/8, 192.168.1.5, not-an-address")
    assert made.allowed("Bearer scrape-token", "203.0.113.9") is True
    assert made.allowed("bearer scrape-token", None) is True
    assert made.allowed("Bearer wrong", "203.0.113.9") is False
    assert made.allowed(None, "203.0.113.9") is None
    assert made.allowed(None, "10.1.2.3") is True
    assert made.allowed(None, "::ffff:192.168.1.5") is True
    assert made.allowed(None, "192.168.1.6") is None
    assert made.allowed(None, "testclient") is None


def test_every_collection_is_timed_by_generation() -> None:
    """``akis_gc_pause_seconds``: one hook per process, however many registries there are."""
    made, other = metrics(), metrics()
    before = samples(made)
    gc.collect(1)  # a middle collection
    gc.collect()  # a full one
    after = samples(made)

    def moved(name: str, generation: str, **labels: str) -> float:
        key = (name, frozenset({("generation", generation), *labels.items()}))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("akis_gc_pause_seconds_count", "1") == 1  # once, not once per registry
    assert moved("akis_gc_pause_seconds_count", "2") == 1
    assert moved("akis_gc_pause_seconds_bucket", "2", le="+Inf") == 1
    assert moved("akis_gc_pause_seconds_sum", "2") > 0
    assert samples(other)[("akis_gc_pause_seconds_count", frozenset({("generation", "2")}))] == after[
        ("akis_gc_pause_seconds_count", frozenset({("generation", "2")}))]
    assert after[("akis_gc_frozen_objects", frozenset())] == gc.get_freeze_count()
    assert gc.callbacks.count(gc_pauses().callback) == 1


def test_the_channel_hub_reports_what_it_keeps_and_what_it_forgot() -> None:
    from prometheus_client import CollectorRegistry

    from editor.observability.channels import ChannelHubCollector
    from runtime.channels import ChannelHub, channel_name

    hub = ChannelHub(max_kept=100)
    for session in range(5):
        for i in range(30):
            hub.publish(channel_name("2", f"s{session}"), Event("message.chunk", "r1", float(i), i, "ai", "ai", "x", i))
    registry = CollectorRegistry()
    registry.register(ChannelHubCollector(hub))
    got = {s.name: s.value for family in text_string_to_metric_families(generate_latest(registry).decode())
           for s in family.samples}
    assert got["akis_channel_events_kept"] == hub.kept <= 100
    assert got["akis_channel_events_kept_max"] == 100
    assert got["akis_channels_forgotten_total"] == hub.forgotten >= 2  # 150 published, at most 100 kept
