"""`python -m bot migrate`: a real SQLite file, filled through the real code paths, copied into a
real PostgreSQL (tests/pg.py), checked as a user would, copied again, and killed halfway."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bot import cli
from bot.ask import answer_question
from bot.config import StoreSettings
from bot.delivery import send_digest, slot_key
from bot.migrate import PROGRESS, SKIPPED, TABLES, MigrateError, migrate, sqlite_path
from bot.models import (
    Article,
    Briefing,
    Bullet,
    ChannelRef,
    ChannelSettings,
    Digest,
    FeedState,
    Receipt,
    Subscription,
)
from bot.store import Store, open_store
from tests import pg
from tests.conftest import write_dev_events

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CHANNEL = ChannelRef("slack", "C1")
FILTERED = ChannelRef("discord", "D1")
NOW = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
SLOT = slot_key(NOW)
FEED = "https://news.example/world.xml"
PASSWORD = "s3cret-Migrate-pw"
QUESTION = "What does Zelenskyy say security guarantees are?"


class Recorder:
    """A platform that keeps what it was asked to post."""

    def __init__(self) -> None:
        self.posts: list[Digest] = []

    async def post(self, channel: ChannelRef, digest: Digest) -> Receipt:
        self.posts.append(digest)
        return Receipt(channel, (f"m{len(self.posts)}",))


def secret(url: str) -> tuple[str, str]:
    """`url` with a password in it (the throwaway server trusts its socket and ignores one it
    does not ask for), and that password."""
    parts = urlsplit(url)
    if parts.password:
        return url, parts.password
    user, _, host = parts.netloc.rpartition("@")
    netloc = f"{user.split(':', 1)[0]}:{PASSWORD}@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), PASSWORD


def run_cli(*argv: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """`python -m bot` in this process: exit code, standard output, standard error."""
    out, err = io.StringIO(), io.StringIO()
    saved, sys.stderr = sys.stderr, err
    try:
        code = cli.main(list(argv), stdout=out, env=env or {})
    finally:
        sys.stderr = saved
    return code, out.getvalue(), err.getvalue()


def fill(folder: Path) -> Path:
    """A SQLite database as a bot leaves it: the seeds and eight grouped events ingested, one
    article revised, a subscription, a channel's schedule and another's filter, feed state, an
    alert, the model's cache and usage, and a digest sent (its run, part, deliveries, views)."""
    db = folder / "newsbrief.db"
    reports, _ = write_dev_events(folder)
    code, _, err = run_cli("ingest", "--db", str(db), str(SEEDS), str(reports))
    assert code == 0, err
    with Store.open(db) as store:
        store.add_subscription(Subscription(CHANNEL.platform, CHANNEL.channel, FEED))
        store.put_channel(ChannelSettings(CHANNEL, digest_time="07:30", timezone="Europe/Berlin"))
        store.put_channel(ChannelSettings(FILTERED, filter=("security guarantees", "court")))
        store.put_feed_state(
            FeedState(FEED, etag='"v1"', last_polled=NOW, last_ok=NOW, entries=3), "World"
        )
        store.note_failure("feed", "https://down.example/feed.xml", "HTTP 503", NOW)
        store.save_llm(
            "test-model",
            [("prompt-1", '{"headline": "x"}', 42)],
            {"2026-01-05": {"requests": 1, "prompt_tokens": 30, "completion_tokens": 12}},
            NOW,
        )
        first = store.recent_articles(1)[0]
        assert first.id is not None
        revised = replace(first, title=first.title + " (updated)", text=first.text + " Update.")
        headline = Briefing(revised.title, (Bullet(revised.text[:120]),))
        assert store.revise_article(first.id, revised, headline, now=NOW) is not None
        platform = Recorder()
        outcome = asyncio.run(send_digest(store, CHANNEL, platform.post, slot=SLOT, now=NOW))
        assert outcome.status == "sent" and len(platform.posts) == 1
    return db


def table_rows(store: Store, table: str, columns: list[str]) -> Counter[tuple[Any, ...]]:
    quoted = ", ".join(f'"{c}"' for c in columns)
    return Counter(tuple(r) for r in store.db.execute(f"SELECT {quoted} FROM {table}").fetchall())


def source_columns(store: Store, table: str) -> list[str]:
    return [str(r["name"]) for r in store.db.execute(f'PRAGMA table_info("{table}")').fetchall()]


def assert_same_rows(source: Path, url: str) -> None:
    """Every copied table of the target holds exactly the source's rows, each once."""
    with Store.open(source) as old, open_store(url) as new:
        for table in TABLES:
            columns = source_columns(old, table)
            assert table_rows(new, table, columns) == table_rows(old, table, columns), table


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return fill(tmp_path)


def test_every_table_of_the_schema_is_copied_but_fts_and_the_probe(tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty.db") as store:
        names = {
            str(r[0])
            for r in store.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'articles_fts%' AND name NOT LIKE 'sqlite_%'"
            ).fetchall()
        }
    assert names == set(TABLES) | set(SKIPPED)


def test_a_migrated_database_serves_users_as_the_sqlite_one_did(source: Path, pg_url: str) -> None:
    url, password = secret(pg_url)
    code, out, err = run_cli("migrate", "--db", str(source), "--to", url)
    assert code == 0, err

    with Store.open(source) as old:
        articles = old.count_articles()
        ids = [r[0] for r in old.db.execute("SELECT id FROM articles ORDER BY id").fetchall()]
        assert f"articles: {articles:,} / {articles:,} ({articles:,} copied)" in out
    assert password not in out + err
    assert "***@" in out
    assert_same_rows(source, pg_url)

    queries = ["supreme court", "police", "security guarantees", "ukraine", "vaccine", "the"]
    with Store.open(source) as old, open_store(pg_url) as new:
        assert new.count_articles() == articles
        assert new.story_ids(ids) == old.story_ids(ids)
        stories = sorted(set(old.story_ids(ids).values()))
        assert len(stories) < len(ids)  # reports were grouped into stories
        assert {k: [a.id for a in v] for k, v in new.story_articles(stories).items()} == {
            k: [a.id for a in v] for k, v in old.story_articles(stories).items()
        }
        for query in queries:
            assert [a.id for a in new.search_articles(query)] == [
                a.id for a in old.search_articles(query)
            ], query
        assert any(new.search_articles(q) for q in queries)
        asked, told = answer_question(new, QUESTION), answer_question(old, QUESTION)
        assert asked.answered and asked == told

        assert [c.channel for c in new.scheduled_channels()] == [CHANNEL]
        assert new.get_channel(CHANNEL).digest_time == "07:30"
        assert new.get_channel(CHANNEL).timezone == "Europe/Berlin"
        assert new.get_channel(FILTERED).filter == ("security guarantees", "court")
        assert new.subscriptions(CHANNEL) == old.subscriptions(CHANNEL)
        assert new.get_feed_state(FEED) == old.get_feed_state(FEED)
        assert new.alerts() == old.alerts()
        assert new.llm_usage() == old.llm_usage()

        # the digest already sent is not sent again: its slot's claim is there
        run = new.digest_run(CHANNEL, SLOT)
        assert run is not None and run.status == "sent"
        assert run == old.digest_run(CHANNEL, SLOT)
        assert new.run_parts(run.id) == old.run_parts(run.id)
        platform = Recorder()
        again = asyncio.run(send_digest(new, CHANNEL, platform.post, slot=SLOT, now=NOW))
        assert again.status == "skipped" and platform.posts == []

        # new rows take fresh ids
        added, new_one = new.add_article(
            Article(
                url="https://news.example/after-the-move",
                title="Harbour ferry reopens after the move",
                source="News Example",
                text="The harbour ferry reopened on Monday after repairs, the council said.",
                published=NOW,
                fetched_at=NOW,
            )
        )
        assert new_one and added.id == max(ids) + 1
        assert [a.id for a in new.search_articles("harbour ferry")] == [added.id]
        sub, _ = new.add_subscription(Subscription("slack", "C2", FEED))
        assert sub.id is not None and sub.id > max(s.id or 0 for s in old.subscriptions())
        later = NOW + timedelta(days=1)
        claim = new.claim_digest(CHANNEL, slot_key(later), [], later)
        assert claim is not None and claim.id > run.id


def test_the_search_index_is_what_the_store_writes_when_it_adds_an_article(
    source: Path, pg_url: str
) -> None:
    assert run_cli("migrate", "--db", str(source), "--to", pg_url)[0] == 0
    index = "SELECT url, tsv::text, ntokens FROM articles ORDER BY url"
    with Store.open(source) as old, pg.fresh_database() as other, open_store(other) as added:
        for article in old.recent_articles(1000):
            added.add_article(article)
        with open_store(pg_url) as new:
            migrated = [tuple(r) for r in new.db.execute(index).fetchall()]
        assert migrated == [tuple(r) for r in added.db.execute(index).fetchall()]
        assert len(migrated) == old.count_articles() and all(r[2] > 0 for r in migrated)


def test_a_second_run_copies_nothing(source: Path, pg_url: str) -> None:
    assert run_cli("migrate", "--db", str(source), "--to", pg_url)[0] == 0
    code, out, err = run_cli("migrate", "--from", f"sqlite:///{source}", "--to", pg_url)
    assert code == 0, err
    assert ": 0 rows copied," in out
    assert all(line.endswith("(0 copied)") for line in out.splitlines()[:-1])
    assert_same_rows(source, pg_url)


def test_a_killed_migration_resumes_and_ends_with_every_row_once(source: Path, pg_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBRIEF_")}
    command = [sys.executable, "-m", "bot", "migrate", "--db", str(source), "--to", pg_url]
    proc = subprocess.Popen(
        [*command, "--batch-size", "3"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # killed once the grouping tables are under way: articles copied, much left to do
        with psycopg.connect(pg_url, autocommit=True) as conn:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and proc.poll() is None:
                ready = conn.execute("SELECT to_regclass(%s)", (PROGRESS,)).fetchone()
                if ready and ready[0] is not None:
                    row = conn.execute(
                        f"SELECT count(*) FROM {PROGRESS} WHERE table_name = 'story_postings'"
                    ).fetchone()
                    if row and row[0]:
                        break
                time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with Store.open(source) as old, open_store(pg_url) as new:
        total = sum(old.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
        held = sum(new.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES)
    assert 0 < held < total  # killed halfway

    resumed = subprocess.run(
        [*command, "--batch-size", "7"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f": {total - held:,} rows copied, {held:,} already there" in resumed.stdout
    assert_same_rows(source, pg_url)
    assert run_cli("migrate", "--db", str(source), "--to", pg_url)[1].count("(0 copied)") == len(
        TABLES
    )


def test_a_target_holding_other_data_is_refused_unless_forced(source: Path, pg_url: str) -> None:
    with open_store(pg_url) as target:
        target.put_channel(ChannelSettings(ChannelRef("slack", "ELSEWHERE"), digest_time="09:00"))
    code, _, err = run_cli("migrate", "--db", str(source), "--to", pg_url)
    assert code == 2
    assert "already holds rows this migration did not copy (channels: 1)" in err
    assert "--force" in err
    with open_store(pg_url) as target:
        assert target.count_articles() == 0

    code, _, err = run_cli("migrate", "--db", str(source), "--to", pg_url, "--force")
    assert code == 0, err
    with open_store(pg_url) as target:
        assert target.get_channel(ChannelRef("slack", "ELSEWHERE")).digest_time == "09:00"
        assert target.get_channel(CHANNEL).digest_time == "07:30"


def test_a_target_the_bot_has_run_on_since_is_refused(source: Path, pg_url: str) -> None:
    assert run_cli("migrate", "--db", str(source), "--to", pg_url)[0] == 0
    with open_store(pg_url) as target:
        target.add_article(
            Article(
                url="https://news.example/new",
                title="A new report",
                source="News Example",
                text="Something happened after the move to PostgreSQL.",
                published=NOW,
                fetched_at=NOW,
            )
        )
    code, _, err = run_cli("migrate", "--db", str(source), "--to", pg_url)
    assert code == 2 and "(articles: 1)" in err


def test_rows_postgresql_cannot_hold_are_reported_and_the_rest_copied(
    tmp_path: Path, pg_url: str
) -> None:
    db = tmp_path / "nul.db"
    with Store.open(db) as store:
        for n, text in enumerate(["A fine report on the harbour.", "A report with a \x00 in it."]):
            store.add_article(
                Article(
                    url=f"https://news.example/{n}",
                    title=f"Report {n}",
                    source="News Example",
                    text=text,
                    published=NOW,
                    fetched_at=NOW,
                ),
                Briefing(f"Report {n}", (Bullet(text),)),
            )
    code, out, err = run_cli("migrate", "--db", str(db), "--to", pg_url)
    assert code == 1
    assert "articles: 2 / 2 (1 copied, 1 refused)" in out
    assert "briefings: 2 / 2 (1 copied, 1 refused)" in out
    assert "2 refused (see the log)" in out
    assert "articles: row id=2 refused" in err
    with open_store(pg_url) as target:
        assert [a.title for a in target.search_articles("harbour")] == ["Report 0"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--from", "{pg}", "--to", "{pg}"], "the source and the target are the same database"),
        (["--from", "{pg}", "--to", "{pg}x"], "the source must be a SQLite database"),
        (["--to", "sqlite:///{tmp}/other.db"], "the target must be a PostgreSQL URL"),
        (["--from", "{tmp}/missing.db", "--to", "{pg}"], "no SQLite database at"),
        ([], "migrate needs the PostgreSQL database: --to postgresql://"),
        (["--to", "{pg}", "--batch-size", "0"], "--batch-size must be at least 1"),
        (["--to", f"postgresql://newsbrief:{PASSWORD}@127.0.0.1:9/db"], "cannot open database"),
    ],
)
def test_bad_usage_exits_2_without_showing_the_password(
    argv: list[str], message: str, source: Path, pg_url: str
) -> None:
    url, password = secret(pg_url)
    given = [a.format(pg=url, tmp=source.parent) for a in argv]
    code, out, err = run_cli("migrate", "--db", str(source), *given)
    assert code == 2
    assert message in err
    assert password not in out + err
    assert not (source.parent / "missing.db").exists()


def test_the_target_defaults_to_the_configured_store_url(source: Path, pg_url: str) -> None:
    url, password = secret(pg_url)
    code, out, err = run_cli("migrate", "--db", str(source), env={"NEWSBRIEF_STORE_URL": url})
    if hasattr(StoreSettings(), "url"):
        assert code == 0, err
        assert "articles: " in out and password not in out + err
    else:  # before [store] url (replicas on PostgreSQL) the variable is an unknown key
        assert code == 2 and "store.url" in err
        code, _, err = run_cli("migrate", "--db", str(source))
        assert code == 2 and "--to postgresql://" in err


def test_only_sqlite_into_postgresql(tmp_path: Path) -> None:
    refused = pytest.raises(MigrateError, match="SQLite database into PostgreSQL, not sqlite")
    with Store.open(tmp_path / "a.db") as one, Store.open(tmp_path / "b.db") as other, refused:
        migrate(one, other)


def test_sqlite_urls_name_files_as_the_store_reads_them() -> None:
    assert sqlite_path("sqlite:///data/newsbrief.db") == "data/newsbrief.db"
    assert sqlite_path("sqlite:////srv/newsbrief.db") == "/srv/newsbrief.db"
    assert sqlite_path("data/newsbrief.db") == "data/newsbrief.db"
