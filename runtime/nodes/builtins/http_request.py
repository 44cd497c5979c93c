"""HTTP request node with SSRF guards: loopback, private, link-local and metadata addresses are
refused unless the host is allowed by configuration, and every redirect hop is checked again."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any, Literal
from urllib.parse import urljoin, urlsplit

from pydantic import Field

from ...errors import NodeError
from ..base import NodeConfig, NodeContext, NodeType
from ..registry import node_type

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 2 * 1024 * 1024
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class HttpRequestConfig(NodeConfig):
    url: str = Field(description="http(s) URL; templates allowed.")
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = Field(None, description="JSON body for POST/PUT/PATCH.")
    timeout_s: float = Field(10, gt=0, le=120)
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
        import httpx

        allowed = set(ctx.services.http_allow_hosts)
        url = config.url
        async with httpx.AsyncClient(timeout=config.timeout_s, follow_redirects=False) as client:
            for _ in range(MAX_REDIRECTS + 1):
                await check_url(url, allowed)
                response = await client.request(
                    config.method, url, headers=config.headers,
                    json=config.body if config.method in {"POST", "PUT", "PATCH"} else None,
                )
                if response.is_redirect and "location" in response.headers:
                    url = urljoin(url, response.headers["location"])
                    continue
                return {config.output_key: _read(response)}
        raise NodeError(f"more than {MAX_REDIRECTS} redirects, last to {url}")


def _read(response: Any) -> dict[str, Any]:
    body = response.content[:MAX_BODY_BYTES]
    result: dict[str, Any] = {"status": response.status_code}
    if "json" in response.headers.get("content-type", ""):
        try:
            result["json"] = response.json()
            return result
        except ValueError:
            pass
    result["text"] = body.decode(response.encoding or "utf-8", errors="replace")
    return result


async def check_url(url: str, allowed: set[str]) -> None:
    """Refuse a URL whose host is, or resolves to, an address that must not be reached."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"}:
        raise NodeError(f"only http and https URLs are allowed, got {parts.scheme or 'none'!r}")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise NodeError(f"the URL {url!r} has no host")
    if host in allowed:
        return
    if host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost"):
        raise NodeError(f"refused: {host} is a local or metadata host (allow it in AKIS_HTTP_ALLOW_HOSTS)")
    for address in await _resolve(host, parts.port):
        if blocked(address):
            raise NodeError(
                f"refused: {host} resolves to {address}, a private, loopback, link-local or metadata address "
                "(allow the host in AKIS_HTTP_ALLOW_HOSTS)"
            )


def blocked(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or str(ip) == "169.254.169.254"
    )


async def _resolve(host: str, port: int | None) -> list[str]:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return [host.strip("[]")]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port or 443, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NodeError(f"cannot resolve {host}: {exc.strerror}") from None
    return sorted({info[4][0] for info in infos})
