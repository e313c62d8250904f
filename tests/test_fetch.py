"""fetch and check_url against a real server on 127.0.0.1: SSRF rules, limits, errors."""

from __future__ import annotations

import socket
import time

import pytest

from bot.errors import BlockedURLError, SourceError
from bot.ingest.http import FetchPolicy, check_url, fetch, make_client
from tests.servers import LoopbackServer, stream_bytes, trickle

STRICT = FetchPolicy()  # the production default: no private addresses


# --- address and URL rules -------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.8.9.10:8080/x", "loopback"),
        ("http://localhost/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.20/admin", "private"),
        ("http://172.16.0.5/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]/", "loopback"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::1]/", "private"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://[::]/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.1.1/", "not public"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 written as one number
    ],
)
async def test_private_addresses_are_refused(url: str, kind: str) -> None:
    with pytest.raises(BlockedURLError) as info:
        await check_url(url, STRICT)
    assert kind in info.value.reason
    assert "set fetch.allow_private to allow it" in info.value.reason


async def test_refusal_names_the_address() -> None:
    with pytest.raises(BlockedURLError) as info:
        await check_url("http://10.0.0.1/feed", STRICT)
    assert info.value.reason == "address 10.0.0.1 is private; set fetch.allow_private to allow it"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/feed",
        "file:///etc/passwd",
        "gopher://example.com/",
        "javascript:alert(1)",
    ],
)
async def test_only_http_and_https(url: str) -> None:
    with pytest.raises(BlockedURLError, match="only http and https"):
        await check_url(url, STRICT)


async def test_credentials_refused_and_not_echoed() -> None:
    with pytest.raises(BlockedURLError) as info:
        await check_url("https://admin:hunter2@example.com/feed", STRICT)
    assert "user name or password" in info.value.reason
    assert "hunter2" not in str(info.value)


async def test_allow_private_permits_loopback() -> None:
    await check_url("http://127.0.0.1:9/", FetchPolicy(allow_private=True))
    await check_url("http://[::1]:9/", FetchPolicy(allow_private=True))


async def test_allowed_hosts_exempts_only_that_host() -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}))
    await check_url("http://127.0.0.1:9/", policy)
    with pytest.raises(BlockedURLError):
        await check_url("http://localhost:9/", policy)


async def test_fetch_refuses_before_any_request(loopback: LoopbackServer) -> None:
    url = loopback.add("/secret", "internal data")
    with pytest.raises(BlockedURLError, match="loopback"):
        await fetch(url, STRICT)
    assert loopback.requests == []


async def test_connect_time_check_without_precheck(loopback: LoopbackServer) -> None:
    # the client itself refuses private addresses, whatever check_url said before
    url = loopback.add("/secret", "internal data")
    async with make_client(STRICT) as client:
        with pytest.raises(BlockedURLError, match="loopback"):
            await client.get(url)
    assert loopback.requests == []


async def test_redirect_to_metadata_address_refused(loopback: LoopbackServer) -> None:
    # the operator trusts this one server; its redirect must not reach anything else
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), timeout=5)
    url = loopback.redirect("/go", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(BlockedURLError) as info:
        await fetch(url, policy)
    assert "redirected to http://169.254.169.254/latest/meta-data/" in info.value.reason
    assert "link-local" in info.value.reason


async def test_redirect_to_other_private_name_refused(loopback: LoopbackServer) -> None:
    policy = FetchPolicy(allowed_hosts=frozenset({"127.0.0.1"}), timeout=5)
    loopback.add("/internal", "secret")
    url = loopback.redirect("/go", f"http://localhost:{loopback.port}/internal")
    with pytest.raises(BlockedURLError, match="loopback"):
        await fetch(url, policy)
    assert loopback.requests_for("/internal") == []


async def test_redirect_to_credentials_refused_and_not_echoed(loopback: LoopbackServer) -> None:
    url = loopback.redirect("/go", f"http://admin:hunter2@127.0.0.1:{loopback.port}/x")
    with pytest.raises(BlockedURLError) as info:
        await fetch(url, loopback.policy())
    assert "user name or password" in info.value.reason
    assert "hunter2" not in str(info.value)


async def test_redirect_to_other_scheme_refused(loopback: LoopbackServer) -> None:
    url = loopback.redirect("/go", "file:///etc/passwd")
    with pytest.raises(BlockedURLError, match="only http and https"):
        await fetch(url, loopback.policy())


# --- successful fetches ----------------------------------------------------------------


async def test_fetch_ok_sends_user_agent_and_accept(loopback: LoopbackServer) -> None:
    url = loopback.add("/hello", "hi there", content_type="text/plain")
    result = await fetch(url, loopback.policy(), accept="text/plain")
    assert (result.status, result.body, result.url) == (200, b"hi there", url)
    assert result.headers["content-type"] == "text/plain"
    sent = loopback.requests_for("/hello")[0].headers
    assert sent["user-agent"].startswith("newsbrief/")
    assert sent["accept"] == "text/plain"


async def test_relative_redirects_are_followed(loopback: LoopbackServer) -> None:
    final = loopback.add("/final", "done")
    loopback.redirect("/step2", final, status=301)
    url = loopback.redirect("/step1", "step2", status=307)
    result = await fetch(url, loopback.policy())
    assert result.body == b"done"
    assert result.url == final


async def test_conditional_get_etag(loopback: LoopbackServer) -> None:
    url = loopback.add("/feed.xml", "<rss/>", etag='"v1"')
    first = await fetch(url, loopback.policy())
    assert first.headers["etag"] == '"v1"'
    second = await fetch(url, loopback.policy(), etag='"v1"')
    assert (second.status, second.body) == (304, b"")
    assert loopback.requests_for("/feed.xml")[1].headers["if-none-match"] == '"v1"'


async def test_conditional_get_last_modified(loopback: LoopbackServer) -> None:
    stamp = "Wed, 01 May 2024 10:00:00 GMT"
    url = loopback.add("/feed.xml", "<rss/>", last_modified=stamp)
    result = await fetch(url, loopback.policy(), last_modified=stamp)
    assert result.status == 304
    assert loopback.requests_for("/feed.xml")[0].headers["if-modified-since"] == stamp


# --- failures --------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500, 403, 410])
async def test_http_errors(loopback: LoopbackServer, status: int) -> None:
    url = loopback.add("/x", "nope", status=status)
    with pytest.raises(SourceError) as info:
        await fetch(url, loopback.policy())
    assert info.value.reason == f"HTTP {status}"
    assert info.value.status == status
    assert not isinstance(info.value, BlockedURLError)


async def test_missing_route_is_404(loopback: LoopbackServer) -> None:
    with pytest.raises(SourceError, match="HTTP 404"):
        await fetch(loopback.url("/nothing-here"), loopback.policy())


async def test_streamed_body_cut_at_cap(loopback: LoopbackServer) -> None:
    # 50 MB generated chunk by chunk, no Content-Length: only streaming can stop it
    url = loopback.add("/huge", body=stream_bytes(50_000_000), content_type="text/html")
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        await fetch(url, loopback.policy())
    assert info.value.reason == "response larger than 5 MB"
    assert time.monotonic() - started < 5


async def test_declared_length_over_cap_refused(loopback: LoopbackServer) -> None:
    url = loopback.add("/big", b"x" * 5000)
    with pytest.raises(SourceError, match="response larger than 2 kB"):
        await fetch(url, loopback.policy(max_bytes=2000))


async def test_trickling_server_hits_total_deadline(loopback: LoopbackServer) -> None:
    # a byte every 0.1 s never trips a per-read timeout; only the total deadline stops it
    url = loopback.add("/slow", body=trickle(b"<p>", interval=0.1, duration=10))
    started = time.monotonic()
    with pytest.raises(SourceError) as info:
        await fetch(url, loopback.policy(timeout=1.0))
    assert info.value.reason == "timed out after 1 s"
    assert time.monotonic() - started < 3


async def test_redirect_loop(loopback: LoopbackServer) -> None:
    loopback.redirect("/b", "/a")
    url = loopback.redirect("/a", "/b")
    with pytest.raises(SourceError) as info:
        await fetch(url, loopback.policy())
    assert info.value.reason == "redirect loop"


async def test_too_many_redirects(loopback: LoopbackServer) -> None:
    for i in range(8):
        loopback.redirect(f"/r{i}", f"/r{i + 1}")
    loopback.add("/r8", "end")
    with pytest.raises(SourceError) as info:
        await fetch(loopback.url("/r0"), loopback.policy())
    assert info.value.reason == "too many redirects (more than 5)"
    assert len(loopback.requests) == 6


async def test_redirect_without_location(loopback: LoopbackServer) -> None:
    url = loopback.add("/r", status=302, content_type=None)
    with pytest.raises(SourceError, match="without a Location"):
        await fetch(url, loopback.policy())


async def test_connection_refused() -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(SourceError, match="could not connect"):
        await fetch(f"http://127.0.0.1:{port}/", FetchPolicy(allow_private=True, timeout=5))


async def test_unknown_host() -> None:
    with pytest.raises(SourceError, match="host not found"):
        await fetch("http://no-such-host.invalid/feed", FetchPolicy(timeout=5))


async def test_malformed_url() -> None:
    with pytest.raises(SourceError, match="not a valid URL"):
        await fetch("http://[::1/", FetchPolicy())


async def test_truncated_body_is_a_source_error(loopback: LoopbackServer) -> None:
    # Content-Length promises 100 bytes, the server sends 5 and closes
    url = loopback.add("/bad", status=200, headers={"Content-Length": "100"}, body=b"short")
    with pytest.raises(SourceError, match="broke the HTTP protocol"):
        await fetch(url, loopback.policy())
