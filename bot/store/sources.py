"""Sources: feeds and their polling state, and which channels subscribe to which sources."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.models import ChannelRef, FeedState, Subscription
from bot.store.db import Room, chunks, marks
from bot.store.rows import from_iso, to_iso, to_subscription, utc_now


class SourceRoom(Room):
    """Feeds (conditional-GET state, errors, next poll) and subscriptions."""

    def get_feed_state(self, url: str) -> FeedState | None:
        row = self.db.execute("SELECT * FROM feeds WHERE url = ?", (url,)).fetchone()
        return None if row is None else _feed_state(row)

    def get_feed_states(self, urls: Sequence[str]) -> dict[str, FeedState]:
        """The state of each of `urls` polled so far, read in a few queries (a poll looks at
        every configured feed each minute)."""
        states: dict[str, FeedState] = {}
        for part in chunks(list(dict.fromkeys(urls))):
            rows = self.db.execute(
                f"SELECT * FROM feeds WHERE url IN ({marks(part)})", tuple(part)
            ).fetchall()
            states.update((row["url"], _feed_state(row)) for row in rows)
        return states

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

    def claim_feeds(
        self, urls: Sequence[str], owner: str, now: datetime, until: datetime, limit: int
    ) -> list[str]:
        """Claim for `owner`, until `until`, at most `limit` of `urls` that no process holds.

        A feed is free when it was never claimed or its claim ran out by `now`: a poll
        that ended sets it to when the feed is due again (`release_feeds`), and a process that
        died leaves it to expire. On PostgreSQL the candidates are locked ``FOR UPDATE SKIP
        LOCKED``, so replicas claiming at the same moment take different feeds instead of
        waiting on each other; SQLite's write transaction serialises them.

        Returns:
            The claimed URLs, in the order of `urls`; those whose claim ran out longest ago
            are taken first when there are more than `limit`.
        """
        wanted = list(dict.fromkeys(urls))
        if not wanted or limit <= 0:
            return []
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgres" else ""
        claimed: list[str] = []
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO feed_claims (url) VALUES (?) ON CONFLICT (url) DO NOTHING",
                [(url,) for url in wanted],
            )
            for part in chunks(wanted):
                if len(claimed) >= limit:
                    break
                rows = conn.execute(
                    "UPDATE feed_claims SET owner = ?, until = ? WHERE url IN ("
                    f" SELECT url FROM feed_claims WHERE url IN ({marks(part)}) AND until <= ?"
                    f" ORDER BY until, url LIMIT ?{skip_locked}) RETURNING url",
                    (owner, to_iso(until), *part, to_iso(now), limit - len(claimed)),
                ).fetchall()
                claimed += [row["url"] for row in rows]
        taken = set(claimed)
        return [url for url in wanted if url in taken]

    def release_feeds(self, urls: Sequence[str], owner: str, until: datetime) -> None:
        """End `owner`'s claims on `urls`: nobody claims them again before `until` (the next
        poll), unless a claim is taken over by then."""
        if not urls:
            return
        with self.transaction() as conn:
            for part in chunks(list(urls)):
                conn.execute(
                    f"UPDATE feed_claims SET until = ? WHERE owner = ? AND url IN ({marks(part)})",
                    (to_iso(until), owner, *part),
                )

    def feed_claims(self) -> dict[str, tuple[str, datetime | None]]:
        """Each claimed feed: the process that polled it last (or polls it now), and until when
        its claim holds."""
        rows = self.db.execute(
            "SELECT url, owner, until FROM feed_claims WHERE owner <> '' ORDER BY url"
        ).fetchall()
        return {r["url"]: (r["owner"], from_iso(r["until"]) if r["until"] else None) for r in rows}

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
        rows = self.db.execute("SELECT * FROM feeds ORDER BY url").fetchall()
        return [_feed_state(row) for row in rows]


def _feed_state(row: Any) -> FeedState:
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
