"""Safe HTTP fetching for user-supplied URLs.

Everything the bot downloads (feeds, pages) goes through `fetch`. Users pick the
URLs, so the fetcher must not become a way to reach the operator's private
network (SSRF): cloud metadata at 169.254.169.254, admin panels on 10.x, services
bound to localhost.

Two layers enforce the address policy:

1. `check_url` runs before each request and on every redirect hop: only
   http/https, no credentials in the URL, and every address the host resolves to
   must be public. It gives the user a clear reason.
2. The HTTP client built by `make_client` resolves host names itself, checks the
   addresses and connects to the checked IP (the TLS handshake still uses the
   host name for SNI and certificate checks). A host whose DNS answer changes
   between the check and the connection (DNS rebinding) is therefore still
   refused.

Redirects are followed by hand (at most `FetchPolicy.max_redirects`), the body
is streamed and cut off at `FetchPolicy.max_bytes`, and the whole fetch, DNS and
redirects included, runs under one deadline of `FetchPolicy.timeout` seconds so
a server that trickles bytes forever cannot hold a worker.

Environment proxies (``HTTP_PROXY``...) are deliberately ignored: a proxy would
connect on our behalf and the address checks could not see where.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import ssl
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TypeAlias

import httpcore
import httpx

from bot.errors import BlockedURLError, SourceError

log = logging.getLogger(__name__)

__all__ = [
    "FetchPolicy",
    "FetchResult",
    "check_url",
    "fetch",
    "human_size",
    "make_client",
]

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address

_REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
_SCHEMES = frozenset({"http", "https"})
# RFC 6052 well-known NAT64 prefix: the last 32 bits are an IPv4 address
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_ALLOW_HINT = "set fetch.allow_private to allow it"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits and address rules for one fetch.

    Attributes:
        timeout: Total seconds for one fetch, DNS, redirects and body included.
        max_bytes: Largest (decoded) body accepted; larger responses are cut off.
        max_redirects: Redirect hops followed before giving up.
        allow_private: Allow private, loopback, link-local... addresses (an
            operator setting, e.g. for an intranet feed server or tests).
        user_agent: Sent with every request.
        allowed_hosts: Host names or IP literals (as written in URLs, lower case)
            exempt from the address check, for operators who trust one internal
            host without opening all private addresses. Redirect targets are
            checked on their own name, so a trusted host cannot redirect
            into the rest of the network.
    """

    timeout: float = 15.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    allow_private: bool = False
    user_agent: str = "newsbrief/0.1 (+https://github.com/newsbrief/newsbrief)"
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    def trusts(self, host: str) -> bool:
        """Whether `host` skips the address check."""
        return self.allow_private or host.lower().rstrip(".") in self.allowed_hosts


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful fetch.

    Attributes:
        url: Final URL after redirects (not canonicalised).
        status: 200-299, or 304 when a conditional request found nothing new.
        headers: Response headers, case-insensitive.
        body: The decoded body; ``b""`` on 304.
    """

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower case (``""`` if absent)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def human_size(n: int) -> str:
    """Format a byte count the way a user reads it (``5 MB``, ``64 kB``, ``900 bytes``)."""
    if n >= 1_000_000:
        return f"{n / 1_000_000:.3g} MB"
    if n >= 1_000:
        return f"{n / 1_000:.3g} kB"
    return f"{n} bytes"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, Teredo, NAT64), if any."""
    embedded: ipaddress.IPv4Address | None = ip.ipv4_mapped or ip.sixtofour
    if embedded is None and ip.teredo is not None:
        embedded = ip.teredo[1]
    if embedded is None and ip in _NAT64:
        embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return embedded


def _address_kind(ip: IPAddress) -> str | None:
    """Why `ip` is refused (``"private"``, ``"loopback"``...), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        # such an address reaches the IPv4 host it carries, so judge that one
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            kind = _address_kind(embedded)
            return None if kind is None else f"{kind} (IPv4 {embedded})"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip.is_private:
        return "private"
    if ip.is_reserved:
        return "reserved"
    if not ip.is_global:
        return "not public"
    return None


def _parse_ip(text: str) -> IPAddress | None:
    try:
        # getaddrinfo appends "%scope" to IPv6 link-local answers
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


class _HostError(Exception):
    """A host could not be used; converted to SourceError with the right URL by `fetch`."""

    def __init__(self, reason: str, *, blocked: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.blocked = blocked

    def to_source_error(self, url: str) -> SourceError:
        cls = BlockedURLError if self.blocked else SourceError
        return cls(url, self.reason)


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses of `host` (an IP literal resolves to itself)."""
    literal = _parse_ip(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        log.debug("DNS lookup of %s failed: %s", host, exc)
        raise _HostError(f"host not found: {host}", blocked=False) from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = _parse_ip(str(sockaddr[0]))
        if ip is not None and ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise _HostError(f"host not found: {host}", blocked=False)
    return addresses


async def _checked_addresses(host: str, port: int, policy: FetchPolicy) -> list[IPAddress]:
    """Resolve `host` and refuse it if any of its addresses is not public."""
    addresses = await _resolve(host, port)
    if policy.trusts(host):
        return addresses
    for ip in addresses:
        kind = _address_kind(ip)
        if kind is None:
            continue
        # refuse the host outright: letting the client pick a public sibling
        # address would make the outcome depend on address ordering
        where = f"address {ip}" if _parse_ip(host) is not None else f"address {ip} of {host}"
        raise _HostError(f"{where} is {kind}; {_ALLOW_HINT}", blocked=True)
    return addresses


def _parse_url(url: str) -> httpx.URL:
    try:
        return httpx.URL(url.strip())
    except (httpx.InvalidURL, UnicodeError, ValueError, TypeError) as exc:
        raise SourceError(url, f"not a valid URL ({exc})") from None


def _check_syntax(url: str) -> httpx.URL:
    parsed = _parse_url(url)
    scheme = parsed.scheme.lower()
    if scheme not in _SCHEMES:
        got = f" (got {scheme}:)" if scheme else ""
        raise BlockedURLError(url, f"only http and https URLs are supported{got}")
    if parsed.userinfo:
        # the error text ends up in logs and chat: keep the password out of it
        shown = str(parsed.copy_with(username=None, password=None))
        raise BlockedURLError(shown, "URLs with a user name or password are not allowed")
    if not parsed.host:
        raise SourceError(url, "not a valid URL (no host)")
    return parsed


async def check_url(url: str, policy: FetchPolicy) -> None:
    """Refuse a URL the bot must not fetch; call it before accepting a user's URL.

    Async because it resolves the host name: ``await check_url(url, policy)``.
    `fetch` calls it itself on every hop, so callers only need it to reject a
    URL early (e.g. when a user subscribes).

    Args:
        url: The URL a user gave.
        policy: The address rules to apply.

    Raises:
        BlockedURLError: Not http/https, has credentials, or resolves to a
            private, loopback, link-local, multicast, reserved or unspecified
            address (IPv4 or IPv6, IPv4-mapped included) that the policy does
            not allow.
        SourceError: The URL is malformed or its host does not resolve.
    """
    parsed = _check_syntax(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        async with asyncio.timeout(policy.timeout):
            await _checked_addresses(parsed.host, port, policy)
    except _HostError as exc:
        raise exc.to_source_error(url) from None
    except TimeoutError:
        raise SourceError(url, f"timed out after {policy.timeout:g} s") from None


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to the checked IP, so DNS cannot change the answer."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await _checked_addresses(host, port, self._policy)
        except _HostError as exc:
            # surfaces from client.send unchanged (httpx only maps httpcore errors)
            raise exc.to_source_error(f"{host}:{port}") from None
        last: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        # share the connect timeout so one black-holed address can't use up the deadline
        per_try = timeout if timeout is None else max(timeout / len(addresses), 1.0)
        for ip in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=per_try,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None  # _resolve never returns an empty list
        raise last

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise BlockedURLError(path, "unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@cache
def _ssl_context() -> ssl.SSLContext:
    # loading the CA bundle takes tens of milliseconds; one context serves every client
    return httpx.create_ssl_context(trust_env=False)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport with its connection pool on the guarded network backend."""

    def __init__(self, policy: FetchPolicy) -> None:
        context = _ssl_context()
        super().__init__(verify=context, trust_env=False)
        # httpx (pinned at 0.28) does not expose the backend; swap the pool it built,
        # keeping its request/response mapping and exception translation
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=context,
            max_connections=10,
            max_keepalive_connections=5,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )


def make_client(policy: FetchPolicy) -> httpx.AsyncClient:
    """An httpx client whose every connection passes the policy's address check.

    It does not follow redirects and ignores proxy environment variables. Use it
    as ``async with make_client(policy) as client``. A refused address raises
    `BlockedURLError` (with ``host:port`` as its URL) from ``client.send``; an
    unresolvable host raises `SourceError`. Prefer `fetch`, which also checks
    redirects, caps the size and applies the deadline.

    Args:
        policy: Address rules and timeouts.

    Returns:
        A new client; the caller closes it.
    """
    return httpx.AsyncClient(
        transport=_GuardedTransport(policy),
        timeout=httpx.Timeout(policy.timeout),
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": policy.user_agent},
    )


def _transport_error(url: str, exc: Exception, policy: FetchPolicy) -> SourceError:
    """A user-readable SourceError for an httpx failure."""
    if isinstance(exc, httpx.TimeoutException):
        return SourceError(url, f"timed out after {policy.timeout:g} s")
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        if "CERTIFICATE" in detail or "SSL" in detail:
            return SourceError(url, f"TLS error ({detail})")
        return SourceError(url, f"could not connect ({detail})")
    if isinstance(exc, httpx.DecodingError):
        return SourceError(url, "could not decode the response (bad compression)")
    if isinstance(exc, httpx.RemoteProtocolError):
        return SourceError(url, f"the server broke the HTTP protocol ({detail})")
    if isinstance(exc, httpx.NetworkError):
        return SourceError(url, f"network error ({detail})")
    return SourceError(url, f"HTTP request failed ({detail})")


class _Decoder:
    """Undoes ``Content-Encoding`` (gzip, deflate) without making more than it is asked for.

    httpx inflates each network read in one go: 64 kB of a gzip bomb becomes 64 MB before any
    size check can see it. Here every step is given the room left under the cap.
    """

    def __init__(self, header: str) -> None:
        # the last coding applied is undone first; unknown ones are passed through, as httpx does
        codings = [
            c
            for c in (c.strip().lower() for c in reversed(header.split(",")))
            if c in ("gzip", "x-gzip", "deflate")
        ]
        self._stages = [
            zlib.decompressobj(zlib.MAX_WBITS if c == "deflate" else zlib.MAX_WBITS | 16)
            for c in codings
        ]
        self._raw_deflate = [c == "deflate" for c in codings]
        self._started = [False] * len(self._stages)

    def decode(self, data: bytes, room: Callable[[], int], level: int = 0) -> Iterator[bytes]:
        """The decoded pieces of `data`, each at most ``room()`` bytes (asked before each one)."""
        if level == len(self._stages):
            if data:
                yield data
            return
        stage = self._stages[level]
        while data:
            if not self._started[level] and self._raw_deflate[level] and _no_zlib_header(data):
                # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate
                stage = self._stages[level] = zlib.decompressobj(-zlib.MAX_WBITS)
            self._started[level] = True
            out = stage.decompress(data, max(room(), 1))
            yield from self.decode(out, room, level + 1)
            data = stage.unconsumed_tail

    def flush(self, room: Callable[[], int]) -> Iterator[bytes]:
        for level, stage in enumerate(self._stages):
            yield from self.decode(stage.flush(), room, level + 1)


def _no_zlib_header(data: bytes) -> bool:
    return len(data) < 2 or data[0] & 0x0F != 8 or (data[0] << 8 | data[1]) % 31 != 0


async def _read_capped(response: httpx.Response, url: str, policy: FetchPolicy) -> bytes:
    too_big = f"response larger than {human_size(policy.max_bytes)}"
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise SourceError(url, too_big)
    chunks: list[bytes] = []
    total = 0
    decoder = _Decoder(response.headers.get("content-encoding", ""))

    def room() -> int:
        return policy.max_bytes - total + 1

    def keep(pieces: Iterator[bytes]) -> None:
        nonlocal total
        for piece in pieces:
            total += len(piece)
            if total > policy.max_bytes:
                log.info(
                    "aborting %s after %d bytes: over the %d byte cap", url, total, policy.max_bytes
                )
                raise SourceError(url, too_big)
            chunks.append(piece)

    try:
        # raw bytes, decoded here step by step, so the cap also bounds the memory a gzip
        # bomb can take (see _Decoder)
        async for raw in response.aiter_raw():
            keep(decoder.decode(raw, room))
        keep(decoder.flush(room))
    except zlib.error:
        raise SourceError(url, "could not decode the response (bad compression)") from None
    return b"".join(chunks)


async def _fetch(
    url: str,
    policy: FetchPolicy,
    headers: dict[str, str],
) -> FetchResult:
    current = _check_syntax(url)
    seen: set[str] = set()
    async with make_client(policy) as client:
        for hop in range(policy.max_redirects + 1):
            where = str(current)
            seen.add(where)
            if hop:
                try:
                    current = _check_syntax(where)
                except SourceError as exc:
                    shown = str(current.copy_with(username=None, password=None))
                    raise type(exc)(url, f"redirected to {shown}: {exc.reason}") from None
            port = current.port or (443 if current.scheme == "https" else 80)
            try:
                await _checked_addresses(current.host, port, policy)
                request = client.build_request("GET", current, headers=headers)
                response = await client.send(request, stream=True)
            except _HostError as exc:
                reason = exc.reason if hop == 0 else f"redirected to {where}: {exc.reason}"
                raise _HostError(reason, blocked=exc.blocked) from None
            except SourceError as exc:
                # refused at connect time: the DNS answer changed since the check above
                log.warning("connect-time address check refused %s: %s", where, exc.reason)
                reason = exc.reason if hop == 0 else f"redirected to {where}: {exc.reason}"
                raise type(exc)(url, reason) from None
            except httpx.HTTPError as exc:
                raise _transport_error(url, exc, policy) from None
            try:
                status = response.status_code
                log.debug("GET %s -> %d", where, status)
                if status in _REDIRECT_CODES:
                    location = response.headers.get("location", "").strip()
                    if not location:
                        raise SourceError(url, f"HTTP {status} redirect without a Location", status)
                    try:
                        current = current.join(location)
                    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
                        raise SourceError(url, f"bad redirect target ({exc})", status) from None
                    if str(current) in seen:
                        raise SourceError(url, "redirect loop", status)
                    continue
                if status == 304:
                    return FetchResult(where, 304, response.headers, b"")
                if status >= 300 or status < 200:
                    raise SourceError(url, f"HTTP {status}", status)
                body = await _read_capped(response, url, policy)
                return FetchResult(where, status, response.headers, body)
            except httpx.HTTPError as exc:
                raise _transport_error(url, exc, policy) from None
            finally:
                await response.aclose()
    raise SourceError(url, f"too many redirects (more than {policy.max_redirects})")


async def fetch(
    url: str,
    policy: FetchPolicy,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str | None = None,
) -> FetchResult:
    """GET `url` safely: address checks on every hop, size cap, total deadline.

    Args:
        url: An http(s) URL, typically from a user.
        policy: Limits and address rules.
        etag: A stored ETag, sent as ``If-None-Match``.
        last_modified: A stored Last-Modified value, sent as ``If-Modified-Since``.
        accept: The ``Accept`` header (default ``*/*``).

    Returns:
        The final response: status 2xx with the body, or 304 with an empty body
        when the validators say nothing changed.

    Raises:
        BlockedURLError: The URL or a redirect target is refused by the policy.
        SourceError: Anything else that went wrong, with a reason a user can read
            (``HTTP 404``, ``timed out after 15 s``, ``response larger than 5 MB``,
            ``too many redirects (more than 5)``, ``redirect loop``...).
    """
    headers = {"Accept": accept or "*/*"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(policy.timeout):
            return await _fetch(url, policy, headers)
    except TimeoutError:
        raise SourceError(url, f"timed out after {policy.timeout:g} s") from None
    except _HostError as exc:
        raise exc.to_source_error(url) from None
    except (UnicodeError, ValueError, httpx.InvalidURL) as exc:
        # e.g. a non-ASCII validator echoed back in a header
        raise SourceError(url, f"could not build the request ({exc})") from None
