"""Neutral data objects shared by the core and every adapter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import quote, unquote, urlsplit


def outlet_label(source: str, url: str) -> str:
    """An article's outlet, or where it came from when the outlet is unknown: the file's name,
    or the host of its link."""
    if source:
        return source
    try:
        parts = urlsplit(url)
    except ValueError:
        return "unknown source"
    if parts.scheme == "file":
        return unquote(PurePosixPath(parts.path).name) or "local file"
    host = (parts.hostname or "").removeprefix("www.")
    return host or "unknown source"


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """Where replies and digests go: a platform name and that platform's channel id."""

    platform: str
    channel: str

    def __str__(self) -> str:
        return f"{self.platform}:{self.channel}"


@dataclass(frozen=True, slots=True)
class Article:
    """One news article, from a feed, a web page or a local file.

    `url` is the canonical address (tracking parameters and fragment stripped);
    local files get a ``file://`` URL. `id` is assigned by the store.
    """

    url: str
    title: str
    source: str
    """The outlet's name; "" when it is unknown (see `label`)."""
    text: str
    published: datetime | None
    fetched_at: datetime
    language: str | None = None
    id: int | None = None
    origin: str | None = None
    """Where it was ingested from: the feed or page URL, or the file, for per-channel sources."""

    revision: int = 0
    """How many times the stored article was revised in place (0: as first ingested)."""
    entry_hash: str | None = None
    """A hash of the text as its source gave it (a feed entry before its teaser was completed),
    so a later poll can tell a changed entry from an unchanged one without fetching its page."""
    update_marker: bool = False
    """The source titled it as an update ("UPDATED: ..."); the title is stored without it."""

    @property
    def label(self) -> str:
        """Its outlet, or where it came from when the outlet is unknown (see `outlet_label`)."""
        return outlet_label(self.source, self.url)


@dataclass(frozen=True, slots=True)
class Bullet:
    """One line of a briefing and the article sentence(s) it was taken from."""

    text: str
    sentences: tuple[str, ...] = ()
    source: str | None = None
    """The outlet the bullet came from; set only in a briefing built from several reports."""
    origin: str = "extract"
    """Who wrote it: ``extract`` (taken from the article) or ``model`` (written by the
    language model and checked against the article; `sentences` then holds the article's
    sentences that support it)."""
    url: str | None = None
    """For a model bullet, the article its supporting sentences are from (a "why" link)."""

    @property
    def written(self) -> bool:
        """Whether a language model wrote it (adapters mark such bullets)."""
        return self.origin == "model"

    @property
    def why(self) -> str | None:
        """For a model bullet, a link to its article that highlights the sentence supporting
        it (a text fragment, ``#:~:text=start,end``, which browsers scroll to); else None."""
        if not self.written or not self.url or not self.sentences:
            return None
        if not self.url.startswith(("http://", "https://")):
            return None
        words = self.sentences[0].split()
        start, end = " ".join(words[:5]), " ".join(words[-3:]) if len(words) > 8 else ""

        def term(text: str) -> str:
            return quote(text, safe="").replace("-", "%2D")

        fragment = term(start) + ("," + term(end) if end else "")
        return self.url.partition("#")[0] + "#:~:text=" + fragment


@dataclass(frozen=True, slots=True)
class Briefing:
    """A headline and a few bullets that summarise one article or story."""

    headline: str
    bullets: tuple[Bullet, ...]


@dataclass(frozen=True, slots=True)
class Story:
    """Articles that report one event, and the briefing that stands for them."""

    articles: tuple[Article, ...]
    briefing: Briefing
    update: bool = False
    """Shown as an update: the channel was sent the story before, and `articles` and `briefing`
    hold only what is new to it (new or revised reports, bullets it was not shown); or one of
    its reports was titled as an update by its source. See `bot.updates`."""

    @property
    def lead(self) -> Article:
        """The best report: the briefing's headline and first bullet come from it."""
        return self.articles[0]

    @property
    def sources(self) -> tuple[str, ...]:
        """Distinct named outlets, in the order their articles appear; reports whose outlet
        is unknown (a file without a ``Source:`` line) are left out."""
        return tuple(dict.fromkeys(a.source for a in self.articles if a.source))

    @property
    def coverage(self) -> str:
        """Who carries the story, for the line under its headline.

        "European Pravda" (one report), "3 sources: A, B, C" (one report each), "3 reports"
        (no outlet known), "4 reports from 2 sources: A, B" (some outlets twice, or some
        unknown), or the file or host a lone report of an unknown outlet came from.
        """
        outlets, reports = self.sources, len(self.articles)
        if reports == 1:
            return self.lead.label
        if not outlets:
            return f"{reports} reports"
        names = ", ".join(outlets)
        if len(outlets) == reports:
            return f"{reports} sources: {names}"
        noun = "source" if len(outlets) == 1 else "sources"
        return f"{reports} reports from {len(outlets)} {noun}: {names}"


@dataclass(frozen=True, slots=True)
class Digest:
    """What one channel is sent at one time: ranked stories and an overview line."""

    stories: tuple[Story, ...]
    generated_at: datetime
    overview: str
    since: datetime | None = None
    settled: tuple[Article, ...] = ()
    """New reports of stories the channel was sent before that add nothing new to them: not
    shown, but recorded as delivered with the digest so they do not come back."""

    @property
    def empty(self) -> bool:
        return not self.stories


@dataclass(frozen=True, slots=True)
class Subscription:
    """A channel of one platform following one source (a feed or page URL)."""

    platform: str
    channel: str
    source: str
    id: int | None = None
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedState:
    """What we remember about a feed between polls: validators and error backoff."""

    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_polled: datetime | None = None
    last_ok: datetime | None = None
    error_count: int = 0
    last_error: str | None = None
    next_poll: datetime | None = None
    entries: int | None = None
    """Articles the last poll that read the feed found in it (None: not known yet); 0 tells
    a feed that works but has nothing to read."""


@dataclass(frozen=True, slots=True)
class Receipt:
    """What a platform returned for a posted digest: the ids of the messages it made."""

    channel: ChannelRef
    message_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Citation:
    """One sentence taken word for word from a stored article, and where it came from."""

    sentence: str
    article_id: int
    title: str
    source: str
    url: str
    published: datetime | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """A cited answer to a question: sentences from stored articles, or none when unanswered."""

    question: str
    citations: tuple[Citation, ...] = ()
    text: str = ""
    """A direct answer a language model wrote from `citations` (each sentence marked [1],
    [2] for the citation it rests on, and checked against it); "" for quotes only."""

    @property
    def answered(self) -> bool:
        return bool(self.citations)


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """A channel's stored preferences: daily digest time and zone, keyword filter, state.

    `digest_time` is ``"HH:MM"`` or None when scheduled digests are off; `filter` holds words
    and phrases of which a story must match one; `enabled` is False once the platform said the
    bot can no longer post there.
    """

    channel: ChannelRef
    digest_time: str | None = None
    timezone: str = "UTC"
    filter: tuple[str, ...] = ()
    enabled: bool = True
    disabled_reason: str | None = None


@dataclass(frozen=True, slots=True)
class DigestRun:
    """One claimed digest slot of one channel, and the articles it carries.

    `status` is ``claimed`` (a process is sending it: `owner`, until `lease_until` unless it
    renews the lease), ``failed`` (to be retried at `next_attempt`), ``sent``, or ``abandoned``
    (still failing `digest.missed_grace` after `due_at`). `claimed_at` is when it was first
    claimed: nothing of it can have reached the platform before.
    """

    channel: ChannelRef
    slot: str
    article_ids: tuple[int, ...]
    status: str
    claimed_at: datetime
    sent_at: datetime | None = None
    attempts: int = 1
    error: str | None = None
    id: int = 0
    due_at: datetime | None = None
    owner: str | None = None
    lease_until: datetime | None = None
    next_attempt: datetime | None = None
    failed_since: datetime | None = None
    parts: int = 0
    parts_sent: int = 0


@dataclass(frozen=True, slots=True)
class DigestPart:
    """One message of a digest run as planned, and what became of it.

    `status` is ``planned`` (not sent, or refused by the platform), ``sending`` (a send began
    and its outcome is unknown: it may have landed) or ``sent`` (accepted as `message_id`).
    `payload` is the platform's message as the adapter rendered it (JSON), kept until the
    run is sent so a resumed run posts exactly what it planned.
    """

    run_id: int
    index: int
    status: str
    payload: str | None = None
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class AlertState:
    """Consecutive failures of a feed (`kind` ``feed``, `subject` its URL) or of a channel's
    digests (``digest``, ``platform:channel``), and whether people were told."""

    kind: str
    subject: str
    failures: int
    since: datetime | None = None
    last_error: str | None = None
    notified_at: datetime | None = None
    recovered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoryCentroid:
    """What story grouping compares a new article with: a story's time span, its number of
    reports, and its centroid (term -> summed TF-IDF weight of its reports)."""

    story_id: int
    first_at: datetime
    last_at: datetime
    size: int
    centroid: dict[str, float]
