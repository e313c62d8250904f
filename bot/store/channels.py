"""Channels: their settings, what was delivered to them, digest runs and their parts, and
alerts about failing feeds and channels.

A digest run is claimed under a unique (platform, channel, slot) key, so exactly one process
sends it, on SQLite and PostgreSQL alike; its parts are recorded one by one as the platform
accepts them (bot/delivery.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.models import AlertState, Article, ChannelRef, ChannelSettings, DigestPart, DigestRun
from bot.store.articles import NEWEST_FIRST
from bot.store.db import Database, Room, chunks, marks
from bot.store.rows import (
    A_COLUMNS,
    SeenArticle,
    StoryView,
    from_iso,
    to_alert,
    to_article,
    to_channel,
    to_digest_run,
    to_iso,
    utc_now,
)

MAX_VIEW_BULLETS = 60
"""Bullet texts remembered per channel and story (the newest); a long-running story's oldest
facts may then count as new again, which is better than an unbounded row."""


class ChannelRoom(Room):
    """Channel settings, deliveries, digest runs and parts, alerts."""

    # Deliveries -------------------------------------------------------------------------

    @property
    def db_fixed_join(self) -> str:
        """A join whose order the planner keeps: SQLite's CROSS JOIN ... ON; PostgreSQL
        plans a JOIN well by itself (and has no CROSS JOIN with ON)."""
        return "CROSS JOIN" if self.db.dialect == "sqlite" else "JOIN"

    def undelivered_articles(
        self,
        channel: ChannelRef,
        limit: int = 500,
        *,
        hidden: Sequence[str] = (),
        since: datetime | None = None,
        fetched_since: datetime | None = None,
    ) -> list[Article]:
        """Articles not yet delivered to `channel`, newest first.

        Args:
            hidden: sources whose articles are not for this channel (see `hidden_sources`).
            since: only articles published (or fetched) at or after this time.
            fetched_since: only articles fetched at or after this time, the `limit` fetched
                last (`undelivered_window`).
        """
        where, params = undelivered_to(channel, hidden)
        if since is not None:
            where.append("coalesce(a.published, a.fetched_at) >= ?")
            params.append(to_iso(since))
        if fetched_since is not None:
            head, args = undelivered_window(where, params, fetched_since, limit)
            rows = self.db.execute(
                f"{head}SELECT {A_COLUMNS} FROM fresh f {self.db_fixed_join} articles a"
                " ON a.id = f.id ORDER BY f.at DESC, f.size DESC, f.id",
                args,
            ).fetchall()
            return [to_article(r) for r in rows]
        rows = self.db.execute(
            f"SELECT {A_COLUMNS} FROM articles a WHERE {' AND '.join(where)}"
            f" ORDER BY {NEWEST_FIRST} LIMIT ?",
            (*params, limit),
        ).fetchall()
        return [to_article(r) for r in rows]

    def undelivered_ids(
        self,
        channel: ChannelRef,
        limit: int = 500,
        *,
        hidden: Sequence[str] = (),
        fetched_since: datetime,
    ) -> list[tuple[int, int]]:
        """(article id, story id) of the articles `undelivered_articles` gives for
        `fetched_since`, in its order, without reading their texts into Python (a digest
        ranks them before it loads any)."""
        where, params = undelivered_to(channel, hidden)
        head, args = undelivered_window(where, params, fetched_since, limit)
        rows = self.db.execute(
            f"{head}SELECT id, story_id FROM fresh ORDER BY at DESC, size DESC, id", args
        ).fetchall()
        return [(i, i if sid is None else sid) for i, sid in rows]

    def revised_ids(
        self, channel: ChannelRef, limit: int = 500, *, hidden: Sequence[str] = ()
    ) -> list[tuple[int, int]]:
        """(article id, story id) of the articles `revised_articles` gives, in its order."""
        return [(i, s) for i, s, _ in self._revised(channel, limit, hidden, "")]

    def revised_articles(
        self, channel: ChannelRef, limit: int = 500, *, hidden: Sequence[str] = ()
    ) -> list[Article]:
        """Articles delivered to `channel` that were revised after it was shown them, newest
        first (an article delivered before revisions were tracked was shown revision 0)."""
        return [to_article(row) for _, _, row in self._revised(channel, limit, hidden, A_COLUMNS)]

    def _revised(
        self, channel: ChannelRef, limit: int, hidden: Sequence[str], columns: str
    ) -> list[tuple[int, int, Any]]:
        """(id, story id, row with `columns`) of the articles `revised_articles` gives.

        Few articles are ever revised: they are found by the partial index articles_revised
        and ordered here, not by walking every article newest first (which the planner
        prefers for the ORDER BY, and which reads every article the channel was sent).
        """
        params: list[Any] = [channel.platform, channel.channel]
        where = ""
        if hidden:
            where = f" AND (a.origin IS NULL OR a.origin NOT IN ({marks(hidden)}))"
            params.extend(hidden)
        extra = f", {columns}" if columns else ""
        rows = self.db.execute(
            "SELECT a.id AS article_id, coalesce(a.story_id, a.id) AS sid,"
            " coalesce(a.published, a.fetched_at) AS at, length(a.text) AS chars"
            f"{extra} FROM articles a"
            f" {self.db_fixed_join} deliveries d ON d.article_id = a.id AND d.platform = ?"
            " AND d.channel = ?"
            " LEFT JOIN article_views v ON v.platform = d.platform AND v.channel = d.channel"
            " AND v.article_id = a.id"
            f" WHERE a.revision > 0 AND a.revision > coalesce(v.revision, 0){where}",
            params,
        ).fetchall()
        # NEWEST_FIRST: newest first, then the longer text, then the lower id
        rows.sort(key=lambda r: r["article_id"])
        rows.sort(key=lambda r: (r["at"], r["chars"]), reverse=True)
        return [(int(r["article_id"]), int(r["sid"]), r) for r in rows[:limit]]

    def seen_articles(
        self, channel: ChannelRef, article_ids: Sequence[int]
    ) -> dict[int, SeenArticle]:
        """Of `article_ids`, those delivered to `channel`, each with the revision it was shown
        and the story it was shown in (0 and None when delivered before views were kept)."""
        found: dict[int, SeenArticle] = {}
        for chunk in chunks(article_ids):
            rows = self.db.execute(
                "SELECT d.article_id, coalesce(v.revision, 0), v.story_id FROM deliveries d"
                " LEFT JOIN article_views v ON v.platform = d.platform AND v.channel = d.channel"
                " AND v.article_id = d.article_id"
                f" WHERE d.platform = ? AND d.channel = ? AND d.article_id IN ({marks(chunk)})",
                (channel.platform, channel.channel, *chunk),
            ).fetchall()
            found.update(
                (int(r[0]), SeenArticle(int(r[1]), None if r[2] is None else int(r[2])))
                for r in rows
            )
        return found

    def record_deliveries(
        self,
        channel: ChannelRef,
        article_ids: Iterable[int],
        when: datetime | None = None,
        *,
        views: Sequence[StoryView] = (),
    ) -> int:
        """Mark articles as sent to `channel`, and what it was shown of their stories; returns
        how many articles were not marked before."""
        moment = when or utc_now()
        with self.transaction() as conn:
            added = _insert_deliveries(conn, channel, article_ids, moment)
            _insert_views(conn, channel, views, moment)
            return added

    def last_delivery(self, channel: ChannelRef) -> datetime | None:
        row = self.db.execute(
            "SELECT max(delivered_at) FROM deliveries WHERE platform = ? AND channel = ?",
            (channel.platform, channel.channel),
        ).fetchone()
        return from_iso(row[0])

    # Channels ---------------------------------------------------------------------------

    def get_channel(self, channel: ChannelRef) -> ChannelSettings:
        """The channel's settings; defaults when it has none stored."""
        row = self.db.execute(
            "SELECT * FROM channels WHERE platform = ? AND channel = ?",
            (channel.platform, channel.channel),
        ).fetchone()
        return to_channel(row) if row else ChannelSettings(channel=channel)

    def put_channel(self, settings: ChannelSettings) -> None:
        ref = settings.channel
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO channels (platform, channel, digest_time, timezone, filter, enabled,"
                " disabled_reason, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (platform, channel) DO UPDATE SET"
                " digest_time = excluded.digest_time, timezone = excluded.timezone,"
                " filter = excluded.filter, enabled = excluded.enabled,"
                " disabled_reason = excluded.disabled_reason, updated_at = excluded.updated_at",
                (
                    ref.platform,
                    ref.channel,
                    settings.digest_time,
                    settings.timezone,
                    json.dumps(list(settings.filter), ensure_ascii=False)
                    if settings.filter
                    else None,
                    int(settings.enabled),
                    settings.disabled_reason,
                    to_iso(utc_now()),
                ),
            )

    def scheduled_channels(self, platform: str | None = None) -> list[ChannelSettings]:
        """Enabled channels with a digest time, optionally of one platform."""
        sql = "SELECT * FROM channels WHERE enabled = 1 AND digest_time IS NOT NULL"
        params: tuple[str, ...] = ()
        if platform is not None:
            sql += " AND platform = ?"
            params = (platform,)
        rows = self.db.execute(sql + " ORDER BY platform, channel", params).fetchall()
        return [to_channel(r) for r in rows]

    # Digest runs ------------------------------------------------------------------------

    def claim_digest(
        self,
        channel: ChannelRef,
        slot: str,
        article_ids: Sequence[int],
        now: datetime,
        *,
        owner: str | None = None,
        lease_until: datetime | None = None,
        due: datetime | None = None,
    ) -> DigestRun | None:
        """Claim a channel's digest slot before sending; None when it is claimed already.

        The unique (platform, channel, slot) key makes exactly one claimer win, across
        processes sharing the database file.

        Args:
            owner: the claiming process (see `bot.delivery.owner_id`), holding the claim until
                `lease_until` unless it renews it.
            due: when the digest was due (default `now`): retries stop a grace period after it.
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO digest_runs (platform, channel, slot, article_ids, status,"
                " claimed_at, due_at, owner, lease_until)"
                " VALUES (?, ?, ?, ?, 'claimed', ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    channel.platform,
                    channel.channel,
                    slot,
                    json.dumps(list(article_ids)),
                    to_iso(now),
                    to_iso(due or now),
                    owner,
                    to_iso(lease_until),
                ),
            )
        return self.digest_run(channel, slot) if cur.rowcount == 1 else None

    def take_run(self, run: DigestRun, owner: str, *, lease_until: datetime) -> DigestRun | None:
        """Take an open run over for `owner`: a failed one, or a claim whose process is gone.

        Compare-and-set on the status, owner and lease read in `run`, so of two processes
        taking the same run over only one wins.

        Returns:
            The run as now claimed by `owner`, or None when someone else changed it first.
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET status = 'claimed', owner = ?, lease_until = ?,"
                " attempts = attempts + 1 WHERE id = ? AND status = ?"
                " AND owner IS NOT DISTINCT FROM ?"
                " AND lease_until IS NOT DISTINCT FROM ?",
                (
                    owner,
                    to_iso(lease_until),
                    run.id,
                    run.status,
                    run.owner,
                    to_iso(run.lease_until),
                ),
            )
        if cur.rowcount != 1:
            return None
        return self.get_run(run.id)

    def renew_leases(self, owner: str, until: datetime) -> int:
        """Extend every claim `owner` holds; returns how many it holds."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET lease_until = ? WHERE owner = ? AND status = 'claimed'",
                (to_iso(until), owner),
            )
        return cur.rowcount

    def plan_parts(
        self,
        run_id: int,
        owner: str | None,
        payloads: Sequence[str],
        shown: Mapping[str, Any],
        *,
        article_ids: Sequence[int],
        keep_unsure: bool = True,
    ) -> bool:
        """Store the messages a run will post, the articles it carries, and what to record
        once they are all sent.

        An earlier plan is replaced only while none of its messages can have reached the
        platform (all ``planned``), or when `keep_unsure` is False (a platform that cannot tell
        whether a message landed: it is sent again anyway).

        Returns:
            False when the run is not `owner`'s claim, or an earlier plan must be kept.
        """
        with self.transaction() as conn:
            held = conn.execute(
                "SELECT 1 FROM digest_runs WHERE id = ? AND status = 'claimed'"
                " AND owner IS NOT DISTINCT FROM ?",
                (run_id, owner),
            ).fetchone()
            if held is None:
                return False
            if keep_unsure:
                begun = conn.execute(
                    "SELECT 1 FROM digest_parts WHERE run_id = ? AND status != 'planned' LIMIT 1",
                    (run_id,),
                ).fetchone()
                if begun is not None:
                    return False
            conn.execute("DELETE FROM digest_parts WHERE run_id = ?", (run_id,))
            conn.executemany(
                "INSERT INTO digest_parts (run_id, part, status, payload)"
                " VALUES (?, ?, 'planned', ?)",
                [(run_id, n, payload) for n, payload in enumerate(payloads)],
            )
            conn.execute(
                "UPDATE digest_runs SET shown = ?, parts = ?, parts_sent = 0, article_ids = ?"
                " WHERE id = ?",
                (
                    json.dumps(shown, ensure_ascii=False),
                    len(payloads),
                    json.dumps(list(article_ids)),
                    run_id,
                ),
            )
        return True

    def run_parts(self, run_id: int) -> list[DigestPart]:
        """A run's planned messages, in order."""
        rows = self.db.execute(
            "SELECT * FROM digest_parts WHERE run_id = ? ORDER BY part", (run_id,)
        ).fetchall()
        return [
            DigestPart(
                run_id=int(r["run_id"]),
                index=int(r["part"]),
                status=r["status"],
                payload=r["payload"],
                message_id=r["message_id"],
            )
            for r in rows
        ]

    def start_part(
        self, run_id: int, index: int, owner: str | None, now: datetime, *, lease_until: datetime
    ) -> bool:
        """Note, before sending it, that a part may land from now on; renews the claim.

        Returns:
            False when the run is no longer `owner`'s claim (it must not be sent then).
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET lease_until = ? WHERE id = ? AND status = 'claimed'"
                " AND owner IS NOT DISTINCT FROM ?",
                (to_iso(lease_until), run_id, owner),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "UPDATE digest_parts SET status = 'sending', attempted_at = ?"
                " WHERE run_id = ? AND part = ? AND status != 'sent'",
                (to_iso(now), run_id, index),
            )
        return True

    def record_part(
        self,
        run_id: int,
        index: int,
        message_id: str,
        owner: str | None,
        now: datetime,
        *,
        lease_until: datetime,
    ) -> bool:
        """Record a part the platform accepted, with its message id, and the run's progress
        and renewed claim, in one transaction.

        Returns:
            False when the run is no longer `owner`'s claim.
        """
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET lease_until = ?, parts_sent = parts_sent + 1"
                " WHERE id = ? AND status = 'claimed' AND owner IS NOT DISTINCT FROM ?",
                (to_iso(lease_until), run_id, owner),
            )
            if cur.rowcount != 1:
                return False
            conn.execute(
                "UPDATE digest_parts SET status = 'sent', message_id = ?, sent_at = ?"
                " WHERE run_id = ? AND part = ?",
                (message_id, to_iso(now), run_id, index),
            )
        return True

    def unsend_part(self, run_id: int, index: int) -> None:
        """A part the platform refused (so it did not land): planned again."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE digest_parts SET status = 'planned' WHERE run_id = ? AND part = ?"
                " AND status = 'sending'",
                (run_id, index),
            )

    def finish_run(self, run_id: int, owner: str | None, now: datetime) -> bool:
        """Mark a claimed run sent, and record its articles as delivered and what the channel
        was shown of their stories (as planned), in one transaction; the plan's payloads go.

        Returns:
            False when the run was not `owner`'s claim (nothing is recorded then, so the views
            are written once, by the process that completed the run).
        """
        stamp = to_iso(now)
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE digest_runs SET status = 'sent', sent_at = ?, error = NULL, owner = NULL,"
                " lease_until = NULL, next_attempt = NULL WHERE id = ? AND status = 'claimed'"
                " AND owner IS NOT DISTINCT FROM ? RETURNING platform, channel, shown",
                (stamp, run_id, owner),
            ).fetchone()
            if row is None:
                return False
            channel = ChannelRef(row["platform"], row["channel"])
            shown = json.loads(row["shown"] or "{}")
            _insert_deliveries(conn, channel, shown.get("articles", ()), now)
            views = [
                StoryView(
                    int(v["story"]),
                    tuple((int(a), int(r)) for a, r in v.get("articles", ())),
                    tuple(v.get("outlets", ())),
                    tuple(v.get("bullets", ())),
                )
                for v in shown.get("views", ())
            ]
            _insert_views(conn, channel, views, now)
            conn.execute("UPDATE digest_parts SET payload = NULL WHERE run_id = ?", (run_id,))
        return True

    def fail_run(
        self,
        run_id: int,
        owner: str | None,
        error: str,
        now: datetime,
        *,
        next_attempt: datetime | None,
    ) -> bool:
        """Record a failed attempt: the claim is released and the run retried at
        `next_attempt` (None: abandoned, never retried)."""
        status = "failed" if next_attempt is not None else "abandoned"
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET status = ?, error = ?, next_attempt = ?, owner = NULL,"
                " lease_until = NULL, failed_since = coalesce(failed_since, ?)"
                " WHERE id = ? AND status = 'claimed' AND owner IS NOT DISTINCT FROM ?",
                (status, error[:500], to_iso(next_attempt), to_iso(now), run_id, owner),
            )
        return cur.rowcount == 1

    def abandon_run(self, run: DigestRun, error: str, now: datetime) -> bool:
        """Give up an open run that was not retried in time (compare-and-set, as `take_run`)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET status = 'abandoned', error = ?, owner = NULL,"
                " lease_until = NULL, next_attempt = NULL, failed_since = coalesce(failed_since, ?)"
                " WHERE id = ? AND status = ? AND owner IS NOT DISTINCT FROM ?"
                " AND lease_until IS NOT DISTINCT FROM ?",
                (error[:500], to_iso(now), run.id, run.status, run.owner, to_iso(run.lease_until)),
            )
        return cur.rowcount == 1

    def hasten_runs(self, platform: str, now: datetime) -> int:
        """Bring every failed run of `platform` forward to `now` (the platform works again)."""
        with self.transaction() as conn:
            cur = conn.execute(
                "UPDATE digest_runs SET next_attempt = ? WHERE platform = ? AND status = 'failed'"
                " AND next_attempt > ?",
                (to_iso(now), platform, to_iso(now)),
            )
        return cur.rowcount

    def get_run(self, run_id: int) -> DigestRun | None:
        row = self.db.execute("SELECT * FROM digest_runs WHERE id = ?", (run_id,)).fetchone()
        return to_digest_run(row) if row else None

    def digest_run(self, channel: ChannelRef, slot: str) -> DigestRun | None:
        row = self.db.execute(
            "SELECT * FROM digest_runs WHERE platform = ? AND channel = ? AND slot = ?",
            (channel.platform, channel.channel, slot),
        ).fetchone()
        return to_digest_run(row) if row else None

    def open_runs(self, owner: str | None = None) -> list[DigestRun]:
        """Claimed or failed digest runs (of `owner` only, if given), oldest first."""
        sql = "SELECT * FROM digest_runs WHERE status IN ('claimed', 'failed')"
        params: tuple[str, ...] = ()
        if owner is not None:
            sql += " AND owner = ?"
            params = (owner,)
        rows = self.db.execute(sql + " ORDER BY claimed_at, id", params).fetchall()
        return [to_digest_run(r) for r in rows]

    def channel_runs(self, channel: ChannelRef, limit: int = 5) -> list[DigestRun]:
        """A channel's latest digest runs, newest first."""
        rows = self.db.execute(
            "SELECT * FROM digest_runs WHERE platform = ? AND channel = ?"
            " ORDER BY claimed_at DESC, id DESC LIMIT ?",
            (channel.platform, channel.channel, limit),
        ).fetchall()
        return [to_digest_run(r) for r in rows]

    def last_digest_slot(self, channel: ChannelRef) -> str | None:
        row = self.db.execute(
            "SELECT max(slot) FROM digest_runs WHERE platform = ? AND channel = ?",
            (channel.platform, channel.channel),
        ).fetchone()
        return row[0] if row else None

    # Alerts -----------------------------------------------------------------------------

    def note_failure(
        self, kind: str, subject: str, error: str, now: datetime, *, failures: int | None = None
    ) -> AlertState:
        """Count one more consecutive failure (or set the count to `failures`)."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO alerts (kind, subject, failures, since, last_error)"
                " VALUES (?, ?, coalesce(?, 1), ?, ?) ON CONFLICT (kind, subject) DO UPDATE SET"
                " failures = coalesce(?, alerts.failures + 1),"
                " since = CASE WHEN alerts.failures = 0 THEN excluded.since ELSE alerts.since END,"
                " recovered_at = NULL, last_error = excluded.last_error RETURNING *",
                (kind, subject, failures, to_iso(now), error[:500], failures),
            ).fetchone()
        return to_alert(row)

    def note_success(self, kind: str, subject: str, now: datetime) -> AlertState | None:
        """End a run of failures. A row nobody was told about goes; one people were told
        about stays, recovered, until they are told that too (`clear_alert`).

        Returns:
            The state before, or None when nothing was failing.
        """
        row = self.db.execute(
            "SELECT * FROM alerts WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        if row is None or (row["failures"] == 0 and row["recovered_at"]):
            return None
        with self.transaction() as conn:
            if row["notified_at"] is None:
                conn.execute("DELETE FROM alerts WHERE kind = ? AND subject = ?", (kind, subject))
            else:
                conn.execute(
                    "UPDATE alerts SET failures = 0, recovered_at = ?"
                    " WHERE kind = ? AND subject = ?",
                    (to_iso(now), kind, subject),
                )
        return to_alert(row)

    def mark_notified(self, kind: str, subject: str, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE alerts SET notified_at = ? WHERE kind = ? AND subject = ?",
                (to_iso(now), kind, subject),
            )

    def clear_alert(self, kind: str, subject: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM alerts WHERE kind = ? AND subject = ?", (kind, subject))

    def alerts(self, kind: str | None = None) -> list[AlertState]:
        """Every failing (or recovered but not yet announced) feed and channel."""
        sql, params = "SELECT * FROM alerts", ()
        if kind is not None:
            sql, params = sql + " WHERE kind = ?", (kind,)  # type: ignore[assignment]
        rows = self.db.execute(sql + " ORDER BY kind, subject", params).fetchall()
        return [to_alert(r) for r in rows]

    def alert(self, kind: str, subject: str) -> AlertState | None:
        row = self.db.execute(
            "SELECT * FROM alerts WHERE kind = ? AND subject = ?", (kind, subject)
        ).fetchone()
        return to_alert(row) if row else None


def _insert_deliveries(
    conn: Database, channel: ChannelRef, article_ids: Iterable[int], when: datetime
) -> int:
    """Mark articles as sent to `channel` (inside the caller's transaction); returns how many
    were not marked before."""
    stamp = to_iso(when)
    cur = conn.executemany(
        "INSERT INTO deliveries (platform, channel, article_id, delivered_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(channel.platform, channel.channel, i, stamp) for i in article_ids],
    )
    return cur.rowcount


def _insert_views(
    conn: Database, channel: ChannelRef, views: Sequence[StoryView], when: datetime
) -> None:
    """Record what `channel` was shown (inside the caller's transaction): each article's
    revision, and each story's outlets and bullets added to those it was shown before."""
    where = (channel.platform, channel.channel)
    conn.executemany(
        "INSERT INTO article_views (platform, channel, article_id, revision, story_id)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (platform, channel, article_id) DO UPDATE SET"
        " revision = CASE WHEN excluded.revision > article_views.revision"
        " THEN excluded.revision ELSE article_views.revision END, story_id = excluded.story_id",
        [(*where, aid, rev, v.story_id) for v in views for aid, rev in v.articles],
    )
    for view in views:
        if not view.outlets and not view.bullets:
            continue
        row = conn.execute(
            "SELECT outlets, bullets FROM story_views"
            " WHERE platform = ? AND channel = ? AND story_id = ?",
            (*where, view.story_id),
        ).fetchone()
        outlets: list[str] = json.loads(row["outlets"]) if row else []
        bullets: list[str] = json.loads(row["bullets"]) if row else []
        outlets = list(dict.fromkeys([*outlets, *view.outlets]))
        bullets = list(dict.fromkeys([*bullets, *view.bullets]))[-MAX_VIEW_BULLETS:]
        conn.execute(
            "INSERT INTO story_views (platform, channel, story_id, outlets, bullets, shown_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (platform, channel, story_id) DO UPDATE SET"
            " outlets = excluded.outlets, bullets = excluded.bullets,"
            " shown_at = excluded.shown_at",
            (
                *where,
                view.story_id,
                json.dumps(outlets, ensure_ascii=False),
                json.dumps(bullets, ensure_ascii=False),
                to_iso(when),
            ),
        )


def undelivered_to(channel: ChannelRef, hidden: Sequence[str]) -> tuple[list[str], list[Any]]:
    """The conditions (on articles ``a``) and their parameters for the articles not delivered
    to `channel` and not from its `hidden` sources."""
    where = [
        "NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.article_id = a.id"
        " AND d.platform = ? AND d.channel = ?)"
    ]
    params: list[Any] = [channel.platform, channel.channel]
    if hidden:
        where.append(f"(a.origin IS NULL OR a.origin NOT IN ({marks(hidden)}))")
        params.extend(hidden)
    return where, params


def undelivered_window(
    where: Sequence[str], params: Sequence[Any], fetched_since: datetime, limit: int
) -> tuple[str, list[Any]]:
    """A WITH clause naming ``fresh (id, story_id, at, size)`` the articles meeting `where`
    (on articles ``a``) that were fetched at or after `fetched_since`, the `limit` fetched
    last, each with its time and text length (NEWEST_FIRST's keys); and its parameters.

    The window is read from the index articles_fetched alone; ordering the articles newest
    first instead would walk every article stored (whose fetch time is in its row).
    """
    head = (
        "WITH fresh AS MATERIALIZED (SELECT a.id AS id, a.story_id AS story_id,"
        " coalesce(a.published, a.fetched_at) AS at, length(a.text) AS size FROM articles a"
        f" WHERE a.fetched_at >= ? AND {' AND '.join(where)}"
        " ORDER BY a.fetched_at DESC LIMIT ?) "
    )
    return head, [to_iso(fetched_since), *params, limit]
