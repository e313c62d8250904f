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
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.synthetic import make_reports
from bot.store import Store, open_store
from bot.store.rows import content_hash, to_iso


def bulk_store(path: Path, n: int, *, seed: int = 7) -> tuple[Store, datetime]:
    """The store at `path` with `n` synthetic articles (built unless a file is there), and a
    digest time an hour after the newest of them."""
    built = path.exists()
    store = open_store(path)
    if not built:
        _fill(store, n, seed)
    newest = store.db.execute(
        "SELECT max(coalesce(published, fetched_at)) FROM articles"
    ).fetchone()[0]
    return store, datetime.fromisoformat(newest) + timedelta(hours=1)


def _fill(store: Store, n: int, seed: int) -> None:
    reports = sorted(
        make_reports(n, seed), key=lambda pair: pair[1].published or pair[1].fetched_at
    )
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
