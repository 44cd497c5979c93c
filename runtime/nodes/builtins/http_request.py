"""HTTP request node with SSRF guards: loopback, private, link-local and metadata addresses (and
their IPv6 forms: IPv4-mapped, NAT64, 6to4, Teredo) are refused unless the host is allowed by
configuration; the connection goes to the address that was checked (no second DNS lookup, so
DNS rebinding cannot switch it), every redirect hop is checked and pinned the same way, and the
body is read as a stream that stops at 2 MiB. The guards live in ``runtime.net``."""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from ...net.addresses import blocked, refusal  # noqa: F401 - re-exported: the checks used here
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type

if TYPE_CHECKING:
    from ...net.addresses import Resolver
    from ...net.fetch import Fetched, Target

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 2 * 1024 * 1024


class HttpRequestConfig(NodeConfig):
    url: str = Field(description="http(s) URL; templates allowed.")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(None, description="JSON body for POST/PUT/PATCH.")
    timeout_s: float = Field(10, gt=0, le=120, description="For the whole request: redirects and body included.")
    output_key: str = Field("response", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@node_type
class HttpRequest(NodeType):
    type_id = "http_request"
    title = "HTTP request"
    description = "Calls an external HTTP API (private and metadata addresses are refused)."
    category = "integration"
    icon = "http"
    Config = HttpRequestConfig
    cacheable = True

    def output_keys(self, config: dict[str, Any]) -> set[str]:
        return {str(config.get("output_key", "response"))}

    async def run(self, config: HttpRequestConfig, ctx: NodeContext) -> dict[str, Any]:
        from ...net.fetch import fetch  # imports httpx: on first use, not with the registry

        fetched = await fetch(
            config.method, config.url, allowed=ctx.services.http_allow_hosts,
            headers={"Idempotency-Key": ctx.idempotency_key, **config.headers},  # the node's own wins
            json=config.body if config.method in {"POST", "PUT", "PATCH"} else None, timeout_s=config.timeout_s,
            resolve=ctx.services.http_resolver, max_redirects=MAX_REDIRECTS, max_body_bytes=MAX_BODY_BYTES,
        )
        return {config.output_key: _result(fetched)}


def _result(fetched: Fetched) -> dict[str, Any]:
    result: dict[str, Any] = {"status": fetched.status}
    if "json" in fetched.headers.get("content-type", ""):
        try:
            result["json"] = json.loads(fetched.body)
            return result
        except ValueError:
            pass
    try:
        result["text"] = fetched.body.decode(fetched.charset or "utf-8", errors="replace")
    except LookupError:  # an unknown charset name
        result["text"] = fetched.body.decode("utf-8", errors="replace")
    return result


async def check_url(url: str, allowed: Iterable[str], resolve: Resolver | None = None) -> Target:
    """Refuse a URL whose host is, or resolves to, an address that must not be reached; return
    the checked addresses (``runtime.net.fetch.check_url``)."""
    from ...net.fetch import check_url as check  # lazy: imports httpx, as in run()

    return await check(url, allowed, resolve)
