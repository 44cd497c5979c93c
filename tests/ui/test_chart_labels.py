"""The dashboard's per-node chart names nodes by their labels (issue 18, item 5)."""
from __future__ import annotations

from editor.charts import percentiles_figure
from storage.repos.dashboard import PercentileRow


def test_the_per_node_axis_shows_labels_and_falls_back_to_the_id():
    rows = [PercentileRow("node_6", "ai_response", "pallet-assistant", 3, 900, 1200, 950, 1300),
            PercentileRow("node_9", "delay", "pallet-assistant", 2, 10, 12, 11, 13)]
    figure = percentiles_figure(rows, by="node_id", names={("pallet-assistant", "node_6"): "Answer"})
    assert figure["data"][0]["y"] == ["Answer · pallet-assistant", "node_9 · pallet-assistant"]
