"""Sources: feeds and their polling state, and which channels subscribe to which sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.models import ChannelRef, FeedState, Subscription
from bot.store.db import Room
from bot.store.rows import from_iso, to_iso, to_subscription, utc_now


class SourceRoom(Room):
    """Feeds (conditional-GET state, errors, next poll) and subscriptions."""

    def get_feed_state(self, url: str) -> FeedState | None:
        row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        if row is None:
            return None
        return FeedState(
            url=row["url"],
            etag=row["etag"],
            last_modified=row["last_modified"],
            last_polled=from_iso(row["last_polled"]),
            last_ok=from_iso(row["last_ok"]),
            error_count=int(row["error_count"]),
            last_error=row["last_error"],
            next_poll=from_iso(row["next_poll"]),
            entries=row["entries"],
        )

    def put_feed_state(self, state: FeedState, title: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO feeds (url, title, etag, last_modified, last_polled, last_ok,"
                " error_count, last_error, next_poll, entries)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (url) DO UPDATE SET title = coalesce(excluded.title, feeds.title),"
                " etag = excluded.etag, last_modified = excluded.last_modified,"
                " last_polled = excluded.last_polled, last_ok = excluded.last_ok,"
                " error_count = excluded.error_count, last_error = excluded.last_error,"
                " next_poll = excluded.next_poll,"
                " entries = coalesce(excluded.entries, feeds.entries)",
                (
                    state.url,
                    title,
                    state.etag,
                    state.last_modified,
                    to_iso(state.last_polled),
                    to_iso(state.last_ok),
                    state.error_count,
                    state.last_error,
                    to_iso(state.next_poll),
                    state.entries,
                ),
            )

    def feed_title(self, url: str) -> str | None:
        row = self.db.execute("SELECT title FROM feeds WHERE url = ?", (url,)).fetchone()
        return row["title"] if row else None

    # Subscriptions ----------------------------------------------------------------------

    def add_subscription(self, sub: Subscription) -> tuple[Subscription, bool]:
        """Subscribe a channel to a source; returns the stored row and whether it was new."""
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO subscriptions (platform, channel, source, created_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (sub.platform, sub.channel, sub.source, to_iso(sub.created_at or utc_now())),
            )
            row = conn.execute(
                "SELECT * FROM subscriptions WHERE platform = ? AND channel = ? AND source = ?",
                (sub.platform, sub.channel, sub.source),
            ).fetchone()
        return to_subscription(row), cur.rowcount == 1

    def remove_subscription(self, channel: ChannelRef, source_or_id: str) -> bool:
        key: Any = int(source_or_id) if source_or_id.isdigit() else source_or_id
        column = "id" if isinstance(key, int) else "source"
        with self.transaction() as conn:
            cur = conn.execute(
                f"DELETE FROM subscriptions WHERE platform = ? AND channel = ? AND {column} = ?",
                (channel.platform, channel.channel, key),
            )
        return cur.rowcount > 0

    def subscriptions(self, channel: ChannelRef | None = None) -> list[Subscription]:
        if channel is None:
            rows = self.db.execute("SELECT * FROM subscriptions ORDER BY id").fetchall()
        else:
            rows = self.db.execute(
                "SELECT * FROM subscriptions WHERE platform = ? AND channel = ? ORDER BY id",
                (channel.platform, channel.channel),
            ).fetchall()
        return [to_subscription(r) for r in rows]

    def subscribed_channels(self, source: str) -> list[ChannelRef]:
        rows = self.db.execute(
            "SELECT platform, channel FROM subscriptions WHERE source = ? ORDER BY id", (source,)
        ).fetchall()
        return [ChannelRef(r[0], r[1]) for r in rows]

    def hidden_sources(self, channel: ChannelRef, shared: Sequence[str] = ()) -> list[str]:
        """Sources only other channels follow: their articles are not for `channel`.

        A channel gets its own subscriptions, the operator's `shared` feeds, and whatever was
        ingested by hand (files, URLs on the command line).
        """
        mine = {s.source for s in self.subscriptions(channel)} | set(shared)
        return [source for source in self.subscribed_sources() if source not in mine]

    def subscribed_sources(self) -> list[str]:
        """Every distinct source some channel follows."""
        rows = self.db.execute("SELECT DISTINCT source FROM subscriptions ORDER BY source")
        return [r[0] for r in rows.fetchall()]

    def feed_states(self) -> list[FeedState]:
        """Every feed polled so far."""
        rows = self.db.execute("SELECT url FROM feeds ORDER BY url").fetchall()
        return [s for s in (self.get_feed_state(r[0]) for r in rows) if s is not None]
