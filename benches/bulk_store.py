"""A large SQLite store for digest and memory benchmarks, built in seconds, not through ingest.

`benches/synthetic.py` writes the articles (2-6 outlets per event); they are inserted in bulk in
one transaction, each with a stand-in briefing, and each event's reports are put in one story
(the id of its first report), as grouping at ingest would have done on news this clean. FTS5's
triggers index them as they go in.

Example:
    store, now = bulk_store(Path(tmp) / "100k.db", 100_000)
    build_digest(store, channel, now=now)
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.synthetic import make_reports
from bot.models import ChannelRef
from bot.store import Store, open_store
from bot.store.rows import content_hash, to_iso


def bulk_store(
    path: Path, n: int, *, seed: int = 7, per_year: int | None = None
) -> tuple[Store, datetime]:
    """The store at `path` with `n` synthetic articles (built unless a file is there), and a
    digest time an hour after the newest of them.

    Args:
        per_year: articles a year, the rest in the years before: the newest year is then
            the store of `per_year` articles (the same seed), and the rest is its history.
            By default every article is in the one year.
    """
    built = path.exists()
    store = open_store(path)
    if not built:
        _fill(store, n, seed, per_year)
    newest = store.db.execute(
        "SELECT max(coalesce(published, fetched_at)) FROM articles"
    ).fetchone()[0]
    return store, datetime.fromisoformat(newest) + timedelta(hours=1)


def _fill(store: Store, n: int, seed: int, per_year: int | None) -> None:
    reports = list(make_reports(n, seed))
    if per_year:
        # an event's reports stay together, in the year of its first one
        year: dict[int, int] = {}
        for index, (event, article) in enumerate(reports):
            back = timedelta(days=365 * year.setdefault(event.id, index // per_year))
            assert article.published is not None
            reports[index] = (
                event,
                replace(
                    article,
                    published=article.published - back,
                    fetched_at=article.fetched_at - back,
                ),
            )
    reports.sort(key=lambda pair: pair[1].published or pair[1].fetched_at)
    story: dict[int, int] = {}
    with store.transaction() as db:
        for article_id, (event, article) in enumerate(reports, start=1):
            story.setdefault(event.id, article_id)
            db.execute(
                "INSERT INTO articles (id, url, content_hash, title, source, text, published,"
                " fetched_at, origin, story_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    article_id,
                    article.url,
                    content_hash(article.text),
                    article.title,
                    article.source,
                    article.text,
                    to_iso(article.published),
                    to_iso(article.fetched_at),
                    article.origin,
                    story[event.id],
                ),
            )
            lead = article.text.split(". ", 1)[0]
            bullets = [{"text": lead, "sentences": [lead]}]
            db.execute(
                "INSERT INTO briefings (article_id, headline, bullets) VALUES (?, ?, ?)",
                (article_id, article.title, json.dumps(bullets)),
            )
    store.db.execute("ANALYZE")


def whole_window(store: Store, channel: ChannelRef) -> None:
    """Record `channel` as sent the first article stored, when it was fetched: the channel's
    digest window (`bot.digest.window_start`) then holds every other article, up to
    `bot.digest.CANDIDATE_LIMIT`, and its digest looks at the most a digest ever does."""
    first = store.db.execute("SELECT min(id), min(fetched_at) FROM articles").fetchone()
    store.record_deliveries(channel, [int(first[0])], datetime.fromisoformat(first[1]))
