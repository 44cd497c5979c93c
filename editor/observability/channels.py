"""What the in-process channel hub keeps, on ``/metrics``: its events in all conversations
against their bound (``AKIS_CHANNEL_KEPT_EVENTS``), and the conversations it forgot before their
retention to stay under it (runtime/channels/memory.py). A rising count of forgotten ones means
a client that reconnects late may find its conversation's events gone: raise the bound, or keep
the channels in Redis (``AKIS_REDIS_URL``). Read at scrape."""
from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from runtime.channels import ChannelHub


class ChannelHubCollector(Collector):
    def __init__(self, hub: ChannelHub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("akis_channel_events_kept", "Events the in-process channel hub keeps for resumes, "
                                "in all conversations.", value=self.hub.kept)
        yield GaugeMetricFamily("akis_channel_events_kept_max", "The bound on them (AKIS_CHANNEL_KEPT_EVENTS).",
                                value=self.hub.max_kept)
        yield CounterMetricFamily("akis_channels_forgotten", "Conversations the in-process channel hub forgot before "
                                  "their retention, to stay under its bound.", value=self.hub.forgotten)
