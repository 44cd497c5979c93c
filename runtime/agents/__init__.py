"""Agents, structured extraction and inner flows: what the ``agent``, ``extract``, ``subflow``
and ``iterate`` node types share (docs/agents.md)."""
