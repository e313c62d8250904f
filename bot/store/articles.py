"""Articles: their text and revisions, briefings, and the language model's cache and usage."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from bot.models import Article, Briefing, Bullet
from bot.store.db import Database, Room, chunks, marks
from bot.store.rows import ARTICLE_COLUMNS, content_hash, from_bullet, to_article, to_iso

log = logging.getLogger(__name__)

LLM_COUNTERS = (
    "requests",
    "prompt_tokens",
    "completion_tokens",
    "cache_hits",
    "written",
    "fallbacks",
    "rejected",
)
"""What `Store.save_llm` adds up per day and model."""

# Newest first; among reports stamped with the same time (date-only sources), the fuller one.
NEWEST_FIRST = "coalesce(a.published, a.fetched_at) DESC, length(a.text) DESC, a.id"


class ArticleRoom(Room):
    """Articles (deduplicated by URL and by text), their revisions and briefings."""

    def _index_article(self, db: Database, article_id: int) -> None:
        """Bring the full-text index up to date with an article just written (in `db`'s
        transaction); SQLite's triggers do it there."""

    def add_article(
        self, article: Article, briefing: Briefing | None = None, *, text_hash: str | None = None
    ) -> tuple[Article, bool]:
        """Store `article` (and its briefing) unless its URL or its text is already stored.

        Args:
            text_hash: `content_hash` of its text, when the caller has it already.

        Returns:
            The stored article (with its id) and whether it was new.
        """
        digest = text_hash or content_hash(article.text)
        with self.transaction() as conn:
            added = conn.execute(
                "INSERT INTO articles"
                " (url, content_hash, title, source, text, published, fetched_at, language, origin,"
                " entry_hash, update_marker)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
                (
                    article.url,
                    digest,
                    article.title,
                    article.source,
                    article.text,
                    to_iso(article.published),
                    to_iso(article.fetched_at),
                    article.language,
                    article.origin,
                    article.entry_hash,
                    int(article.update_marker),
                ),
            ).fetchone()
            if added is None:
                row = conn.execute(
                    f"SELECT {ARTICLE_COLUMNS} FROM articles"
                    " WHERE url = ? OR content_hash = ? LIMIT 1",
                    (article.url, digest),
                ).fetchone()
                return to_article(row), False
            article_id = int(added[0])
            self._index_article(conn, article_id)
            if briefing is not None:
                self._put_briefing(conn, article_id, briefing)
        return replace(article, id=article_id, revision=0), True

    def revise_article(
        self, article_id: int, article: Article, briefing: Briefing, *, now: datetime
    ) -> Article | None:
        """Replace a stored article's title and text by a newer version, keeping the old one.

        Its id, URL, source, origin and story stay; the replaced title and text go to
        `article_revisions` under the revision number they had, the revision counter goes up,
        and `briefing` (of the new text) replaces the stored one.

        Args:
            article: the new version: its title, text, entry hash and update marker are taken,
                and its published time and language where it has them.

        Returns:
            The revised article, or None when the new text is another stored article's (the
            article is left as it was, but remembers the new entry hash so that entry is not
            looked at again).
        """
        digest = content_hash(article.text)
        with self.transaction() as conn:
            old = conn.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
            ).fetchone()
            if old is None:
                return None
            taken = conn.execute(
                "SELECT id FROM articles WHERE content_hash = ? AND id != ?", (digest, article_id)
            ).fetchone()
            if taken is not None:
                log.info(
                    "revision of article %d has the text of article %d; kept as it was",
                    article_id,
                    taken[0],
                )
                conn.execute(
                    "UPDATE articles SET entry_hash = ? WHERE id = ?",
                    (article.entry_hash, article_id),
                )
                return None
            conn.execute(
                "INSERT INTO article_revisions (article_id, revision, title, text, replaced_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (article_id, old["revision"], old["title"], old["text"], to_iso(now)),
            )
            row = conn.execute(
                "UPDATE articles SET title = ?, text = ?, content_hash = ?, entry_hash = ?,"
                " update_marker = ?, published = coalesce(?, published),"
                " language = coalesce(?, language), revision = revision + 1"
                f" WHERE id = ? RETURNING {ARTICLE_COLUMNS}",
                (
                    article.title,
                    article.text,
                    digest,
                    article.entry_hash,
                    int(article.update_marker),
                    to_iso(article.published),
                    article.language,
                    article_id,
                ),
            ).fetchone()
            self._index_article(conn, article_id)
            self._put_briefing(conn, article_id, briefing)
        return to_article(row)

    def note_entry(self, article_id: int, entry_hash: str | None, update_marker: bool) -> None:
        """Remember a source's entry for an article without revising it (nothing in it changed
        that counts, or it is the first look at an article stored before entries were kept)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE articles SET entry_hash = ?, update_marker = ? WHERE id = ?",
                (entry_hash, int(update_marker), article_id),
            )

    def rename_outlet(self, article_id: int, source: str) -> None:
        """Give a stored article its outlet's current name (the source now names itself
        better, or the operator renamed it); not a revision of its text."""
        with self.transaction() as conn:
            conn.execute("UPDATE articles SET source = ? WHERE id = ?", (source, article_id))

    def article_revisions(self, article_id: int) -> list[Article]:
        """The earlier versions of an article, oldest first, each with the revision it had."""
        current = self.get_article(article_id)
        if current is None:
            return []
        rows = self.db.execute(
            "SELECT revision, title, text FROM article_revisions WHERE article_id = ?"
            " ORDER BY revision",
            (article_id,),
        ).fetchall()
        return [
            replace(current, title=r["title"], text=r["text"], revision=int(r["revision"]))
            for r in rows
        ]

    def article_by_url(self, url: str) -> Article | None:
        row = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE url = ?", (url,)
        ).fetchone()
        return to_article(row) if row else None

    def has_article(self, url: str) -> bool:
        row = self.db.execute("SELECT 1 FROM articles WHERE url = ?", (url,)).fetchone()
        return row is not None

    def get_article(self, article_id: int) -> Article | None:
        row = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id = ?", (article_id,)
        ).fetchone()
        return to_article(row) if row else None

    def get_articles(self, article_ids: Sequence[int]) -> dict[int, Article]:
        """The stored articles of `article_ids` (those still stored), by id."""
        found: dict[int, Article] = {}
        for chunk in chunks(article_ids):
            rows = self.db.execute(
                f"SELECT {ARTICLE_COLUMNS} FROM articles WHERE id IN ({marks(chunk)})",
                tuple(chunk),
            ).fetchall()
            found.update((int(r["id"]), to_article(r)) for r in rows)
        return found

    def count_articles(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM articles").fetchone()[0])

    def recent_articles(self, limit: int = 50, *, offset: int = 0) -> list[Article]:
        """Newest first, by published time (fetch time when a source gives none)."""
        rows = self.db.execute(
            f"SELECT {ARTICLE_COLUMNS} FROM articles a ORDER BY {NEWEST_FIRST} LIMIT ? OFFSET ?",
            (limit, offset),
        ).fetchall()
        return [to_article(r) for r in rows]

    # Briefings --------------------------------------------------------------------------

    def put_briefing(self, article_id: int, briefing: Briefing) -> None:
        with self.transaction() as conn:
            self._put_briefing(conn, article_id, briefing)

    @staticmethod
    def _put_briefing(conn: Database, article_id: int, briefing: Briefing) -> None:
        bullets = [from_bullet(b) for b in briefing.bullets]
        conn.execute(
            "INSERT INTO briefings (article_id, headline, bullets) VALUES (?, ?, ?)"
            " ON CONFLICT (article_id) DO UPDATE SET headline = excluded.headline,"
            " bullets = excluded.bullets",
            (article_id, briefing.headline, json.dumps(bullets, ensure_ascii=False)),
        )

    def get_briefings(self, article_ids: Sequence[int]) -> dict[int, Briefing]:
        rows: list[Any] = []
        for chunk in chunks(article_ids):
            rows += self.db.execute(
                f"SELECT * FROM briefings WHERE article_id IN ({marks(chunk)})", tuple(chunk)
            ).fetchall()
        found: dict[int, Briefing] = {}
        for row in rows:
            bullets = tuple(
                Bullet(
                    b["text"],
                    tuple(b.get("sentences", ())),
                    b.get("source"),
                    b.get("origin", "extract"),
                    b.get("url"),
                )
                for b in json.loads(row["bullets"])
            )
            found[int(row["article_id"])] = Briefing(row["headline"], bullets)
        return found

    # Language model: cache and daily usage ---------------------------------------------

    def llm_cached(self, model: str, prompt_hash: str) -> str | None:
        """The stored (checked) result of a model request, or None."""
        row = self.db.execute(
            "SELECT result FROM llm_cache WHERE model = ? AND prompt_hash = ?",
            (model, prompt_hash),
        ).fetchone()
        return None if row is None else str(row["result"])

    def save_llm(
        self,
        model: str,
        results: Sequence[tuple[str, str, int]],
        usage: Mapping[str, Mapping[str, int]],
        now: datetime,
    ) -> None:
        """In one transaction: cache `results` (prompt hash, checked result, tokens) and add
        `usage` (day -> counters named in `LLM_COUNTERS`) to `model`'s daily counters."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO llm_cache (model, prompt_hash, result, tokens, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (model, prompt_hash) DO UPDATE SET"
                " result = excluded.result, tokens = excluded.tokens,"
                " created_at = excluded.created_at",
                [(model, key, result, tokens, to_iso(now)) for key, result, tokens in results],
            )
            for day, counts in usage.items():
                names = [name for name in LLM_COUNTERS if counts.get(name)]
                if not names:
                    continue
                sets = ", ".join(f"{name} = llm_usage.{name} + excluded.{name}" for name in names)
                conn.execute(
                    f"INSERT INTO llm_usage (day, model, {', '.join(names)}) "
                    f"VALUES (?, ?, {marks(names)}) "
                    f"ON CONFLICT (day, model) DO UPDATE SET {sets}",
                    (day, model, *(counts[name] for name in names)),
                )

    def llm_tokens(self, day: str) -> int:
        """Tokens (prompt and reply) every model spent on `day`."""
        row = self.db.execute(
            "SELECT coalesce(sum(prompt_tokens + completion_tokens), 0) AS n FROM llm_usage "
            "WHERE day = ?",
            (day,),
        ).fetchone()
        return int(row["n"])

    def llm_usage(self, days: int = 14) -> list[dict[str, Any]]:
        """Each day's and model's counters, newest day first."""
        rows = self.db.execute(
            "SELECT * FROM llm_usage ORDER BY day DESC, model LIMIT ?", (max(1, days) * 8,)
        ).fetchall()
        return [dict(row) for row in rows]
