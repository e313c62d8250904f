"""Canonical URLs, so one article has one address however it was linked.

Feeds, newsletters and social sites decorate links with campaign parameters;
without canonicalisation the same story would be stored (and posted) once per
decoration. `canonical_url` is deliberately conservative: it only rewrites the
parts of a URL that never change which document a server returns.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote, urlsplit, urlunsplit

log = logging.getLogger(__name__)

__all__ = ["TRACKING_PARAMS", "TRACKING_PREFIXES", "canonical_url", "host_of"]

#: Query parameters (compared case-insensitively) that only identify a campaign or click.
TRACKING_PARAMS: frozenset[str] = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "mc_cid",
        "mc_eid",
        "igshid",
        "igsh",
        "ref",
        "ref_src",
        "ref_url",
        "referrer",
        "cmpid",
        "s_cid",
        "_ga",
        "_gl",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "_hsenc",
        "_hsmi",
        "__hstc",
        "__hssc",
        "__hsfp",
        "hsctatracking",
        "ncid",
        "sr_share",
        "smid",
    }
)

#: Prefixes of tracking parameter families (utm_source, utm_medium, pk_campaign...).
TRACKING_PREFIXES: tuple[str, ...] = ("utm_", "pk_", "mtm_", "itm_")

_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(part: str) -> bool:
    key = unquote(part.split("=", 1)[0]).strip().lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _netloc(scheme: str, raw_netloc: str) -> str:
    userinfo, at, hostport = raw_netloc.rpartition("@")
    host, port = hostport, ""
    if hostport.startswith("["):
        # IPv6 literal: the port, if any, follows the closing bracket
        end = hostport.find("]")
        if end != -1:
            host, rest = hostport[: end + 1], hostport[end + 1 :]
            port = rest[1:] if rest.startswith(":") else ""
    elif ":" in hostport:
        host, _, port = hostport.rpartition(":")
    host = host.lower().rstrip(".")
    if port and port.isdigit():
        port = str(int(port))
        if _DEFAULT_PORTS.get(scheme) == int(port):
            port = ""
    elif port == "":
        pass
    else:
        # not a number: leave it alone, the fetcher reports the bad URL
        host = f"{host}:{port}"
        port = ""
    out = f"{host}:{port}" if port else host
    return f"{userinfo}{at}{out}"


def canonical_url(url: str) -> str:
    """Return the canonical form of `url`.

    Lower-cases scheme and host, drops the default port, the fragment and
    tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_cid``, ``ref``...),
    sorts the remaining query parameters (their encoding is kept byte for byte)
    and removes the trailing ``/`` of an empty path (``https://a.org/`` becomes
    ``https://a.org``). A non-empty path is never touched: ``/a/`` and ``/a``
    may be different documents.

    Args:
        url: An absolute URL; surrounding whitespace is ignored.

    Returns:
        The canonical URL. Strings that are not URLs come back stripped but
        otherwise unchanged; this function never raises for bad input.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    scheme = parts.scheme.lower()
    if not scheme or (scheme in _DEFAULT_PORTS and not parts.netloc):
        return text  # not a usable web address: nothing to normalise
    netloc = _netloc(scheme, parts.netloc)
    if parts.netloc and not netloc:
        return text  # an authority of nothing but colons ("a://::"): no address to normalise
    path = parts.path
    if path == "/" and scheme in _DEFAULT_PORTS:
        path = ""
    query_parts = [p for p in parts.query.split("&") if p and not _is_tracking(p)]
    # sort by decoded key first so `b=1&a=2` and `a=2&b=1` agree; raw text breaks ties
    query_parts.sort(key=lambda p: (unquote(p.split("=", 1)[0]), p))
    # stripped again: dropping a fragment or query can leave trailing spaces of the path, and
    # canonical_url(canonical_url(x)) must equal canonical_url(x)
    return urlunsplit((scheme, netloc, path, "&".join(query_parts), "")).strip()


def host_of(url: str) -> str:
    """The host name of `url` without a leading ``www.`` (a readable fallback source name).

    Args:
        url: An absolute URL.

    Returns:
        The lower-case host, or ``""`` if the URL has none.
    """
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    except ValueError:
        return ""
    return host.removeprefix("www.")
