"""The store, on real SQLite files and a real PostgreSQL (each `store` test runs on both)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import StoreError
from bot.models import Article, Briefing, Bullet, ChannelRef, FeedState, Subscription
from bot.store import MIGRATIONS, Store, open_store

NOW = datetime(2025, 8, 17, 12, tzinfo=UTC)


def article(n: int, text: str | None = None, **kw: object) -> Article:
    fields: dict[str, object] = {
        "url": f"https://example.org/{n}",
        "title": f"Title {n}",
        "source": "Wire",
        "text": text or f"Story number {n} happened today in the city.",
        "published": NOW - timedelta(hours=n),
        "fetched_at": NOW,
    }
    fields.update(kw)
    return Article(**fields)  # type: ignore[arg-type]


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def test_new_file_is_wal_and_at_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "bot.db"
    with Store.open(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert path.exists()


def test_articles_survive_reopening(db_target: str) -> None:
    with open_store(db_target) as store:
        store.add_article(article(1), Briefing("Head", (Bullet("One.", ("One.",)),)))
    with open_store(db_target) as store:
        [stored] = store.recent_articles()
        assert stored.title == "Title 1"
        assert stored.published == article(1).published
        assert store.get_briefings([stored.id or 0])[stored.id or 0].bullets[0].text == "One."


def test_same_url_or_same_text_is_stored_once(store: Store) -> None:
    first, added = store.add_article(article(1))
    assert added and first.id is not None
    again, added_again = store.add_article(article(1, title="Changed title"))
    assert not added_again and again.id == first.id
    # the same words at another URL (re-spaced and re-cased) are the same article
    copy = article(2, text="  story NUMBER 1 happened\n today in the city. ")
    _, added_copy = store.add_article(copy)
    assert not added_copy
    assert store.count_articles() == 1


def test_newest_first_and_fuller_report_first_on_a_tie(store: Store) -> None:
    store.add_article(article(3))
    store.add_article(article(1))
    day = datetime(2025, 8, 1, tzinfo=UTC)
    store.add_article(article(7, text="Short report.", published=day))
    store.add_article(article(8, text="A much longer report of the same day.", published=day))
    urls = [a.url.rsplit("/", 1)[1] for a in store.recent_articles()]
    assert urls == ["1", "3", "8", "7"]


def test_full_text_search_ranks_title_matches_and_takes_any_input(store: Store) -> None:
    store.add_article(article(1, text="Farmers report a poor harvest.", title="Harvest fails"))
    store.add_article(article(2, text="The harvest festival drew crowds.", title="Festival"))
    store.add_article(article(3, text="Nothing related here at all.", title="Other"))
    assert [a.title for a in store.search_articles("harvest")] == ["Harvest fails", "Festival"]
    assert [a.title for a in store.search_articles("harvests")][:1] == ["Harvest fails"]
    for hostile in ['"', "NEAR(", "a OR", "*", "title:x", "'); DROP TABLE articles; --", ""]:
        store.search_articles(hostile)
    assert store.count_articles() == 3


def test_deliveries_hide_what_a_channel_was_sent(store: Store) -> None:
    a, _ = store.add_article(article(1))
    b, _ = store.add_article(article(2))
    slack = ChannelRef("slack", "C1")
    discord = ChannelRef("discord", "42")
    assert store.record_deliveries(slack, [a.id or 0], NOW) == 1
    assert store.record_deliveries(slack, [a.id or 0], NOW) == 0
    assert [x.id for x in store.undelivered_articles(slack)] == [b.id]
    assert [x.id for x in store.undelivered_articles(discord)] == [a.id, b.id]
    assert store.last_delivery(slack) == NOW
    assert store.last_delivery(discord) is None


def test_subscriptions_per_channel(store: Store) -> None:
    channel = ChannelRef("slack", "C1")
    sub, new = store.add_subscription(Subscription("slack", "C1", "https://e.org/feed"))
    assert new and sub.id is not None
    _, again = store.add_subscription(Subscription("slack", "C1", "https://e.org/feed"))
    assert not again
    store.add_subscription(Subscription("slack", "C2", "https://e.org/other"))
    assert [s.source for s in store.subscriptions(channel)] == ["https://e.org/feed"]
    assert store.remove_subscription(channel, str(sub.id))
    assert not store.remove_subscription(channel, "https://e.org/feed")
    assert len(store.subscriptions()) == 1


def test_feed_state_round_trip(store: Store) -> None:
    state = FeedState(
        url="https://e.org/feed",
        etag='"v1"',
        last_modified="Sun, 17 Aug 2025 10:00:00 GMT",
        last_polled=NOW,
        last_ok=NOW,
        error_count=2,
        last_error="HTTP 500",
        next_poll=NOW + timedelta(minutes=20),
    )
    store.put_feed_state(state, "Example feed")
    assert store.get_feed_state(state.url) == state
    assert store.feed_title(state.url) == "Example feed"
    store.put_feed_state(FeedState(url=state.url))
    assert store.feed_title(state.url) == "Example feed"
    assert store.get_feed_state("https://e.org/none") is None


def test_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer than this"):
        Store.open(path)


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="cannot open database"):
        Store.open(path)
