"""Rows to models and back, shared by both backends.

Dates are stored as ISO-8601 TEXT in UTC on SQLite and PostgreSQL alike (``2025-08-17T12:00:00
+00:00``), so they sort as text and one mapping reads both; lists and mappings are JSON TEXT.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bot.models import (
    AlertState,
    Article,
    Bullet,
    ChannelRef,
    ChannelSettings,
    DigestRun,
    Subscription,
)
from bot.text import TOKEN

_WORDS = TOKEN  # the tokens FTS5's unicode61 splits text into (bot.text)

_ARTICLE_FIELDS = (
    "id",
    "url",
    "content_hash",
    "title",
    "source",
    "text",
    "published",
    "fetched_at",
    "language",
    "origin",
    "story_id",
    "revision",
    "entry_hash",
    "update_marker",
)
ARTICLE_COLUMNS = ", ".join(_ARTICLE_FIELDS)
"""The columns `to_article` reads (never PostgreSQL's search columns, which are large)."""
A_COLUMNS = ", ".join(f"a.{name}" for name in _ARTICLE_FIELDS)
"""`ARTICLE_COLUMNS` of an ``articles a``."""


@dataclass(frozen=True, slots=True)
class StoryView:
    """What one channel was shown of one story in one digest.

    Attributes:
        story_id: the story the articles belonged to when shown.
        articles: (article id, revision) of every article recorded as delivered with it, shown
            or settled (a report that added nothing new).
        outlets: outlet names shown; empty for settled reports.
        bullets: bullet texts shown.
    """

    story_id: int
    articles: tuple[tuple[int, int], ...] = ()
    outlets: tuple[str, ...] = ()
    bullets: tuple[str, ...] = ()


class SeenArticle(NamedTuple):
    """What a channel was shown of one delivered article."""

    revision: int
    """The revision shown (0 when delivered before views were kept)."""
    story_id: int | None
    """The story it was shown in (None when delivered before views were kept)."""


class StoryOutline(NamedTuple):
    """What ranking a story needs of its stored reports, without their texts."""

    story_id: int
    outlets: int
    """Distinct outlets (a report of no named outlet counts by its origin, else its URL)."""
    newest: datetime
    """The newest report's published time (fetch time when it has none)."""
    length: int
    """The longest report's text, in characters."""
    sent: bool
    """Whether a report of it was delivered to the channel asked about."""


class FeatureStats(NamedTuple):
    """Document counts of story grouping over some days."""

    total: int
    """Articles grouped on those days."""
    counts: dict[str, int]
    """How many of them have each feature asked about (features in none are left out)."""


@functools.lru_cache(maxsize=256)
def content_hash(text: str) -> str:
    """A hash of the words of `text`, so re-wrapped or re-spaced copies count as one.

    Ingest asks it of one text several times (the entry's hash, then the stored text's), so
    the last few are remembered."""
    words = " ".join(_WORDS.findall(text.lower()))
    return hashlib.sha256(words.encode("utf-8")).hexdigest()


def to_iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def to_day(moment: datetime) -> str:
    """The UTC calendar day of `moment` (naive times are taken as UTC), as YYYY-MM-DD."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date().isoformat()


def from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_article(row: Any) -> Article:
    return Article(
        url=row["url"],
        title=row["title"],
        source=row["source"],
        text=row["text"],
        published=from_iso(row["published"]),
        fetched_at=from_iso(row["fetched_at"]) or utc_now(),
        language=row["language"],
        id=int(row["id"]),
        origin=row["origin"],
        revision=int(row["revision"]),
        entry_hash=row["entry_hash"],
        update_marker=bool(row["update_marker"]),
    )


def from_bullet(bullet: Bullet) -> dict[str, object]:
    row: dict[str, object] = {"text": bullet.text, "sentences": list(bullet.sentences)}
    if bullet.source is not None:
        # only story briefings name an outlet per bullet; rows without the key read as None
        row["source"] = bullet.source
    if bullet.written:
        row["origin"], row["url"] = bullet.origin, bullet.url
    return row


def to_subscription(row: Any) -> Subscription:
    return Subscription(
        platform=row["platform"],
        channel=row["channel"],
        source=row["source"],
        id=int(row["id"]),
        created_at=from_iso(row["created_at"]),
    )


def to_channel(row: Any) -> ChannelSettings:
    return ChannelSettings(
        channel=ChannelRef(row["platform"], row["channel"]),
        digest_time=row["digest_time"],
        timezone=row["timezone"],
        filter=tuple(json.loads(row["filter"])) if row["filter"] else (),
        enabled=bool(row["enabled"]),
        disabled_reason=row["disabled_reason"],
    )


def to_digest_run(row: Any) -> DigestRun:
    return DigestRun(
        channel=ChannelRef(row["platform"], row["channel"]),
        slot=row["slot"],
        article_ids=tuple(json.loads(row["article_ids"])),
        status=row["status"],
        claimed_at=from_iso(row["claimed_at"]) or utc_now(),
        sent_at=from_iso(row["sent_at"]),
        attempts=int(row["attempts"]),
        error=row["error"],
        id=int(row["id"]),
        due_at=from_iso(row["due_at"]),
        owner=row["owner"],
        lease_until=from_iso(row["lease_until"]),
        next_attempt=from_iso(row["next_attempt"]),
        failed_since=from_iso(row["failed_since"]),
        parts=int(row["parts"]),
        parts_sent=int(row["parts_sent"]),
    )


def to_alert(row: Any) -> AlertState:
    return AlertState(
        kind=row["kind"],
        subject=row["subject"],
        failures=int(row["failures"]),
        since=from_iso(row["since"]),
        last_error=row["last_error"],
        notified_at=from_iso(row["notified_at"]),
        recovered_at=from_iso(row["recovered_at"]),
    )
