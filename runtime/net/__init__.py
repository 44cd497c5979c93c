"""Outgoing network access for nodes: which addresses may be reached (``addresses``, no
dependencies) and an HTTP client that connects only to the addresses it checked (``fetch``,
imports httpx on first use)."""
