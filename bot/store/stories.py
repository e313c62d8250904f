"""Stories: which articles tell one event (bot/cluster.py), and what channels were shown of
each.

Grouping keeps per-day document counts of terms (`feature_counts`, `signature_days`), each
story's centroid and span (`stories`) and a candidate index of terms to stories
(`story_postings`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot.models import Article, ChannelRef, StoryCentroid
from bot.store.channels import undelivered_to, undelivered_window
from bot.store.db import Database, Room, chunks, marks
from bot.store.rows import (
    A_COLUMNS,
    FeatureStats,
    StoryOutline,
    StoryView,
    to_article,
    to_day,
    to_iso,
)

FEATURE_DAYS_KEPT = 30
"""Days of feature counts kept behind the newest day signed; grouping reads only a few."""

CENTROIDS_KEPT = 1024
"""Decoded story centroids remembered by the process: each takes about 10 KB as Python
objects, and an article is compared with the recent stories only."""

_centroids: dict[tuple[int, int], dict[str, float]] = {}
"""Decoded centroids by (story id, size): a story's centroid changes only with its size, so
the JSON of the twenty candidates each article is compared with is parsed once, not for every
article of the day. Shared by the stores of a process (keyed by story id, which one database
gives once)."""


def _centroid(story_id: int, size: int, text: str) -> dict[str, float]:
    key = (story_id, size)
    found = _centroids.get(key)
    if found is None:
        found = _remember(key, json.loads(text))
    return found


def _remember(key: tuple[int, int], centroid: dict[str, float]) -> dict[str, float]:
    if len(_centroids) >= CENTROIDS_KEPT:
        # forget the oldest half: the recent stories are the ones compared with
        for old in list(_centroids)[: CENTROIDS_KEPT // 2]:
            del _centroids[old]
    _centroids[key] = centroid
    return centroid


class StoryRoom(Room):
    """Story grouping's index and counts, story members, and story views."""

    def story_views(self, channel: ChannelRef, story_ids: Sequence[int]) -> dict[int, StoryView]:
        """The outlets and bullets `channel` was shown of each story, where it was shown any."""
        found: dict[int, StoryView] = {}
        for chunk in chunks(story_ids):
            rows = self.db.execute(
                "SELECT story_id, outlets, bullets FROM story_views"
                f" WHERE platform = ? AND channel = ? AND story_id IN ({marks(chunk)})",
                (channel.platform, channel.channel, *chunk),
            ).fetchall()
            for row in rows:
                sid = int(row["story_id"])
                found[sid] = StoryView(
                    sid,
                    outlets=tuple(json.loads(row["outlets"])),
                    bullets=tuple(json.loads(row["bullets"])),
                )
        return found

    def story_ids(self, article_ids: Sequence[int]) -> dict[int, int]:
        """Each article's story id (its own id when it has not been grouped)."""
        found: dict[int, int] = {}
        for chunk in chunks(article_ids):
            rows = self.db.execute(
                f"SELECT id, coalesce(story_id, id) FROM articles WHERE id IN ({marks(chunk)})",
                tuple(chunk),
            ).fetchall()
            found.update((int(r[0]), int(r[1])) for r in rows)
        return found

    def story_articles(self, story_ids: Sequence[int]) -> dict[int, list[Article]]:
        """All stored articles of each story, oldest first."""
        found: dict[int, list[Article]] = {sid: [] for sid in story_ids}
        for chunk in chunks(story_ids):
            # two indexed lookups (story members, and ungrouped articles by id) rather than
            # one coalesce() that no index can serve and so scans every article
            places = marks(chunk)
            rows = self.db.execute(
                f"SELECT {A_COLUMNS}, coalesce(a.story_id, a.id) AS sid FROM articles a"
                f" WHERE a.story_id IN ({places})"
                f" UNION SELECT {A_COLUMNS}, a.id AS sid FROM articles a"
                f" WHERE a.id IN ({places}) AND a.story_id IS NULL",
                (*chunk, *chunk),
            ).fetchall()
            rows.sort(key=lambda r: (r["published"] or r["fetched_at"], r["id"]))
            for row in rows:
                found[int(row["sid"])].append(to_article(row))
        return found

    def story_outlines(
        self, story_ids: Sequence[int], channel: ChannelRef | None = None
    ) -> dict[int, StoryOutline]:
        """What ranking each story needs of all its stored articles (see `story_articles`),
        counted in the database from the index articles_outline: no text leaves it.

        Args:
            channel: whose deliveries `StoryOutline.sent` tells; none for None.
        """
        found: dict[int, StoryOutline] = {}
        # chunks of thousands: each statement has a cost of its own, and the limits on
        # parameters are far above (32766 on SQLite, 65535 on PostgreSQL)
        for chunk in chunks(story_ids, 5000):
            places = marks(chunk)
            found.update(
                self._outlines(
                    channel, f"({places})", list(chunk), f"({places})", list(chunk), "", []
                )
            )
        return found

    def undelivered_outlines(
        self,
        channel: ChannelRef,
        limit: int,
        *,
        hidden: Sequence[str] = (),
        fetched_since: datetime,
    ) -> dict[int, StoryOutline]:
        """`story_outlines` of the stories of the articles `undelivered_ids` gives, in one
        statement: the candidates never leave the database."""
        where, params = undelivered_to(channel, hidden)
        picked, args = undelivered_window(where, params, fetched_since, limit)
        return self._outlines(
            channel,
            "(SELECT story_id FROM fresh)",
            [],
            "(SELECT id FROM fresh WHERE story_id IS NULL)",
            [],
            picked,
            args,
        )

    def _outlines(
        self,
        channel: ChannelRef | None,
        grouped: str,
        grouped_args: list[Any],
        single: str,
        single_args: list[Any],
        head: str,
        head_args: list[Any],
    ) -> dict[int, StoryOutline]:
        """The outlines of the stories whose id is in `grouped` (an SQL list or subquery) and
        of the ungrouped articles in `single`, after the WITH clause `head`."""
        # whether a member was sent is only looked up for a channel that was sent anything
        sent = "0"
        asked: tuple[str, ...] = ()
        if channel is not None and self._was_sent_any(channel):
            sent = (
                "CASE WHEN EXISTS (SELECT 1 FROM deliveries d WHERE d.article_id = a.id"
                " AND d.platform = ? AND d.channel = ?) THEN 1 ELSE 0 END"
            )
            asked = (channel.platform, channel.channel)
        # an article's outlet as `bot.digest` counts it: source, else origin, else URL
        outlet = "coalesce(nullif(a.source, ''), nullif(a.origin, ''), a.url)"
        # grouped members and ungrouped articles apart, so a story's members come in the
        # index's order, grouped without sorting; an ungrouped one names its outlet
        rows = self.db.execute(
            f"{head}SELECT a.story_id, count(DISTINCT {outlet}),"
            f" max(coalesce(a.published, a.fetched_at)), max(length(a.text)), max({sent}),"
            f" NULL FROM articles a WHERE a.story_id IN {grouped} GROUP BY a.story_id"
            f" UNION ALL SELECT a.id, 1, coalesce(a.published, a.fetched_at), length(a.text),"
            f" {sent}, {outlet} FROM articles a WHERE a.id IN {single} AND a.story_id IS NULL",
            (*head_args, *asked, *grouped_args, *asked, *single_args),
        ).fetchall()
        found: dict[int, StoryOutline] = {}
        singles = []
        for row in rows:
            if row[5] is not None:
                singles.append(row)
                continue
            sid = int(row[0])
            found[sid] = StoryOutline(
                sid, int(row[1]), datetime.fromisoformat(row[2]), int(row[3]), bool(row[4])
            )
        both = [int(r[0]) for r in singles if int(r[0]) in found]
        extra: dict[int, set[str]] = {}
        if both:
            # an ungrouped article whose id other articles have as their story (rare): its
            # outlet counted once with theirs
            for row in self.db.execute(
                f"SELECT a.story_id, {outlet} FROM articles a WHERE a.story_id IN ({marks(both)})",
                both,
            ):
                extra.setdefault(int(row[0]), set()).add(str(row[1]))
        for row in singles:
            sid = int(row[0])
            at, length, shown = datetime.fromisoformat(row[2]), int(row[3]), bool(row[4])
            outlets = {str(row[5])} | extra.get(sid, set())
            if sid in found:
                other = found[sid]
                at, length = max(at, other.newest), max(length, other.length)
                shown = shown or other.sent
            found[sid] = StoryOutline(sid, len(outlets), at, length, shown)
        return found

    def _was_sent_any(self, channel: ChannelRef) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM deliveries WHERE platform = ? AND channel = ? LIMIT 1",
            (channel.platform, channel.channel),
        ).fetchone()
        return row is not None

    # Story grouping ---------------------------------------------------------------------

    def join_story(
        self,
        article_id: int,
        story_id: int,
        *,
        moment: datetime,
        terms: Sequence[str],
        vector: Mapping[str, float],
        index_terms: Sequence[str],
        centroid_terms: int,
        count_terms: bool = True,
        fresh: bool = False,
    ) -> bool:
        """Record that an article joined (or started) a story, in one transaction; True when
        it was the first of its day, which forgets the counts of days long past.

        The article's story id, its terms (counted for the document frequencies of its UTC
        day), the story's centroid (read and updated inside the transaction, so two writers
        never lose each other's reports), its time span and size, and the article's
        `index_terms` under the story in the candidate index.

        Args:
            moment: the article's time for grouping; its UTC day files the terms and postings.
            vector: the article's unit TF-IDF vector, added to the story's centroid.
            centroid_terms: how many of the heaviest terms the centroid keeps.
            count_terms: False when the caller adds the terms to the day's counts itself,
                later in the same transaction (`add_feature_counts`), as a batch does.
            fresh: the article was stored just now, so it has no earlier terms to take back.
        """
        day = to_day(moment)
        stamp = to_iso(moment)
        unique = list(dict.fromkeys(terms))
        with self.transaction() as conn:
            old = None
            if not fresh:
                old = conn.execute(
                    "SELECT day, terms FROM article_terms WHERE article_id = ?", (article_id,)
                ).fetchone()
            if old is not None:
                self._count_features(conn, old["day"], json.loads(old["terms"]), -1)
            conn.execute(
                "INSERT INTO article_terms (article_id, day, terms) VALUES (?, ?, ?)"
                " ON CONFLICT (article_id) DO UPDATE SET day = excluded.day,"
                " terms = excluded.terms",
                (article_id, day, json.dumps(unique, ensure_ascii=False)),
            )
            pruned = self._count_features(conn, day, unique if count_terms else (), 1)
            row = conn.execute(
                "SELECT first_at, last_at, size, centroid FROM stories WHERE id = ?", (story_id,)
            ).fetchone()
            centroid: dict[str, float] = dict(vector)
            first, last, size = stamp, stamp, 1
            if row is not None:
                old_size = int(row["size"])
                for term, weight in _centroid(story_id, old_size, row["centroid"]).items():
                    centroid[term] = centroid.get(term, 0.0) + weight
                first, last = min(row["first_at"], stamp), max(row["last_at"], stamp)
                size = old_size + 1
            kept = sorted(centroid.items(), key=lambda kv: (-kv[1], kv[0]))[:centroid_terms]
            stored = {t: round(w, 5) for t, w in kept}
            conn.execute(
                "INSERT INTO stories (id, first_at, last_at, size, centroid)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " first_at = excluded.first_at, last_at = excluded.last_at,"
                " size = excluded.size, centroid = excluded.centroid",
                (story_id, first, last, size, json.dumps(stored, ensure_ascii=False)),
            )
            _remember((story_id, size), stored)
            conn.executemany(
                "INSERT INTO story_postings (term, day, story_id) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(term, day, story_id) for term in index_terms],
            )
            conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))
        return pruned

    @staticmethod
    def _count_features(conn: Database, day: str, features: Sequence[str], step: int) -> bool:
        """Count an article (`step` 1, or -1 to take one back) on `day`, and add `step` to the
        counts of its `features` there; True when it was the first of its day, whose counts of
        days long past were forgotten."""
        pruned = False
        cur = conn.execute(
            "INSERT INTO signature_days (day, articles) VALUES (?, ?)"
            " ON CONFLICT (day) DO UPDATE"
            " SET articles = signature_days.articles + excluded.articles"
            " RETURNING articles",
            (day, step),
        )
        if step > 0 and int(cur.fetchone()[0]) == step:
            # the first article of a day: forget counts far older than it (a backfill of old
            # days prunes nothing newer than itself)
            _prune_features(conn, day)
            pruned = True
        else:
            cur.fetchall()
        _add_feature_counts(conn, [(f, day, step) for f in features])
        return pruned

    def add_feature_counts(self, counts: Sequence[tuple[str, str, int]]) -> None:
        """Add each (feature, day, count) to the document counts: the terms of the articles a
        batch filed with ``count_terms=False``, summed."""
        with self.transaction() as conn:
            _add_feature_counts(conn, counts)

    def prune_features(self, day: str) -> None:
        """Forget the counts of the days `FEATURE_DAYS_KEPT` or more before `day`."""
        with self.transaction() as conn:
            _prune_features(conn, day)

    def feature_stats(
        self, features: Sequence[str], *, since: datetime, until: datetime
    ) -> FeatureStats:
        """Grouped articles on the UTC days from `since` to `until`, and how many of them have
        each of `features` (features in none are left out); one query for up to 500 features.
        """
        first, last = to_day(since), to_day(until)
        unique = list(dict.fromkeys(features))
        sql = (
            "SELECT NULL, coalesce(sum(articles), 0) FROM signature_days WHERE day BETWEEN ? AND ?"
        )
        total, counts = 0, {}
        chunks = [unique[i : i + 500] for i in range(0, len(unique), 500)] or [[]]
        for index, chunk in enumerate(chunks):
            parts = [sql] if index == 0 else []
            args: list[Any] = [first, last] if index == 0 else []
            if chunk:
                parts.append(
                    "SELECT feature, sum(count) FROM feature_counts"
                    f" WHERE feature IN ({marks(chunk)}) AND day BETWEEN ? AND ?"
                    " GROUP BY feature"
                )
                args += [*chunk, first, last]
            for row in self.db.execute(" UNION ALL ".join(parts), args):
                if row[0] is None:
                    total = int(row[1])
                elif row[1] > 0:
                    counts[str(row[0])] = int(row[1])
        return FeatureStats(total, counts)

    def story_candidates(
        self, terms: Sequence[str], *, since: datetime, until: datetime, limit: int = 50
    ) -> list[StoryCentroid]:
        """Stories with a report between `since` and `until` whose index shares any of
        `terms`, most shared terms first (then newest), at most `limit`."""
        if not terms:
            return []
        # the index narrows to the stories sharing the most terms; only their rows (and their
        # centroids, the costly part to decode) are read, and the exact time span checked
        rows = self.db.execute(
            "SELECT s.id, s.first_at, s.last_at, s.size, s.centroid FROM ("
            " SELECT story_id, count(*) AS shared FROM story_postings"
            f" WHERE term IN ({marks(terms)}) AND day BETWEEN ? AND ?"
            " GROUP BY story_id ORDER BY shared DESC, story_id DESC LIMIT ?) p"
            " JOIN stories s ON s.id = p.story_id"
            " WHERE s.last_at >= ? AND s.first_at <= ?"
            " ORDER BY p.shared DESC, p.story_id DESC",
            (*terms, to_day(since), to_day(until), limit, to_iso(since), to_iso(until)),
        ).fetchall()
        return [
            StoryCentroid(
                story_id=int(r[0]),
                first_at=datetime.fromisoformat(r[1]),
                last_at=datetime.fromisoformat(r[2]),
                size=int(r[3]),
                centroid=_centroid(int(r[0]), int(r[3]), r[4]),
            )
            for r in rows
        ]

    def has_signature(self, article_id: int) -> bool:
        """Whether the article has been grouped into a story."""
        row = self.db.execute(
            "SELECT 1 FROM article_terms WHERE article_id = ?", (article_id,)
        ).fetchone()
        return row is not None

    # Briefings --------------------------------------------------------------------------


def _add_feature_counts(conn: Database, counts: Sequence[tuple[str, str, int]]) -> None:
    if counts:
        conn.executemany(
            "INSERT INTO feature_counts (feature, day, count) VALUES (?, ?, ?)"
            " ON CONFLICT (feature, day) DO UPDATE"
            " SET count = feature_counts.count + excluded.count",
            counts,
        )


def _prune_features(conn: Database, day: str) -> None:
    # a backfill of old days prunes nothing newer than itself
    cutoff = (date.fromisoformat(day) - timedelta(days=FEATURE_DAYS_KEPT)).isoformat()
    conn.execute("DELETE FROM feature_counts WHERE day < ?", (cutoff,))
