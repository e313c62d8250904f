"""Ingest in batches: one transaction per 100 articles, summarised in worker processes when
there are many, and nothing lost when the process is killed between two batches."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cluster import assign_story
from bot.ingest.feeds import MAX_FEED_ENTRIES
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import BATCH, ingest
from bot.ingest.prepare import POOL_FROM, prepare
from bot.models import Article
from bot.store import Store, open_store
from tests.processes import all_gone, children
from tests.servers import LoopbackServer

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PLACES = "Arden Brill Corvo Dunmore Elsby Farrow Galt Hollin Ivesby Jarrow".split()
WORKS = "bridge library tramline harbour school clinic stadium museum depot pier".split()
HOURS_APART = 20
"""Between two events: 140 reports span 38 days, past the 30 of document counts kept."""


def report(n: int, outlet: int = 0) -> dict[str, str]:
    """One of several outlets' reports of event `n // 3` (three reports an event)."""
    event = n // 3
    place, work = PLACES[event % 10], WORKS[(event // 10) % 10]
    cost = 3 + event
    lead = [
        f"The {work} in {place} will cost {cost} million euros, the council said on Monday.",
        f"{place} council approved the {cost} million euro {work} on Monday.",
        f"Councillors in {place} voted for a new {work} costing {cost} million euros.",
    ][n % 3]
    body = (
        f" The vote was {20 + event} to {n % 7}. Work on the {work} starts in spring and"
        f" should end within {2 + event % 3} years, the mayor of {place} told reporters."
        f" Residents had asked for the {work} since {1990 + event % 30}, and a petition"
        f" gathered {1000 + 13 * event} signatures last year. Opponents said the money"
        f" would be better spent on roads. The regional government pays a third of it."
    )
    return {
        "url": f"https://outlet{n % 3}.example/news/{event}-{n}",
        "title": f"{place} backs {cost}m euro {work}"
        if n % 3 == 0
        else f"Council says yes to {work} in {place}",
        "source": f"Outlet {n % 3 + outlet}",
        "published": (T0 + timedelta(hours=event * HOURS_APART + n % 3)).isoformat(),
        "text": lead + body,
    }


def write_jsonl(path: Path, records: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def seen(store: Store) -> dict[str, tuple[str, tuple[str, ...], frozenset[str]]]:
    """What a reader sees of each article: its headline, bullets and the story it is in."""
    articles = store.recent_articles(10_000)
    ids = [a.id for a in articles if a.id is not None]
    briefings = store.get_briefings(ids)
    stories = store.story_ids(ids)
    members: dict[int, set[str]] = {}
    for article in articles:
        assert article.id is not None
        members.setdefault(stories[article.id], set()).add(article.url)
    return {
        a.url: (
            briefings[a.id].headline,
            tuple(b.text for b in briefings[a.id].bullets),
            frozenset(members[stories[a.id]]),
        )
        for a in articles
        if a.id is not None
    }


def test_a_write_that_fails_inside_a_batch_undoes_only_itself(any_store: Store) -> None:
    first, second = (replace(_article(n), url=f"https://a.example/{n}") for n in (1, 2))
    with any_store.batch():
        any_store.add_article(first)
        with pytest.raises(RuntimeError), any_store.transaction():
            any_store.add_article(second)
            raise RuntimeError("one item went wrong")
    assert any_store.has_article(first.url)
    assert not any_store.has_article(second.url)


def test_a_batch_is_seen_by_others_only_once_it_is_committed(db_target: str) -> None:
    with open_store(db_target) as writer, open_store(db_target) as reader:
        with writer.batch():
            for n in range(3):
                writer.add_article(_article(n))
            assert reader.count_articles() == 0
        assert reader.count_articles() == 3


async def test_a_big_file_summarised_in_workers_reads_as_small_files_stored_inline(
    tmp_path: Path,
) -> None:
    records = [report(n) for n in range(max(POOL_FROM, BATCH) + 50)]
    big = write_jsonl(tmp_path / "big.jsonl", records)
    small = tmp_path / "small"
    small.mkdir()
    for start in range(0, len(records), 20):  # under POOL_FROM: prepared in the process
        write_jsonl(small / f"part-{start:04d}.jsonl", records[start : start + 20])
    with Store.open(tmp_path / "big.db") as one, Store.open(tmp_path / "small.db") as two:
        done = await ingest([str(big)], one, FetchPolicy(), workers=1)
        again = await ingest([str(small)], two, FetchPolicy(), workers=1)
        assert len(done.added) == len(again.added) == len(records)
        assert seen(one) == seen(two)
        # reports of one event are one story however they were stored
        assert any(len(members) > 1 for _, _, members in seen(one).values())


async def test_grouping_in_a_batch_files_every_story_as_one_article_at_a_time_does(
    tmp_path: Path,
) -> None:
    records = [report(n) for n in range(BATCH + 40)]
    path = write_jsonl(tmp_path / "reports.jsonl", records)
    with Store.open(tmp_path / "batched.db") as batched, Store.open(tmp_path / "one.db") as one:
        await ingest([str(path)], batched, FetchPolicy())
        for n in range(len(records)):  # no batch: every read of counts goes to the database
            stored, added = one.add_article(_article(n), prepare(_article(n)).briefing)
            assert added
            assign_story(one, stored)
        # the same stories, centroids, candidate index and document counts, row for row
        for table, key in [
            ("stories", "id"),
            ("story_postings", "term, day, story_id"),
            ("feature_counts", "feature, day"),
            ("signature_days", "day"),
        ]:
            query = f"SELECT * FROM {table} ORDER BY {key}"
            rows = [tuple(r) for r in batched.db.execute(query).fetchall()]
            assert rows == [tuple(r) for r in one.db.execute(query).fetchall()], table
            assert rows


async def test_json_escapes_no_database_can_store_are_dropped_and_the_rest_kept(
    db_target: str, tmp_path: Path
) -> None:
    records = [report(n) for n in range(6)]
    records[1]["text"] = "A lone \ud800 surrogate. " + records[1]["text"]
    records[2]["title"] = "Nul \u0000 and \u202e override in the title"
    records[3]["text"] = records[3]["text"] + " Ends with a noncharacter \uffff."
    records[4]["source"] = "Outlet \udc80"
    path = tmp_path / "escapes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with open_store(db_target) as store:
        result = await ingest([str(path)], store, FetchPolicy())
        assert not result.failures and len(result.added) == len(records)
        stored = {a.url: a for a in store.recent_articles(20)}
    assert stored[records[1]["url"]].text.startswith("A lone surrogate. ")
    assert stored[records[2]["url"]].title == "Nul  and  override in the title"
    assert stored[records[3]["url"]].text.endswith("noncharacter .")
    assert stored[records[4]["url"]].source == "Outlet"


async def test_an_article_the_database_refuses_is_reported_and_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    records = [report(n) for n in range(BATCH + 10)]
    refused = records[7]["url"]
    path = write_jsonl(tmp_path / "reports.jsonl", records)
    with Store.open(tmp_path / "bot.db") as store:
        # a real refusal by the database (as a constraint would), for one row of the batch
        store.db.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON articles WHEN new.url = ?"
            " BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END".replace("?", f"'{refused}'")
        )
        result = await ingest([str(path)], store, FetchPolicy())
        assert [url for url, _ in result.failures] == [refused]
        assert "refused by a trigger" in result.failures[0][1]
        assert len(result.added) == len(records) - 1
        assert not store.has_article(refused)
        # every other article is whole: stored, summarised and grouped
        ids = [a.id for a in store.recent_articles(1000) if a.id is not None]
        assert len(store.get_briefings(ids)) == len(ids) == len(records) - 1
        grouped = store.db.execute("SELECT count(*) FROM article_terms").fetchone()[0]
        assert grouped == len(ids)


def _article(n: int) -> Article:
    r = report(n)
    return Article(
        url=r["url"],
        title=r["title"],
        source=r["source"],
        text=r["text"],
        published=datetime.fromisoformat(r["published"]),
        fetched_at=datetime(2027, 1, 1, tzinfo=UTC),
    )


def _feed(count: int) -> str:
    items = "".join(
        f"<item><title>{r['title']}</title><link>{r['url']}</link>"
        f"<guid>{r['url']}</guid><description>{r['text']}</description></item>"
        for r in (report(n) for n in range(count))
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example/</link><description>d</description>{items}</channel></rss>"
    )


INGEST = """
import asyncio, sys
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.store import Store
with Store.open(sys.argv[1]) as store:
    policy = FetchPolicy(allow_private=True)
    result = asyncio.run(ingest([sys.argv[2]], store, policy, feeds_only=True, workers=1))
    print(len(result.added), len(result.unchanged), flush=True)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_feed_ingest_killed_between_batches_stores_every_entry_once_on_restart(
    tmp_path: Path, loopback: LoopbackServer
) -> None:
    total = min(6 * BATCH, MAX_FEED_ENTRIES)  # several batches, all read from one poll
    url = loopback.add(
        "/wire.xml", body=_feed(total), content_type="application/rss+xml", etag='"v1"'
    )
    db = tmp_path / "bot.db"
    proc = subprocess.Popen(
        [sys.executable, "-c", INGEST, str(db), url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    at_kill, workers = 0, []
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            at_kill = _count(db)
            if at_kill >= BATCH:  # a batch or more committed, not all of them
                workers = children(proc.pid)
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest ended before it could be killed"
    assert BATCH <= at_kill < total
    # its summarising worker does not outlive it
    assert workers and all_gone(workers), "a worker process outlived the killed ingest"
    # what was committed is whole: each stored article has its briefing and its story
    with sqlite3.connect(db) as conn:
        stored, briefed, grouped = conn.execute(
            "SELECT count(*), count(b.article_id), count(a.story_id) FROM articles a"
            " LEFT JOIN briefings b ON b.article_id = a.id"
        ).fetchone()
    assert stored == briefed == grouped and stored % BATCH == 0

    again = subprocess.run(
        [sys.executable, "-c", INGEST, str(db), url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    )
    added, unchanged = map(int, again.stdout.split())
    # the feed's ETag was not saved before its last entries: the restart read it all again
    assert loopback.requests_for("/wire.xml")[-1].headers.get("if-none-match") is None
    assert unchanged == 0 and added == total - stored
    with Store.open(db) as store:
        urls = [a.url for a in store.recent_articles(10 * total)]
        assert sorted(urls) == sorted(report(n)["url"] for n in range(total))
        assert store.get_feed_state(url) is not None


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as conn:
            return int(conn.execute("SELECT count(*) FROM articles").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet, or being migrated
