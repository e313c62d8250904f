"""Story grouping: reports of one event share a story id, unrelated reports do not."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cluster import HALF_LIFE, TITLE_WEIGHT, WINDOW, assign_story, decay, grouping_time, terms
from bot.ingest.files import iter_files, read_file
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import Article
from bot.store import Store, open_store
from tests.conftest import write_dev_events

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
NOW = datetime(2025, 8, 18, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def _seed_articles() -> list[Article]:
    found: list[Article] = []
    for path in iter_files(SEEDS):
        for item in read_file(path, now=NOW):
            assert isinstance(item, Article), item
            found.append(item)
    return found


def _ingest(store: Store, article: Article) -> tuple[Article, int]:
    stored, added = store.add_article(article)
    assert added
    return stored, assign_story(store, stored)


def _article(url: str, title: str, text: str, published: datetime, source: str) -> Article:
    return Article(
        url=url, title=title, source=source, text=text, published=published, fetched_at=published
    )


TRUMP_TARIFFS = (
    "Trump orders steel tariffs on Canadian imports",
    "US President Donald Trump on Tuesday ordered a 25 percent tariff on steel from Canada, "
    "saying plants in Ohio and Pennsylvania had lost 14,000 jobs. Canadian Prime Minister Mark "
    "Carney said Ottawa would answer with duties on 30 billion dollars of American goods. "
    "Steelmakers in Hamilton warned of layoffs.",
)
TRUMP_HURRICANE = (
    "Trump visits Florida after Hurricane Delia",
    "Donald Trump toured flooded neighbourhoods of Tampa on Tuesday, two days after Hurricane "
    "Delia made landfall with winds of 185 kilometres per hour. Governor Ron DeSantis said 3,200 "
    "homes had been destroyed across Hillsborough County and 410,000 customers were still "
    "without power.",
)


def test_three_outlets_one_story_unrelated_apart(store: Store) -> None:
    stories: dict[str, int] = {}
    for article in _seed_articles():
        stored, story = _ingest(store, article)
        stories[stored.source] = story
    zelenskyy = {stories["European Pravda"], stories["Danube Dispatch"], stories["Northline News"]}
    assert len(zelenskyy) == 1
    others = [stories[s] for s in ("Riverton Courier", "Central Europe Wire", "Market Ledger")]
    assert len(set(others)) == 3
    assert zelenskyy.isdisjoint(others)
    # the story is one item with three sources
    (story_id,) = zelenskyy
    members = store.story_articles([story_id])[story_id]
    assert sorted(a.source for a in members) == [
        "Danube Dispatch",
        "European Pravda",
        "Northline News",
    ]


def test_shared_famous_name_does_not_merge(store: Store) -> None:
    day = datetime(2025, 9, 2, 12, tzinfo=UTC)
    _, first = _ingest(store, _article("https://a.example/1", *TRUMP_TARIFFS, day, "Wire A"))
    _, second = _ingest(
        store, _article("https://b.example/2", *TRUMP_HURRICANE, day + timedelta(hours=2), "B")
    )
    assert first != second


def test_updated_version_joins_story(store: Store) -> None:
    day = datetime(2025, 9, 2, 12, tzinfo=UTC)
    title, text = TRUMP_TARIFFS
    first, story = _ingest(store, _article("https://a.example/tariffs", title, text, day, "Wire"))
    assert story == first.id
    updated = text + (
        "\n\nUpdate: The White House said the tariffs would take effect on 1 October, and "
        "Carney said he had spoken to Trump by phone."
    )
    later = day + timedelta(hours=5)
    _, again = _ingest(
        store, _article("https://a.example/tariffs-updated", title, updated, later, "Wire")
    )
    assert again == story


def test_reports_outside_window_stay_apart(store: Store) -> None:
    day = datetime(2025, 9, 2, 12, tzinfo=UTC)
    title, text = TRUMP_HURRICANE
    far = WINDOW + timedelta(days=1)
    _, first = _ingest(store, _article("https://a.example/h1", title, text, day, "A"))
    _, later = _ingest(
        store, _article("https://b.example/h2", title, text + " More.", day + far, "B")
    )
    # ingested out of order: the older report comes after the newer one
    _, earlier = _ingest(
        store, _article("https://c.example/h3", title, text + " Even more.", day - far, "C")
    )
    assert len({first, later, earlier}) == 3
    # and within the window they do merge
    _, near = _ingest(
        store, _article("https://d.example/h4", title, text + " Again.", day + WINDOW / 2, "D")
    )
    assert near in {first, later}


# Two outlets' leads of one event, in their own words (from the AllSides dev set, event 5607).
QI_CNN = (
    "Supreme Court sides with police officers in two qualified immunity cases",
    "In two unsigned opinions Monday, the Supreme Court ruled in favor of police officers "
    "seeking qualified immunity from allegations of excessive force. In both cases, the "
    "justices overturned lower court decisions that went against the officers.",
)
QI_FOX = (
    "Supreme Court protects cops from lawsuits in two qualified immunity cases",
    "The Supreme Court Monday issued two unsigned opinions applying qualified immunity to "
    "disputes over alleged excessive use of force by police officers, reversing lower court "
    "decisions that allowed the officers to be sued for their on-the-job conduct.",
)


def test_a_late_report_must_be_closer_to_join(store: Store) -> None:
    """The similarity halves with each day between a report and the story: two outlets' words
    for one event join on the day, not when one of them is dated two and a half days later."""
    day = datetime(2021, 10, 18, 15, tzinfo=UTC)
    assert decay(timedelta(0)) == 1.0 and decay(HALF_LIFE) == pytest.approx(0.5)
    _, story = _ingest(store, _article("https://cnn.example/qi", *QI_CNN, day, "CNN"))
    _, same_day = _ingest(
        store, _article("https://fox.example/qi", *QI_FOX, day + timedelta(hours=3), "Fox")
    )
    assert same_day == story
    _, late = _ingest(
        store,
        _article(
            "https://fox.example/qi-2",
            QI_FOX[0],
            QI_FOX[1] + " Again.",
            day + timedelta(days=2.5),
            "Fox",
        ),
    )
    assert late != story


def test_assign_story_is_idempotent(store: Store) -> None:
    articles = [store.add_article(a)[0] for a in _seed_articles()]
    first = [assign_story(store, a) for a in articles]

    def rows() -> list[int]:
        tables = ("article_terms", "stories", "story_postings", "feature_counts")
        return [store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables]

    before = rows()
    second = [assign_story(store, a) for a in articles]
    assert first == second
    assert rows() == before
    sizes = store.db.execute("SELECT sum(size) FROM stories").fetchone()[0]
    assert sizes == len(articles)


def test_assign_story_needs_stored_article() -> None:
    article = _seed_articles()[0]
    with pytest.raises(ValueError):
        assign_story(Store.open(":memory:"), replace(article, id=None))


def test_terms_weigh_title_and_read_only_the_lead() -> None:
    found = terms(
        "Acme buys Borealis",
        "Acme Corp said on Monday it would buy Borealis Energy for 1,200 million dollars. "
        + "Filler words here. " * 200
        + "Zanzibar appears only far down the page.",
    )
    assert found["acm"] == TITLE_WEIGHT + 1.0  # once in the title, once in the lead
    assert found["1200"] == 1.0  # thousands separators dropped
    assert "said" not in found and "monday" not in found and "the" not in found
    assert "zanzibar" not in found  # beyond the lead


def test_unbelievable_dates_group_by_fetch_time(store: Store) -> None:
    """Hugo writes 0001-01-01 for undated posts: grouping must neither crash nor file the
    report at year 1, and a date far in the future is not believed either."""
    fetched = datetime(2025, 9, 2, 12, tzinfo=UTC)
    for n, published in enumerate((datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31))):
        article = replace(
            _article(f"https://h.example/{n}", *TRUMP_HURRICANE, fetched, "Hugo"),
            published=published,
            text=TRUMP_HURRICANE[1] + f" ({n})",
        )
        assert grouping_time(article) == fetched
        stored, story = _ingest(store, article)
        assert story in (stored.id, store.story_ids([stored.id or 0])[stored.id or 0])


def test_empty_text_starts_own_story(store: Store) -> None:
    stored, _ = store.add_article(
        _article("https://e.example/1", "", "...", datetime(2025, 1, 1, tzinfo=UTC), "E")
    )
    assert terms(stored.title, stored.text) == {}
    assert assign_story(store, stored) == stored.id


def test_document_counts_move_when_an_article_is_grouped_again(store: Store) -> None:
    day = datetime(2025, 9, 2, 12, tzinfo=UTC)
    stored, story = _ingest(store, _article("https://a.example/1", *TRUMP_TARIFFS, day, "A"))
    assert stored.id is not None
    total, counts = store.feature_stats(["trump", "nowher"], since=day, until=day)
    assert total == 1 and counts == {"trump": 1}
    # recording the article again moves its counts instead of adding to them
    store.join_story(
        stored.id,
        story,
        moment=day,
        terms=["trump"],
        vector={"trump": 1.0},
        index_terms=["trump"],
        centroid_terms=10,
    )
    assert store.feature_stats(["trump", "steel"], since=day, until=day) == (1, {"trump": 1})
    # other days are not counted
    later = day + timedelta(days=2)
    assert store.feature_stats(["trump"], since=later, until=later) == (0, {})


def test_story_candidates_window_both_ways(store: Store) -> None:
    day = datetime(2025, 9, 2, 12, tzinfo=UTC)
    title, text = TRUMP_HURRICANE
    _, story = _ingest(store, _article("https://a.example/h", title, text, day, "A"))
    words = ["delia", "tampa", "nowher"]
    hour = timedelta(hours=1)
    found = store.story_candidates(words, since=day - hour, until=day + hour)
    assert [c.story_id for c in found] == [story]
    assert found[0].size == 1 and found[0].first_at == day and "delia" in found[0].centroid
    assert store.story_candidates(words, since=day + hour, until=day + 2 * hour) == []
    assert store.story_candidates(words, since=day - 2 * hour, until=day - hour) == []
    assert store.story_candidates(["nowher"], since=day - hour, until=day + hour) == []


def test_two_writers_never_lose_a_report_from_a_story(db_target: str) -> None:
    """Each report joins the centroid inside its own transaction: two processes (here two
    connections in two threads) growing one story concurrently count every report."""
    path = db_target
    open_store(path).close()
    day = datetime(2025, 9, 2, 12, tzinfo=UTC)
    title, text = TRUMP_HURRICANE
    seed = open_store(path)
    _, story = _ingest(seed, _article("https://a.example/0", title, text, day, "A"))

    def writer(name: str) -> None:
        with open_store(path) as mine:
            for n in range(15):
                article = _article(
                    f"https://{name}.example/{n}", title, f"{text} {name} {n}.", day, name
                )
                stored, _ = mine.add_article(article)
                assign_story(mine, stored)

    threads = [threading.Thread(target=writer, args=(name,)) for name in ("b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    size = seed.db.execute("SELECT size FROM stories WHERE id = ?", (story,)).fetchone()[0]
    members = seed.story_articles([story])[story]
    assert size == len(members) == 31


async def test_real_events_grouped_right_through_the_ingest(
    tmp_path: Path, any_store: Store
) -> None:
    """Eight real events of the dev set (three outlets each, in their own words), in pairs that
    share a subject and a day or two (two Supreme Court stories, two Pfizer vaccine stories,
    two on jobs): read by the real ingest, each event becomes one story and no two events
    share one."""
    feed, reports = write_dev_events(tmp_path)
    store = any_store
    result = await ingest([str(feed)], store, FetchPolicy())
    assert result.ok and len(result.added) == len(reports)
    by_url = {a.url: a for a in result.added}
    story_of = store.story_ids([a.id for a in result.added if a.id is not None])
    stories: dict[str, set[int]] = {}
    for event, report in reports:
        stored = by_url[report["url"]]
        assert stored.id is not None
        stories.setdefault(event, set()).add(story_of[stored.id])
    assert all(len(ids) == 1 for ids in stories.values()), stories
    assert len(set().union(*stories.values())) == 8
