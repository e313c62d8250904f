"""SQLite and PostgreSQL side by side: the same answers from the same articles; SQLite files of
earlier versions upgrade; PostgreSQL migrates once however many replicas start; passwords
never show; a server that is down or refuses writes is a clear `StoreError`."""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from bot.ask import answer_question
from bot.cli import main
from bot.errors import StoreError, StoreFaultError
from bot.health import database_problem
from bot.ingest.files import iter_files, read_file
from bot.models import Article, ChannelRef, Subscription
from bot.store import (
    POSTGRES_MIGRATIONS,
    SQLITE_MIGRATIONS,
    SqliteStore,
    Store,
    open_store,
    redact_url,
    search,
)
from bot.store.postgres import PostgresStore
from bot.store.search import tokenize, tsvector_literal
from bot.summarize import summarize
from tests import pg
from tests.conftest import SEEDS, write_dev_events

QA_SAMPLE = Path(__file__).resolve().parent / "data" / "qa_sample.jsonl"
NOW = datetime(2025, 8, 17, 12, tzinfo=UTC)

# Questions of the /ask dev sample, the seeds' and the story sample's subjects, and some that
# nothing answers; and plain /brief topics, one word or several.
QUESTIONS = [
    "What does Zelenskyy say security guarantees are?",
    "Who is the CEO of Toyota?",
    "How much will the new bridge cost?",
    "What did the Supreme Court decide?",
    "What did Pfizer say about the vaccine?",
    "How many jobs were added?",
    "Who is Adam Gadahn?",
    "What is NATO?",
    "What happened in the U.S. economy?",
    "Where did the earthquake strike?",
]
# and every question people wrote about the /ask sample's articles (stored or not)
QUESTIONS += [
    q["question"]
    for line in QA_SAMPLE.read_text("utf-8").splitlines()
    for q in json.loads(line)["questions"]
]
TOPICS = ["vaccine", "supreme court", "jobs report", "Ukraine security", "Pfizer", "the", "zzzq"]


@pytest.fixture(scope="module")
def both() -> Iterator[tuple[Store, Store]]:
    """The seeds, the /ask sample and the story sample, stored in the same order on SQLite and
    on PostgreSQL."""
    folder = Path(__import__("tempfile").mkdtemp(prefix="newsbrief-parity-"))
    rows = [json.loads(line) for line in QA_SAMPLE.read_text("utf-8").splitlines()]
    qa = folder / "qa.jsonl"
    qa.write_text(
        "".join(
            json.dumps({"text": r["article"], "url": r["url"], "source": r["source"]}) + "\n"
            for r in rows
            if r["stored"]
        ),
        encoding="utf-8",
    )
    events, _ = write_dev_events(folder)
    # read once, so both get the very same articles (a file's fetch time is when it was read)
    seeds = [i for f in iter_files(SEEDS) for i in read_file(f) if isinstance(i, Article)]
    items = [i for f in (qa, events) for i in read_file(f) if isinstance(i, Article)]
    with pg.fresh_database() as url:
        stores = (SqliteStore.open(folder / "parity.db"), open_store(url))
        for store in stores:
            for seed in seeds:
                store.add_article(seed, summarize(seed.text, seed.title or None))
            for item in items:
                store.add_article(item)
        yield stores
        for store in stores:
            store.close()


def test_the_same_articles_on_both(both: tuple[Store, Store]) -> None:
    lite, post = both
    assert lite.count_articles() == post.count_articles() > 30
    assert lite.recent_articles(100) == post.recent_articles(100)


@pytest.mark.parametrize("question", QUESTIONS)
def test_ask_gives_the_same_citations_on_both(both: tuple[Store, Store], question: str) -> None:
    lite, post = both
    assert answer_question(lite, question) == answer_question(post, question)


@pytest.mark.parametrize("topic", TOPICS)
def test_search_orders_alike_on_both(both: tuple[Store, Store], topic: str) -> None:
    lite, post = both
    assert [a.id for a in lite.search_articles(topic, 50)] == [
        a.id for a in post.search_articles(topic, 50)
    ]


def test_matches_count_and_rank_alike_on_both(both: tuple[Store, Store]) -> None:
    """Phrases, alternatives, acronyms letter by letter, words FTS5 syntax would take."""
    lite, post = both
    matches = [
        (("supreme court",), ("ruling", "decision", "decided")),
        (("u s", "us"), ("economy",)),
        (("pfizer",),),
        (("vaccine", "vaccines"), ("pfizer", "moderna", "health")),
        (('"near"', "or"), ("and",)),
        (("___",), ("security",)),
        (("___",),),
    ]
    for match in matches:
        assert lite.count_matching(match) == post.count_matching(match), match
        assert [a.id for a in lite.match_articles(match, 30)] == [
            a.id for a in post.match_articles(match, 30)
        ], match


@pytest.mark.parametrize("postings", [True, False])
def test_both_ways_of_ranking_words_on_postgres_rank_alike(
    both: tuple[Store, Store], postings: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Words ranked from their postings alone, or through the GIN index and a probe of each
    found article's postings, as SQLite ranks them."""
    lite, post = both
    monkeypatch.setattr(search, "_postings_cheaper", lambda *_: postings)
    for query in [*TOPICS, "chief executive", "what did the supreme court decide"]:
        assert [a.id for a in lite.search_articles(query, 50)] == [
            a.id for a in post.search_articles(query, 50)
        ], query
    match = (("vaccine", "vaccines"), ("pfizer", "moderna", "health"))
    assert [a.id for a in lite.match_articles(match, 30)] == [
        a.id for a in post.match_articles(match, 30)
    ]


def test_a_version_7_sqlite_database_upgrades_with_its_data(tmp_path: Path) -> None:
    """A file made by the schema of version 7 (main before the store became a package), with
    rows in it, opens at the newest version with everything still there and searchable."""
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for version, script in enumerate(SQLITE_MIGRATIONS[:7], start=1):
        conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {version};\nCOMMIT;")
    conn.execute(
        "INSERT INTO articles (url, content_hash, title, source, text, published, fetched_at)"
        " VALUES ('https://e.org/1', 'h1', 'Harvest fails', 'Wire',"
        " 'Farmers report a poor harvest.', '2025-08-17T10:00:00+00:00',"
        " '2025-08-17T12:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO subscriptions (platform, channel, source, created_at)"
        " VALUES ('slack', 'C1', 'https://e.org/feed', '2025-08-17T12:00:00+00:00')"
    )
    conn.execute(
        "INSERT INTO digest_runs (platform, channel, slot, article_ids, status, claimed_at,"
        " due_at) VALUES ('slack', 'C1', '2025-08-17T07:30', '[1]', 'failed',"
        " '2025-08-17T07:30:00+00:00', '2025-08-17T07:30:00+00:00')"
    )
    conn.close()
    with Store.open(path) as store:
        assert store.schema_version == len(SQLITE_MIGRATIONS)
        [article] = store.search_articles("harvest")
        assert article.title == "Harvest fails" and article.published == datetime(
            2025, 8, 17, 10, tzinfo=UTC
        )
        assert [s.source for s in store.subscriptions()] == ["https://e.org/feed"]
        [run] = store.open_runs()
        assert run.status == "failed" and run.article_ids == (1,)
        added, new = store.add_article(
            Article(
                url="https://e.org/2",
                title="Festival",
                source="Wire",
                text="The harvest festival drew crowds.",
                published=NOW,
                fetched_at=NOW,
            )
        )
        assert new and added.id == 2
        assert [a.id for a in store.search_articles("harvest")] == [1, 2]


def test_postgres_migrates_once_opened_twice_or_by_two_replicas_at_once(pg_url: str) -> None:
    with open_store(pg_url) as first:
        assert first.schema_version == len(POSTGRES_MIGRATIONS)
        first.add_subscription(Subscription("slack", "C1", "https://e.org/feed"))
    with open_store(pg_url) as again:
        assert again.schema_version == len(POSTGRES_MIGRATIONS)
        assert len(again.subscriptions()) == 1

    with pg.fresh_database() as url:
        start = threading.Barrier(3)
        errors: list[BaseException] = []

        def replica() -> None:
            start.wait()
            try:
                with open_store(url) as store:
                    store.add_subscription(Subscription("slack", "C1", "https://e.org/feed"))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=replica) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert errors == []
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT count(*) FROM schema_version").fetchone() == (1,)
            assert conn.execute("SELECT count(*) FROM subscriptions").fetchone() == (1,)


POSTINGS_ARTICLES = [
    ("Harvest fails across the region", "Farmers report a poor harvest. The harvest is late."),
    ("Chief executive resigns", "The chief executive of the bank resigned after the harvest."),
    ("Festival", "The harvest festival drew crowds; the chief guest spoke."),
    ("U.S. economy grows", "The U.S. economy grew as the chief executive had said."),
]
POSTINGS_QUERIES = ["harvest", "chief executive", "the", "festival harvest", "economy", "zzzq"]


def _postings(url: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT lexeme, article_id, tf_title, tf_text, ntokens FROM article_postings"
            " ORDER BY 1, 2"
        ).fetchall()


def test_a_version_2_postgres_database_gets_postings_and_ranks_as_a_fresh_one(
    pg_url: str,
) -> None:
    """Articles stored at schema version 2 (a tsvector, no postings) are backfilled when the
    database opens at version 3, and rank as the same articles stored afresh; a revision and
    a deletion keep the postings in step with the tsvector."""
    with psycopg.connect(pg_url) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        for script in POSTGRES_MIGRATIONS[:2]:
            conn.execute(script)
        conn.execute("INSERT INTO schema_version (version) VALUES (2)")
        for number, (title, text) in enumerate(POSTINGS_ARTICLES, start=1):
            tokens = tokenize(title, text)
            conn.execute(
                "INSERT INTO articles (url, content_hash, title, source, text, fetched_at, tsv,"
                " ntokens) VALUES (%s, %s, %s, 'Wire', %s, '2025-08-17T12:00:00+00:00',"
                " %s::tsvector, %s)",
                (
                    f"https://e.org/{number}",
                    f"h{number}",
                    title,
                    text,
                    tsvector_literal(*tokens),
                    sum(map(len, tokens)),
                ),
            )
    with pg.fresh_database() as fresh_url, open_store(pg_url) as old, open_store(fresh_url) as new:
        assert old.schema_version == new.schema_version == len(POSTGRES_MIGRATIONS)
        for number, (title, text) in enumerate(POSTINGS_ARTICLES, start=1):
            new.add_article(
                Article(
                    url=f"https://e.org/{number}",
                    title=title,
                    source="Wire",
                    text=text,
                    published=None,
                    fetched_at=NOW,
                )
            )
        assert _postings(pg_url) == _postings(fresh_url) != []
        # the upgrade left the backfilled table vacuumed and analysed, not waiting for autovacuum
        with psycopg.connect(pg_url) as conn:
            done = conn.execute(
                "SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL"
                " FROM pg_stat_user_tables WHERE relname = 'article_postings'"
            ).fetchone()
        assert done == (True,)
        for query in POSTINGS_QUERIES:
            assert [a.id for a in old.search_articles(query)] == [
                a.id for a in new.search_articles(query)
            ], query
        assert [a.id for a in old.search_articles("harvest")] == [1, 3, 2]
        for match in [(("chief executive",), ("harvest", "economy")), (("u s", "bank"),)]:
            assert (
                [a.id for a in old.match_articles(match, 10)]
                == [a.id for a in new.match_articles(match, 10)]
                != []
            ), match

        revised = Article(
            url="https://e.org/3",
            title="Fair",
            source="Wire",
            text="The chief guest spoke at the fair.",
            published=None,
            fetched_at=NOW,
        )
        for store in (old, new):
            store.revise_article(3, revised, summarize(revised.text, "Fair"), now=NOW)
        with psycopg.connect(pg_url) as conn:
            conn.execute("DELETE FROM articles WHERE id = 2")
            derived = conn.execute(
                "SELECT p.lexeme, p.article_id, p.tf_title, p.tf_text, p.ntokens FROM articles a,"
                " article_postings_of(a.id, a.tsv, a.ntokens) AS p ORDER BY 1, 2"
            ).fetchall()
        assert _postings(pg_url) == derived
        assert all(row[1] != 2 for row in derived)
        assert ("harvest", 3) not in [row[:2] for row in derived]
        assert [a.id for a in old.search_articles("harvest")] == [1]


def test_a_newer_postgres_schema_is_refused(pg_url: str) -> None:
    open_store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = version + 1")
    with pytest.raises(StoreError, match="newer than this"):
        open_store(pg_url)


def test_passwords_never_show() -> None:
    url = "postgresql://bot:s3cret-pw@127.0.0.1:1/newsbrief?sslmode=disable"
    assert redact_url(url) == "postgresql://bot:***@127.0.0.1:1/newsbrief?sslmode=disable"
    assert "s3cret" not in redact_url("postgres://bot@127.0.0.1/db?password=s3cret-pw")
    # nothing listens on port 1: refused at once, and said so without the password
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "s3cret" not in str(caught.value)
    assert "bot:***@127.0.0.1:1/newsbrief" in str(caught.value)


def test_a_server_that_refuses_writes_is_a_store_fault(pg_url: str) -> None:
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore)
    assert "***" in repr(store) or "@" not in repr(store)
    assert store.write_problem() is None
    name = urlsplit(pg_url).path.lstrip("/")
    with psycopg.connect(pg.admin_url(), autocommit=True) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} SET default_transaction_read_only = on").format(
                sql.Identifier(name)
            )
        )
        # the pool's connections go (as in a fail-over), its new ones are read-only
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
    reasons = []
    for _ in range(3):
        with pytest.raises(StoreFaultError) as caught:
            store.put_channel(store.get_channel(ChannelRef("slack", "C1")))
        reasons.append(caught.value.reason)
    assert "read-only" in reasons[-1]
    assert store.fault == reasons[-1]
    assert "read-only" in (store.write_problem() or "")
    store.close()


def test_the_parity_questions_find_something(both: tuple[Store, Store]) -> None:
    """The comparisons above are not of empty answers."""
    lite, _ = both
    assert sum(answer_question(lite, q).answered for q in QUESTIONS) >= 4
    assert sum(bool(lite.search_articles(t)) for t in TOPICS) >= 5


def test_the_cli_opens_a_postgres_url(pg_url: str) -> None:
    """``--db postgresql://...`` ingests into and reads from PostgreSQL; nothing is written to
    an SQLite file of that name."""
    seeds = str(Path(__file__).resolve().parents[1] / "seeds")
    out = io.StringIO()
    assert main(["ingest", "--db", pg_url, seeds], stdout=out, env={}) == 0
    with open_store(pg_url) as store:
        assert store.count_articles() >= 5
    listed = io.StringIO()
    assert main(["articles", "--db", pg_url], stdout=listed, env={}) == 0
    assert "Zelenskyy" in listed.getvalue() or "security" in listed.getvalue().lower()


def test_health_probes_postgres(pg_url: str) -> None:
    with open_store(pg_url) as store:
        assert database_problem(store) is None
        store.db.execute("DROP TABLE write_probe")
        assert "write_probe" in (database_problem(store) or "")


def test_postgres_reads_in_other_threads_run_beside_an_open_write(pg_url: str) -> None:
    """A transaction holds one pooled connection for its thread; /ask-style reads in worker
    threads take others, never wait for it, and see only what it committed."""
    with open_store(pg_url) as store:
        channel = ChannelRef("slack", "C1")
        seen: list[int] = []
        with store.transaction() as db:
            db.execute(
                "INSERT INTO subscriptions (platform, channel, source, created_at)"
                " VALUES (?, ?, ?, ?)",
                ("slack", "C1", "https://e.org/feed", "2025-08-17T12:00:00+00:00"),
            )
            assert len(store.subscriptions(channel)) == 1  # this thread: its own write
            reader = threading.Thread(target=lambda: seen.append(len(store.subscriptions())))
            reader.start()
            reader.join(timeout=10)
            assert seen == [0]
        assert len(store.subscriptions()) == 1
