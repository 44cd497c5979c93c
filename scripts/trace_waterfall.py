"""The screenshot of a trace in docs/observability.md: a real trace, drawn as a waterfall.

    .venv/bin/python scripts/trace_waterfall.py [docs/images/trace_waterfall.png]

There is no Jaeger or Tempo on the machine this was made on, so the trace is the one a real
OTLP/HTTP receiver (the tracing tests' own, protobuf decoded with opentelemetry-proto) got from
``akis run`` with ``OTEL_EXPORTER_OTLP_ENDPOINT`` set: a flow that calls a loopback service
(``http_request``), waits on three lookups in parallel, asks a model (the fake Anthropic server:
a GenAI span) and saves the message in the background. The spans are drawn as a waterfall with
Plotly, one bar per span under its parent, and rendered in Chromium (Playwright) to a PNG.
"""
from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.api.test_tracing import LlmThread, Receiver, Span, Target, serve  # noqa: E402 - after the path above

CALLER = "00-5b8efff798038103d269b633813fc60c-eee19b7ec3c1b174-01"


def flow(target: str) -> dict[str, Any]:
    lookups = [{"id": f"lookup_{n}", "type": "delay", "label": f"Lookup {n}", "config": {"ms": ms}}
               for n, ms in ((1, 40), (2, 90), (3, 60))]
    return {
        "akis": 1, "flow_id": "support-answer",
        "nodes": [{"id": "in", "type": "user_input"},
                  {"id": "stock", "type": "http_request", "config": {"url": f"{target}/stock", "timeout_s": 5}},
                  *lookups,
                  {"id": "answer", "type": "ai_response", "config": {"provider": "anthropic", "model": "claude-test"}},
                  {"id": "save", "type": "save_message"},
                  {"id": "out", "type": "output"}],
        "edges": [{"source": "in", "target": "stock"},
                  *({"source": "stock", "target": f"lookup_{n}"} for n in (1, 2, 3)),
                  *({"source": f"lookup_{n}", "target": "answer"} for n in (1, 2, 3)),
                  {"source": "answer", "target": "out"}, {"source": "answer", "target": "save"}],
    }


def received_trace() -> list[tuple[Span, int, int]]:
    """(span, start ns, end ns) of one run, as the receiver decoded them: the second run of a
    process traced as ``akis serve`` is (the first one pays the imports: the model SDK's alone
    took seconds on this machine), started with a caller's ``traceparent``."""
    receiver, target, llm = Receiver(), Target(), LlmThread()
    serve(receiver)
    serve(target)
    os.environ.update({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_SERVICE_NAME": "akis",
                       "OTEL_BSP_SCHEDULE_DELAY": "100", "AKIS_HTTP_ALLOW_HOSTS": "127.0.0.1",
                       "ANTHROPIC_API_KEY": "test-key", "ANTHROPIC_BASE_URL": llm.server.anthropic_url})
    from runtime import tracing
    from runtime.wiring import build_engine

    try:
        assert tracing.configure("akis"), "the OTEL_* variables turn tracing on"
        engine = build_engine()
        document = flow(f"http://127.0.0.1:{target.server_address[1]}")
        inputs = {"user_message": "Is the TP-2500 in stock?", "session_id": "docs"}

        async def both() -> str:
            await engine.run(document, inputs)
            result = await engine.run(document, inputs, trace_parent={"traceparent": CALLER})
            await asyncio.gather(*result.background)
            return result.trace_id

        trace_id = asyncio.run(both())
        tracing.shutdown()  # sends what is buffered
        return [(s, s.start_ns, s.end_ns) for s in receiver.snapshot() if s.trace_id == trace_id]
    finally:
        receiver.shutdown()
        target.shutdown()
        llm.stop()


def in_tree_order(spans: list[tuple[Span, int, int]]) -> list[tuple[Span, int, int, int]]:
    """Depth-first from the root, children by start: (span, start, end, depth)."""
    children: dict[str, list[tuple[Span, int, int]]] = {}
    ids = {s.span_id for s, _, _ in spans}
    roots = []
    for item in spans:
        (children.setdefault(item[0].parent_id, []) if item[0].parent_id in ids else roots).append(item)
    out: list[tuple[Span, int, int, int]] = []

    def walk(item: tuple[Span, int, int], depth: int) -> None:
        out.append((*item, depth))
        for child in sorted(children.get(item[0].span_id, []), key=lambda c: c[1]):
            walk(child, depth + 1)

    for root in sorted(roots, key=lambda r: r[1]):
        walk(root, 0)
    return out


def figure(spans: list[tuple[Span, int, int]]) -> Any:
    import plotly.graph_objects as go

    rows = in_tree_order(spans)
    t0 = min(start for _, start, _, _ in rows)
    colours = {"akis.run": "#37474f", "chat": "#8e24aa", "akis.background": "#fb8c00"}
    labels, bases, widths, colors, hovers = [], [], [], [], []
    for span, start, end, depth in rows:
        node_id = span.attributes.get("akis.node.id")
        named = f"  ({node_id})" if node_id and span.name.startswith("akis.node") else ""
        labels.append(("\u2502 " * max(depth - 1, 0)) + ("\u251c " if depth else "") + span.name + named)
        bases.append((start - t0) / 1e6)
        widths.append(max((end - start) / 1e6, 0.3))
        kind = next((k for k in colours if span.name.startswith(k)), "")
        colors.append(colours.get(kind, "#1e88e5"))
        shown = {k: v for k, v in span.attributes.items() if k.startswith(("akis.status", "akis.cache", "gen_ai."))}
        hovers.append(f"{span.name}<br>{(end - start) / 1e6:.1f} ms<br>span {span.span_id}<br>"
                      + "<br>".join(f"{k}: {v}" for k, v in shown.items()))
    rows_y = list(range(len(rows)))
    fig = go.Figure(go.Bar(y=rows_y, x=widths, base=bases, orientation="h", marker_color=colors,
                           hovertext=hovers, hoverinfo="text",
                           text=[f"{w:.1f} ms" for w in widths], textposition="outside", cliponaxis=False))
    width, left, right = 1180, 400, 70
    plot_width = width - left - right
    for y, label in zip(rows_y, labels, strict=True):  # left-aligned names, indented by depth
        fig.add_annotation(x=-(left - 12) / plot_width, y=y, xref="paper", yref="y", text=label, showarrow=False,
                           xanchor="left", font={"family": "DejaVu Sans Mono, monospace", "size": 13})
    trace_id = rows[0][0].trace_id
    fig.update_layout(
        title=f"Trace {trace_id}: {len(rows)} spans received over OTLP/HTTP",
        xaxis_title="ms since the run started",
        yaxis={"autorange": "reversed", "showticklabels": False, "showgrid": False},
        height=100 + 34 * len(rows), width=width, margin={"l": left, "r": right, "t": 60, "b": 50},
        plot_bgcolor="white", showlegend=False, font={"size": 13},
    )
    fig.update_xaxes(showgrid=True, gridcolor="#eceff1")
    return fig


def screenshot(fig: Any, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    html = fig.to_html(include_plotlyjs=True, full_html=True, config={"staticPlot": True})
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        page_path = Path(tmp) / "trace.html"
        page_path.write_text(html, encoding="utf-8")
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": int(fig.layout.width) + 20, "height": int(fig.layout.height) + 20})
        page.goto(page_path.as_uri())
        page.wait_for_selector(".main-svg")
        page.screenshot(path=str(out), full_page=True)
        browser.close()


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "trace_waterfall.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    spans = received_trace()
    screenshot(figure(spans), out)
    print(f"{len(spans)} spans in trace {spans[0][0].trace_id}: {out}")
    for span, start, end in spans:
        print(f"  {span.name:34} {span.attributes.get('akis.node.id', ''):10} {(end - start) / 1e6:8.1f} ms")


if __name__ == "__main__":
    main()
