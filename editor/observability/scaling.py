"""The scaling signal on ``/metrics``: what an autoscaler (KEDA, an HPA on external metrics)
reads. The figures are the cluster's, read from the runs table by any web instance
(``editor/services/scaling.py``); the scrape refreshes the reading first, then this collector
reports it. Worker ids label the in-flight gauge: one series per live worker.
"""
from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from editor.services.scaling import ScalingService


class ScalingCollector(Collector):
    def __init__(self, scaling: ScalingService) -> None:
        self.scaling = scaling

    def collect(self) -> Iterator[Metric]:
        reading = self.scaling.last
        if reading is None:
            return
        yield GaugeMetricFamily("akis_runs_queued", "Runs waiting for a worker (queue mode), all instances.",
                                value=reading.queue_depth)
        if reading.oldest_queued_s is not None:
            yield GaugeMetricFamily("akis_runs_oldest_queued_seconds", "How long the longest-waiting run has waited.",
                                    value=reading.oldest_queued_s)
        per_worker = GaugeMetricFamily("akis_worker_runs_in_flight", "Runs a worker holds now (status running).",
                                       labels=["worker"])
        for worker, count in sorted(reading.running_per_worker.items()):
            per_worker.add_metric([worker or "unassigned"], count)
        yield per_worker
        yield GaugeMetricFamily("akis_runs_lease_expired", "Runs still running past their lease (a takeover is due).",
                                value=reading.lease_expired)
        quantiles = GaugeMetricFamily("akis_recent_run_seconds", "Runs that started in the last window and have "
                                      "finished: duration and time to first chunk, by quantile.",
                                      labels=["measure", "quantile"])
        for measure, key in (("duration", "p"), ("first_chunk", "first_chunk_p")):
            for quantile, suffix in (("0.5", "50_ms"), ("0.99", "99_ms")):
                value = reading.latency.get(key + suffix)
                if value is not None:
                    quantiles.add_metric([measure, quantile], float(value) / 1000.0)
        yield quantiles
