"""HTTP requests that cannot be turned against the server's own network (SSRF).

For each hop (the first request and every redirect, at most ``max_redirects``):

1. the URL must be ``http`` or ``https`` with a host that is not ``localhost`` or a metadata name;
2. the host is resolved once, by the injectable resolver, and every address it gives must be
   public (``runtime.net.addresses``); hosts in the allow list skip this check only;
3. the connection goes to one of those checked addresses, never to a second resolution: the
   transport's network backend is pinned to them (:class:`PinnedBackend`) and refuses any other
   host. The URL, the ``Host`` header, TLS SNI and certificate verification keep the name, so a
   certificate is checked against the name asked for, not the address.

A name that answers a public address first and a loopback one second (DNS rebinding) therefore
reaches the public one or nothing. Environment proxies are ignored (``trust_env=False``): a
proxy would resolve the name itself. The body is read as a stream, decompressed with a bound,
and reading stops as soon as it passes ``max_body_bytes``; ``timeout_s`` bounds the whole
exchange, redirects and body included, besides each connect and read.
"""
from __future__ import annotations

import asyncio
import ipaddress
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

from .. import tracing
from ..errors import NodeError
from .addresses import Resolver, refusal, system_resolver

if TYPE_CHECKING:
    import ssl

MAX_REDIRECTS = 5
MAX_BODY_BYTES = 2 * 1024 * 1024
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}
BODY_METHODS = {"POST", "PUT", "PATCH"}
CREDENTIAL_HEADERS = ("authorization", "proxy-authorization", "cookie")


class RequestRefused(NodeError):
    """The URL, its address or a redirect is not allowed; trying again will not help."""

    retryable = False


class BodyTooLarge(NodeError):
    retryable = False


@dataclass(frozen=True, slots=True)
class Target:
    """A checked hop: the host as named, as connected to, and the addresses it may use."""

    host: str  # lower case, no trailing dot: what the allow list and messages use
    connect_host: str  # the URL's host as the transport sees it (IDNA, no brackets)
    port: int
    addresses: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fetched:
    status: int
    headers: httpx.Headers
    body: bytes
    url: str  # the last hop's
    charset: str | None  # from Content-Type


def normal_host(host: str) -> str:
    """A host as the allow list compares it: lower case, no brackets, no trailing dot."""
    return host.strip().strip("[]").rstrip(".").lower()


async def check_url(url: str | httpx.URL, allowed: Iterable[str], resolve: Resolver | None = None) -> Target:
    """Refuse a URL whose host is, or resolves to, an address that must not be reached;
    return the checked addresses to connect to."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise RequestRefused(f"not a valid URL: {exc}") from None
    if parsed.scheme not in {"http", "https"}:
        raise RequestRefused(f"only http and https URLs are allowed, got {parsed.scheme or 'none'!r}")
    connect_host = parsed.raw_host.decode("ascii")
    host = normal_host(connect_host)
    if not host:
        raise RequestRefused(f"the URL {str(parsed)!r} has no host")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    allowed = {normal_host(h) for h in allowed}
    is_allowed = host in allowed or normal_host(parsed.host) in allowed
    if not is_allowed and (host in METADATA_HOSTS or host == "localhost" or host.endswith(".localhost")):
        raise RequestRefused(f"refused: {host} is a local or metadata host (allow it in AKIS_HTTP_ALLOW_HOSTS)")
    literal = _ip_literal(connect_host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = [str(a) for a in await (resolve or system_resolver)(connect_host, port)]
        except OSError as exc:
            raise NodeError(f"cannot resolve {host}: {getattr(exc, 'strerror', None) or exc}") from None
        if not addresses:
            raise NodeError(f"cannot resolve {host}: no address")
    for address in addresses:
        if _ip_literal(address) is None:
            raise RequestRefused(f"refused: {host} resolves to {address!r}, not an IP address")
        if is_allowed:
            continue
        why = refusal(address)
        if why:
            said = f"{host} is" if literal is not None else f"{host} resolves to {address},"
            raise RequestRefused(f"refused: {said} {why} (allow the host in AKIS_HTTP_ALLOW_HOSTS)")
    return Target(host, connect_host, port, tuple(addresses))


def _ip_literal(host: str) -> str | None:
    """``host`` as an IP address string (a scope kept: ``fe80::1%eth0``), or ``None``."""
    text = host.replace("%25", "%")
    try:
        ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    return text


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """A network backend that connects only to checked addresses.

    ``pin(host, addresses)`` before each request; ``connect_tcp(host, ...)`` then tries those
    addresses in order and refuses any host that was not pinned. Nothing is resolved here.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()
        self._pins: dict[str, tuple[str, ...]] = {}

    def pin(self, host: str, addresses: Sequence[str]) -> None:
        self._pins = {host: tuple(addresses)}  # only the current hop's host may be connected to

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's AsyncNetworkBackend signature
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = self._pins.get(host)
        if not addresses:
            raise httpcore.ConnectError(f"refused: {host} was not checked")
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's AsyncNetworkBackend signature
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("refused: unix sockets are not reachable")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PinnedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose network backend is ``backend``.

    httpx does not take a network backend, so the pool it builds is replaced by one that does
    (``_pool`` is the attribute every ``AsyncHTTPTransport`` method uses).
    """

    def __init__(self, backend: PinnedBackend, ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False)
        if not isinstance(getattr(self, "_pool", None), httpcore.AsyncConnectionPool):  # never fall back unpinned
            raise RuntimeError("this httpx version keeps its connection pool elsewhere: PinnedTransport needs updating")
        self._pool = httpcore.AsyncConnectionPool(ssl_context=ssl_context, network_backend=backend,
                                                  max_connections=10, max_keepalive_connections=5)


@cache
def default_ssl_context() -> ssl.SSLContext:
    """httpx's default verification (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), made once."""
    return httpx.create_ssl_context()


async def fetch(method: str, url: str, *, allowed: Iterable[str] = (), headers: dict[str, str] | None = None,
                json: Any = None, timeout_s: float = 10.0, resolve: Resolver | None = None,
                verify: ssl.SSLContext | None = None, network_backend: httpcore.AsyncNetworkBackend | None = None,
                max_redirects: int = MAX_REDIRECTS, max_body_bytes: int = MAX_BODY_BYTES) -> Fetched:
    """Send ``method url`` with SSRF guards (see the module), following redirects by hand.

    ``resolve`` replaces the system resolver, ``verify`` the TLS context and ``network_backend``
    the real network under the pins (tests). Raises :class:`NodeError` (subclasses
    :class:`RequestRefused`, :class:`BodyTooLarge`) with a message for the flow's author.
    """
    backend = PinnedBackend(network_backend)
    transport = PinnedTransport(backend, verify or default_ssl_context())
    allowed = tuple(allowed)
    try:
        async with asyncio.timeout(timeout_s):
            async with httpx.AsyncClient(
                transport=transport, timeout=timeout_s, trust_env=False, follow_redirects=False,
                headers={"Accept-Encoding": "gzip, deflate"},
            ) as client:
                sent = dict(headers or {})
                tracing.inject(sent)  # the running node's span, when tracing is on
                return await _follow(client, backend, method, url, allowed, sent, json, resolve,
                                     max_redirects, max_body_bytes)
    except (TimeoutError, httpx.TimeoutException):
        raise NodeError(f"timed out after {timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise NodeError(f"request failed: {type(exc).__name__}: {exc}") from None


async def _follow(client: httpx.AsyncClient, backend: PinnedBackend, method: str, url: str, allowed: tuple[str, ...],
                  headers: dict[str, str], json: Any, resolve: Resolver | None, max_redirects: int,
                  max_body_bytes: int) -> Fetched:
    current: httpx.URL | str = url
    for _ in range(max_redirects + 1):
        target = await check_url(current, allowed, resolve)
        backend.pin(target.connect_host, target.addresses)
        request = client.build_request(method, current, headers=headers,
                                       json=json if method in BODY_METHODS and json is not None else None)
        response = await client.send(request, stream=True)
        try:
            if response.is_redirect:
                try:
                    current = request.url.join(response.headers["location"])
                except (httpx.InvalidURL, ValueError) as exc:
                    raise RequestRefused(f"refused: a redirect to an invalid URL: {exc}") from None
                if response.status_code == 303 or (response.status_code in (301, 302) and method == "POST"):
                    method, json = "GET", None
                if _origin(current) != _origin(request.url):  # credentials stay with the host they were for
                    headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
                continue
            body = await read_body(response, max_body_bytes)
            return Fetched(response.status_code, response.headers, body, str(request.url), response.charset_encoding)
        finally:
            await response.aclose()
    raise RequestRefused(f"more than {max_redirects} redirects, last to {current}")


def _origin(url: httpx.URL) -> tuple[str, bytes, int | None]:
    return url.scheme, url.raw_host, url.port


async def read_body(response: httpx.Response, limit: int) -> bytes:
    """The body of a streamed response, decompressed, refused once it passes ``limit`` bytes
    (before reading when ``Content-Length`` says so; else as soon as the stream passes it)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"the response body is {int(declared):,} bytes, over the {limit:,}-byte limit")
    decode = _decoder(response.headers.get("content-encoding", ""))
    parts: list[bytes] = []
    raw = size = 0
    async for chunk in response.aiter_raw():
        raw += len(chunk)
        data = decode(chunk, limit - size + 1) if decode else chunk
        size += len(data)
        if size > limit or raw > limit:
            raise BodyTooLarge(f"the response body passed the {limit:,}-byte limit; stopped reading")
        parts.append(data)
    return b"".join(parts)


def _decoder(encoding: str) -> Any:
    """``decode(chunk, at_most)`` for the response's Content-Encoding, ``None`` for identity."""
    codings = [c.strip().lower() for c in encoding.split(",") if c.strip() and c.strip().lower() != "identity"]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in {"gzip", "x-gzip", "deflate"}:
        raise NodeError(f"the response's Content-Encoding {encoding!r} is not supported (gzip or deflate)")
    return _Inflate(gzip=codings[0] != "deflate")


class _Inflate:
    """zlib with a bound on each call's output: a small compressed chunk cannot expand to more
    than the caller allows (a decompression bomb stops at the body limit)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._first = True
        self._z = zlib.decompressobj(16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)

    def __call__(self, data: bytes, at_most: int) -> bytes:
        try:
            out = self._z.decompress(data, at_most)
        except zlib.error as exc:
            if not (self._first and not self._gzip):
                kind = "gzip" if self._gzip else "deflate"
                raise NodeError(f"the response body is not valid {kind}: {exc}") from None
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # "deflate" sent without its zlib header
            self._first = False
            return self(data, at_most)
        self._first = False
        return out
