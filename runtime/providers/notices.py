"""Which provider notices a run shows: only those of the providers its flow uses.

The resolver keeps one process-wide list of notices ("no ANTHROPIC_API_KEY: using the offline
mock provider instead of anthropic"); a flow whose only AI node uses ``openai`` must not repeat
the anthropic one on every run. A flow that runs other flows (``subflow``, ``iterate``, an
agent's flow tool) or names its provider with a template keeps them all: which providers those
use is only known while they run.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..flow.model import FlowDocument

_RUNS_OTHER_FLOWS = frozenset({"subflow", "iterate"})
NOTICE_TAIL = ": using the offline mock provider instead of "  # resolver.fallback_notice ends with it


def flow_providers(flow: FlowDocument) -> frozenset[str] | None:
    """The providers the flow's nodes name (``{"openai"}``), or None when that is not known
    before the run (a templated provider, a node that runs another flow)."""
    used: set[str] = set()
    for node in flow.nodes:
        if node.type in _RUNS_OTHER_FLOWS or _has_flow_tool(node.config):
            return None
        provider = node.config.get("provider")
        if provider is None:
            continue
        if not isinstance(provider, str) or "{" in provider:
            return None
        used.add(provider.strip().lower())
    return frozenset(used)


def used_notices(notices: Iterable[str], providers: frozenset[str] | None) -> tuple[str, ...]:
    """The notices about ``providers`` (all of them when ``providers`` is None); a notice that is
    not about a provider's fallback is always kept."""
    kept = []
    for notice in notices:
        head, sep, provider = notice.rpartition(NOTICE_TAIL)
        if providers is None or not sep or not head or provider in providers:
            kept.append(notice)
    return tuple(kept)


def _has_flow_tool(config: dict[str, object]) -> bool:
    tools = config.get("tools")
    return isinstance(tools, list) and any(isinstance(t, dict) and t.get("kind") == "flow" for t in tools)
