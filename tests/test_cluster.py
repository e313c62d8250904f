"""Story grouping: reports of one event share a story id, unrelated reports do not."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cluster import NUM_PERM, WINDOW, Signature, assign_story, features, signature
from bot.ingest.files import iter_files, read_file
from bot.models import Article
from bot.store import Store

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
NOW = datetime(2025, 8, 18, 9, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "news.db")


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
    assert "@trump" in signature(_article("u", *TRUMP_TARIFFS, day, "x")).features


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


def test_assign_story_is_idempotent(store: Store) -> None:
    articles = [store.add_article(a)[0] for a in _seed_articles()]
    first = [assign_story(store, a) for a in articles]
    bands = store.conn.execute("SELECT count(*) FROM story_bands").fetchone()[0]
    second = [assign_story(store, a) for a in articles]
    assert first == second
    assert store.conn.execute("SELECT count(*) FROM story_bands").fetchone()[0] == bands
    ids = [a.id for a in articles if a.id is not None]
    assert list(store.story_ids(ids).values()) == [store.story_ids(ids)[i] for i in ids]


def test_assign_story_needs_stored_article() -> None:
    article = _seed_articles()[0]
    with pytest.raises(ValueError):
        assign_story(Store.open(":memory:"), replace(article, id=None))


def test_signature_is_stable() -> None:
    article = _seed_articles()[0]
    one, two = signature(article), signature(article)
    assert one == two
    assert isinstance(one, Signature)
    assert len(one.minhash) == 4 * NUM_PERM
    assert all(-(2**63) <= key < 2**63 for key in one.band_keys)
    assert len(set(one.band_keys)) == len(one.band_keys)
    # the same bytes in another process (str hashes are salted per process; ours must not be)
    code = (
        "import sys; from pathlib import Path; from bot.ingest.files import read_file;"
        "from bot.cluster import signature;"
        "a = read_file(Path(sys.argv[1]))[0]; s = signature(a);"
        "print(s.minhash.hex(), *s.band_keys)"
    )
    seed = next(iter_files(SEEDS))
    out = subprocess.run(
        [sys.executable, "-c", code, str(seed)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "random", "PATH": ""},
    ).stdout.split()
    assert out == [one.minhash.hex(), *map(str, one.band_keys)]


def test_features_names_numbers_and_words() -> None:
    found = features(
        "Acme buys Borealis for 1.2 billion dollars",
        "Acme Corp said on Monday it would buy Borealis Energy for 1.2 billion dollars. "
        "Chief executive Jana Novak told reporters in Oslo the deal would close in 2026.",
    )
    assert "@jana_novak" in found and "@novak" in found and "@oslo" in found
    assert "#1.2e+09" in found
    assert "@chief" not in found and "said" not in found and "@monday" not in found
    assert "#2026" not in found  # a bare year of this era identifies nothing
    same = features("", "The firm paid 1,200,000,000 dollars, or 1.2bn, for it.")
    assert "#1.2e+09" in same


def test_empty_text_starts_own_story(store: Store) -> None:
    stored, _ = store.add_article(
        _article("https://e.example/1", "", "...", datetime(2025, 1, 1, tzinfo=UTC), "E")
    )
    assert signature(stored).band_keys == ()
    assert assign_story(store, stored) == stored.id


def test_feature_counts_kept_with_signature(store: Store) -> None:
    day = datetime(2025, 9, 2, 12, tzinfo=UTC)
    stored, _ = _ingest(store, _article("https://a.example/1", *TRUMP_TARIFFS, day, "A"))
    assert stored.id is not None
    total, counts = store.feature_stats(["@trump", "@nowhere"], since=day, until=day)
    assert total == 1 and counts == {"@trump": 1}
    # storing the signature again moves the counts instead of adding to them
    sig = signature(stored)
    store.put_signature(stored.id, sig.features, sig.minhash, sig.band_keys, stored.id)
    assert store.feature_stats(["@trump"], since=day, until=day) == (1, {"@trump": 1})
    # other days are not counted
    later = day + timedelta(days=2)
    assert store.feature_stats(["@trump"], since=later, until=later) == (0, {})


def test_story_candidates_window_both_ways(store: Store) -> None:
    day = datetime(2025, 9, 2, 12, tzinfo=UTC)
    title, text = TRUMP_HURRICANE
    stored, _ = _ingest(store, _article("https://a.example/h", title, text, day, "A"))
    keys = signature(stored).band_keys
    hour = timedelta(hours=1)
    assert [c[0] for c in store.story_candidates(keys, since=day - hour, until=day + hour)] == [
        stored.id
    ]
    assert store.story_candidates(keys, since=day + hour) == []
    assert store.story_candidates(keys, until=day - hour) == []
