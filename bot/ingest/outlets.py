"""The outlet's name for a feed or a page, from what it says about itself, checked against its
address.

Feed titles name a section as often as an outlet: "World" (the Washington Post), "NYT > World
News", "Japan Today - Category World", "TheWeek feed". The name is chosen from the feed's
``<image><title>`` and title (or a page's ``og:site_name``), split at the separators sites put
between outlet and section (" > ", " | ", " - ", ": "...), without the parts made only of
section words. A part that spells the site's domain ("CBSNews.com" on cbsnews.com, "DW" for
Deutsche Welle on dw.com, "Japan Today" on japantoday.com) wins; failing that, one remaining part
is the name unless it is a bare abbreviation the domain does not spell ("NYT" on nytimes.com).
When no title names the outlet, the rest of what the feed says (its copyright line, publisher,
description) is searched for a name that spells the domain: "Copyright 2026 The New York Times
Company" gives "The New York Times", "The Washington Post World section provides..." gives "The
Washington Post". Else the site's domain is the name ("nytimes.com").

These are general rules, not a list of outlets; an operator fixes a wrong name with
``[feeds] names`` (see `OutletNames`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache

from bot.ingest.urls import canonical_url, host_of

__all__ = ["OutletNames", "outlet_name", "site_domain"]

_SEPARATORS = re.compile(r"\s+(?:[>|»·•:–—-]|::|\|\|)\s+|\s*[|»]\s*|:\s+|\s+[-–—]\s*$")
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_CAPITAL_RUN = re.compile(
    r"(?:\b[Tt]he\s+)?"
    r"(?:[A-Z0-9][\w'’.&-]*)(?:\s+(?:(?:of|de|del|la|le|du|and|&|di|da)\s+)?[A-Z0-9][\w'’.&-]*)*"
)
_ABBREVIATION = re.compile(r"[A-Z]{2,5}")
_LEADING_GENERIC = re.compile(
    r"^(?:home|posts?|articles?|blog|news|all\s+posts|latest|comments)\s+(?:on|for|from)\s+",
    re.IGNORECASE,
)
_TLDS = frozenset({"com", "net", "org", "co", "uk", "de", "fr", "es", "it", "io", "au", "br"})
_COPYRIGHT = re.compile(
    r"^(?:all rights reserved\W*)?(?:copyright|\(c\)|©)?\s*(?:©)?\s*(?:\d{4}(?:\s*[-–]\s*\d{4})?)?"
    r"\s*(?:by\s+)?",
    re.IGNORECASE,
)
_COMPANY = re.compile(
    r"[,\s]+(?:company|co\.?|inc\.?|llc|ltd\.?|limited|plc|gmbh|s\.?a\.?|media network|"
    r"media group|group|corporation|corp\.?)\s*$",
    re.IGNORECASE,
)

#: Words that name a section, a feed or an edition, not an outlet (compared lower-case, without
#: accents). A title part made only of these is a section: "World News", "Category World".
SECTION_WORDS = frozenset(
    """
    a all and archive archives article articles asia africa americas atom blog blogs breaking
    business by category channel comments content culture daily economy edition editions
    english entertainment europe every feed feeds for from front full headlines health home
    homepage in index international latest lifestyle live local markets middle east most
    nation national news newsfeed newest of on online opinion page podcast podcasts politics
    popular posts post recent region rss science section sections site sport sports stories
    story technology tech the top travel uk us usa video videos world worldwide xml
    noticias ultimas ultima actualidad portada mundo internacional nacional nachrichten
    aktuell welt actualites actualite infos monde international notizie ultime mondo nieuws
    binnenland buitenland wiadomosci swiat
    """.split()
)


@dataclass(frozen=True, slots=True)
class OutletNames:
    """The operator's names for sources (``[feeds] names``), which win over the rules.

    Each key is a feed or page URL (its articles get the name) or a host name (every article
    whose link is on that host or below it: ``nytimes.com`` covers ``www.nytimes.com``).

    Example:
        names = OutletNames.parse(["nytimes.com = The New York Times"])
        names.lookup("https://www.nytimes.com/2024/a.html", origin=None)
    """

    by_url: Mapping[str, str] = field(default_factory=dict)
    by_host: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    @cache
    def from_settings(cls, entries: tuple[str, ...]) -> OutletNames:
        """`parse`, once per configuration (``settings.feeds.names``, already validated)."""
        return cls.parse(entries)

    @classmethod
    def parse(cls, entries: Iterable[str]) -> OutletNames:
        """From ``"KEY = Name"`` strings (KEY a URL or a host); bad entries raise ValueError."""
        by_url: dict[str, str] = {}
        by_host: dict[str, str] = {}
        for entry in entries:
            key, sep, name = entry.rpartition("=")
            key, name = key.strip(), " ".join(name.split())
            if not sep or not key or not name:
                raise ValueError(f"{entry!r} is not KEY = Name (KEY a URL or a host name)")
            if "://" in key:
                by_url[canonical_url(key)] = name
            else:
                by_host[key.lower().removeprefix("www.").rstrip(".")] = name
        return cls(by_url, by_host)

    def __bool__(self) -> bool:
        return bool(self.by_url or self.by_host)

    def lookup(self, url: str, origin: str | None = None) -> str | None:
        """The operator's name for an article at `url` ingested from `origin`, if any."""
        for key in (origin, url):
            if key and key in self.by_url:
                return self.by_url[key]
        host = host_of(url)
        while host:
            if host in self.by_host:
                return self.by_host[host]
            host = host.partition(".")[2] if "." in host else ""
        return None


def site_domain(url: str) -> str:
    """The registrable domain of `url` ("rss.nytimes.com" -> "nytimes.com"), else its host."""
    # imported when used: courlan costs ~50 ms of every start, and most commands name no outlet
    from courlan import extract_domain

    try:
        domain = extract_domain(url)
    except Exception:  # courlan's URL parsing on hostile input
        domain = None
    return (domain or host_of(url)).lower()


def _fold(text: str) -> str:
    # "EL PAÍS" and "El Pais" spell the same domain
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _words(text: str) -> list[str]:
    return _WORDS.findall(_fold(text.replace("'s ", " ").replace("’s ", " ")))


def _label(domain: str) -> str:
    """The part of a domain a name spells: "nytimes.com" -> "nytimes", "al-monitor.com" ->
    "almonitor", "abc.net.au" -> "abc"."""
    first = domain.split(".", 1)[0]
    return re.sub(r"[^a-z0-9]", "", _fold(first))


def _spellings(words: Sequence[str]) -> set[str]:
    """Ways a name is written in a domain: "The New York Times" -> "nytimes", "newyorktimes",
    "thenewyorktimes", "nyt"...; initials of the first words, then the rest in full."""
    out: set[str] = set()
    for ws in (list(words), [w for w in words if w != "the"]):
        for k in range(len(ws) + 1):
            out.add("".join(w[0] for w in ws[:k]) + "".join(ws[k:]))
    return out


def _spells(text: str, label: str, *, strict: bool = False) -> bool:
    """Whether `text` spells the domain's `label`; unless `strict`, also when it does without
    its trailing section words ("UOL Noticias" on uol.com.br)."""
    if not label:
        return False
    words = _words(text)
    if len(words) > 1 and words[-1] in _TLDS:
        words = words[:-1]  # "CBSNews.com"
    while words:
        if label in _spellings(words):
            return True
        if strict or words[-1] not in SECTION_WORDS:
            return False
        words = words[:-1]
    return False


def _is_section(part: str) -> bool:
    words = _words(part)
    return not words or all(w in SECTION_WORDS or w.isdigit() for w in words)


def _parts(title: str) -> list[str]:
    title = " ".join(title.split())
    parts = [p.strip(" -–—|:>»·•") for p in _SEPARATORS.split(title)]
    out = []
    for part in parts:
        part = _LEADING_GENERIC.sub("", part).strip()
        # what names the format, not the outlet: "TheWeek feed", "Gatsby Blog RSS Feed"
        words = part.split()
        while len(words) > 1 and (
            words[-1].lower() in {"rss", "atom", "xml"}
            or words[-1] == "feed"
            or (words[-1] == "Feed" and words[-2].lower() in {"rss", "atom", "news"})
        ):
            words.pop()
        part = " ".join(words)
        if part:
            out.append(part)
    return out


def _leading_match(part: str, label: str) -> str | None:
    """`part`, or its start, when it spells the domain; the start only when section words
    follow it: "NDTV News Search Records Found" on ndtv.com -> "NDTV News", but "Mikhail
    Shilkov" on mikhail.io stays whole."""
    tokens = part.split()
    for end in range(1, len(tokens) + 1):
        if not _spells(" ".join(tokens[:end]), label, strict=True):
            continue
        stop = end
        while stop < len(tokens) and _is_section(tokens[stop]):
            stop += 1
        if stop == len(tokens) or stop > end:
            return " ".join(tokens[:stop]).rstrip(",;:")
        return None
    return None


def _named_in(text: str, label: str) -> str | None:
    """A capitalised name anywhere in `text` that spells the domain, the longest first:
    "Copyright 2026 The New York Times Company" on nytimes.com -> "The New York Times"."""
    best: str | None = None
    for run in _CAPITAL_RUN.finditer(text):
        tokens = run.group(0).split()
        for i in range(len(tokens)):
            for j in range(min(len(tokens), i + 6), i, -1):
                candidate = " ".join(tokens[i:j]).strip(".,;:")
                longer = best is None or len(candidate) > len(best)
                if longer and _spells(candidate, label, strict=True):
                    best = candidate
    if best is None:
        return None
    # keep the article the outlet writes before its name
    the = re.search(r"\b(The)\s+" + re.escape(best), text)
    if the and not best.lower().startswith("the "):
        best = f"The {best}"
    return _COMPANY.sub("", best).strip() or None


def outlet_name(
    titles: Sequence[str | None],
    site_url: str,
    *,
    other_text: Sequence[str | None] = (),
) -> str:
    """The outlet's name (see the module's description for the rules).

    Args:
        titles: What names the feed or page, best first: the feed's image title and title, or
            a page's site name.
        site_url: The site's address (the feed's ``<link>``, else the feed URL; a page's URL).
        other_text: Further text that may name the outlet: copyright, publisher, description.

    Returns:
        A name, or the site's domain ("nytimes.com") when nothing names the outlet.
    """
    domain = site_domain(site_url)
    label = _label(domain)
    named = [" ".join(t.split()) for t in titles if t and t.strip()]
    split = [(t, [p for p in _parts(t.lstrip("@")) if not _is_section(p)]) for t in named]
    for _, parts in split:
        for part in parts:
            leading = _leading_match(part, label)
            if leading:
                return leading
    for title, parts in split:
        if len(parts) > 1:
            # several parts and none spells the site: the title as written says it best
            return title
        if parts and not _ABBREVIATION.fullmatch(parts[0]):
            return parts[0]
    for text in (*named, *other_text):
        if text:
            found = _named_in(_COPYRIGHT.sub("", " ".join(text.split())), label)
            if found:
                return found
    return domain or site_url
