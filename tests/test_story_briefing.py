"""What a reader checks in a story told by several outlets: one briefing, the best report's
headline and lead first, facts from the other outlets each naming its outlet, no fact twice,
short bullets that trace back to their report; and a story of one report as before."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.console import to_console_text
from benches.stories_eval import CUT_OFF, Event, bullet_overlap, content_words, load_events
from bot.digest import best_article, build_digest
from bot.ingest.files import read_file
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import Article, Briefing, Bullet, ChannelRef
from bot.store import Store
from bot.summarize import summarize
from bot.summarize.story import summarize_story

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
# Three real events from benches/data/clusters_dev.jsonl: a left, a centre and a right outlet
# each, with texts cut off by their feed ("...").
SAMPLE = Path(__file__).resolve().parent / "data" / "stories_sample.jsonl"
ZELENSKYY = (
    "000_277b181c6f234e33.txt",
    "001_danube_dispatch_zelenskyy.md",
    "002_northline_security_guarantees.txt",
)
CHANNEL = ChannelRef("console", "stories")
NOW = datetime(2025, 8, 18, 8, 0, tzinfo=UTC)


def _story(articles: list[Article]) -> tuple[list[Article], Briefing]:
    """The reports best first, as the digest orders them, and their story briefing."""
    best = best_article(articles)
    reports = [best, *(a for a in articles if a is not best)]
    own = [summarize(a.text, a.title or None) for a in reports]
    return reports, summarize_story(reports, own)


def _seed_articles() -> list[Article]:
    found = [read_file(SEEDS / name)[0] for name in ZELENSKYY]
    assert all(isinstance(a, Article) for a in found)
    return [a for a in found if isinstance(a, Article)]


def _check(reports: list[Article], briefing: Briefing) -> None:
    """Everything a reader would check in a story briefing."""
    outlets = {a.source for a in reports}
    assert 3 <= len(briefing.bullets) <= 5, briefing
    named = [b.source for b in briefing.bullets]
    assert all(name in outlets for name in named), named
    assert len(set(named)) >= 2, "the other outlets must add something"
    assert named[0] == reports[0].source, "the best report's lead comes first"
    for bullet in briefing.bullets:
        assert 0 < len(bullet.text.split()) <= 30, bullet.text
        assert not CUT_OFF.search(bullet.text), f"cut-off fragment: {bullet.text}"
        # traceable: the sentence it came from is in the report of the outlet it names
        report = next(a for a in reports if a.source == bullet.source)
        flat = " ".join(report.text.split())
        assert bullet.sentences and all(s.rstrip(".…") in flat for s in bullet.sentences)
        # compression only removes words (a quote may add its speaker)
        said = content_words(" ".join(bullet.sentences) + " " + report.text)
        assert len(content_words(bullet.text) - said) <= 1, bullet.text
    # no fact twice: no two bullets share as much as 60% of the shorter one's content words
    assert bullet_overlap(briefing) < 0.6, [b.text for b in briefing.bullets]


@pytest.fixture(scope="module")
def events() -> list[Event]:
    found = load_events(SAMPLE)
    assert len(found) == 3
    return found


@pytest.mark.parametrize("n", range(3))
def test_three_outlets_make_one_attributed_briefing(events: list[Event], n: int) -> None:
    reports, briefing = _story(list(events[n].articles))
    _check(reports, briefing)
    assert briefing.headline == reports[0].title


# The seed story's key facts, each with the words any telling of it uses (European Pravda,
# Danube Dispatch and Northline News word them differently).
SEED_FACTS = {
    "no details of what Trump and Putin discussed": (
        "detailed information",
        "did not know the details",
        "do not know what",
    ),
    "Trump's signal matters more than Putin's": (
        "signal about security guarantees is much more important",
        "signal on security guarantees mattered more",
    ),
    "Putin will not give guarantees": ("putin will not give",),
    "guarantees are strong armed forces funded by Europe": ("armed forces",),
    "scarce weapons only the US has": ("scarce", "only the united states"),
    "foreign troops and airspace still open": ("foreign troops", "airspace"),
    "guarantees like NATO Article 5": ("article 5",),
    "talks must start from the line of contact": ("line of contact",),
    "territory only at a trilateral meeting": ("trilateral", "territorial"),
}


def seed_facts(bullets: list[str]) -> list[str]:
    """The seed story's key facts that `bullets` tell."""
    text = " ".join(bullets).lower()
    return [fact for fact, words in SEED_FACTS.items() if any(w in text for w in words)]


def test_seed_press_conference_reads_as_one_briefing() -> None:
    reports, briefing = _story(_seed_articles())
    _check(reports, briefing)
    # European Pravda's report is the fullest but has no title: another outlet's real title
    # heads the story rather than a headline derived from a lead
    assert reports[0].source == "European Pravda" and not reports[0].title
    assert briefing.headline in {a.title for a in reports[1:]}, briefing.headline
    assert len({b.source for b in briefing.bullets}) == 3
    told = seed_facts([b.text for b in briefing.bullets])
    assert len(told) >= 6, (told, [b.text for b in briefing.bullets])


def _report(n: int, source: str, title: str, text: str) -> Article:
    return Article(f"https://news{n}.example/lock", title, source, text, NOW, NOW, id=n)


def test_the_same_fact_from_two_outlets_is_told_once() -> None:
    lead = "Barges queued at the Iron Gate lock on Sunday after a drought closed the channel."
    repeat = "Barges queued at the Iron Gate lock after drought closed the shipping channel."
    extra = "Reuters counted 140 barges waiting, and the operator said the wait could last weeks."
    more = (
        " The river authority said levels fell 40 cm in a week."
        " Farmers worry about grain exports from the region this autumn."
    )
    articles = [
        _report(1, "Danube Dispatch", "Drought closes Danube lock", lead + more),
        _report(
            2, "Northline News", "Barges stuck at Iron Gate", f"{repeat} Shippers want dredging."
        ),
        _report(3, "Reuters", "Danube lock shut", f"{repeat} {extra}"),
    ]
    _, briefing = _story(articles)
    texts = [b.text for b in briefing.bullets]
    assert briefing.bullets[0].source == "Danube Dispatch"
    assert sum("Iron Gate lock" in t for t in texts) == 1, texts
    assert any(b.source == "Reuters" and "140 barges" in b.text for b in briefing.bullets), texts


def test_one_death_told_by_two_outlets_in_their_own_words_is_told_once() -> None:
    # allsides-5608: each outlet says who Powell was in its own way, around the same fact
    lead = (
        "Colin Powell, an accomplished and esteemed four-star general who became the first "
        "African American secretary of State, died Monday as a result of complications from "
        "Covid-19, according to his family. Powell was 84."
    )
    other = (
        "Former secretary of state and chairman of the Joint Chiefs of Staff Colin Powell has "
        "died at age 84 of COVID-19 complications. Powell was fully vaccinated and being cared "
        "for at Walter Reed National Medical Center at the time of his death."
    )
    third = "Powell was one of America's most prominent Black figures for decades."
    articles = [
        _report(1, "Politico", "Colin Powell dies at 84", lead),
        _report(2, "Washington Examiner", "Colin Powell dies of COVID", other),
        _report(3, "Reuters", "Colin Powell, first Black secretary of state, dies", third),
    ]
    _, briefing = _story(articles)
    texts = [b.text for b in briefing.bullets]
    assert sum("died" in t for t in texts) == 1, texts
    assert any("fully vaccinated" in t for t in texts), texts


def test_one_report_keeps_its_own_briefing() -> None:
    article = _seed_articles()[1]
    own = summarize(article.text, article.title)
    assert summarize_story([article], [own]) == own
    assert all(b.source is None for b in own.bullets)
    with pytest.raises(ValueError):
        summarize_story([article], [own, own])


def test_cut_off_reports_give_no_fragment_bullets(events: list[Event]) -> None:
    for event in events:
        _, briefing = _story(list(event.articles))
        assert not any(CUT_OFF.search(b.text) for b in briefing.bullets)
    # each of these texts does end mid-sentence, so the check above can fail
    assert all(a.text.rstrip().endswith(("...", "…")) for e in events for a in e.articles)


async def test_digest_shows_the_story_briefing_and_single_stories_as_before(
    tmp_path: Path,
) -> None:
    with Store.open(tmp_path / "bot.db") as store:
        await ingest([str(SEEDS)], store, FetchPolicy())
        digest = build_digest(store, CHANNEL, now=NOW)
        top = digest.stories[0]
        assert set(top.sources) == {"European Pravda", "Danube Dispatch", "Northline News"}
        assert top.lead.source == "European Pravda"
        _check(list(top.articles), top.briefing)
        stored = store.get_briefings([a.id for a in top.articles if a.id is not None])
        # the lead report has no title: the story is headed by another report's real title
        assert not top.lead.title
        titled = {stored[a.id].headline for a in top.articles if a.title and a.id is not None}
        assert top.briefing.headline in titled, top.briefing.headline
        assert len(seed_facts([b.text for b in top.briefing.bullets])) >= 6, top.briefing
        for story in digest.stories[1:]:
            assert len(story.articles) == 1
            lead = story.lead
            assert lead.id is not None
            # what the digest showed before: the report's stored briefing, titled
            own = store.get_briefings([lead.id])[lead.id]
            assert story.briefing == Briefing(own.headline or lead.title, own.bullets)
            assert all(b.source is None for b in story.briefing.bullets)
        text = to_console_text(digest)
        first = text.split("\n2. ")[0]
        assert re.search(r"\n   - European Pravda: \S", first)
        assert re.search(r"\n   - (Danube Dispatch|Northline News): \S", first)
        assert "\n   - Riverton Courier:" not in text  # a story of one report names no outlet


def test_bullet_sources_are_stored_and_old_rows_still_load(tmp_path: Path) -> None:
    with Store.open(tmp_path / "bot.db") as store:
        [article] = [a for a in _seed_articles() if a.source == "Northline News"]
        stored, _ = store.add_article(article)
        assert stored.id is not None
        briefing = Briefing("Headline", (Bullet("One.", ("One.",), "Reuters"), Bullet("Two.")))
        store.put_briefing(stored.id, briefing)
        assert store.get_briefings([stored.id])[stored.id] == briefing
        # a row written before bullets named their outlet
        store.conn.execute(
            "UPDATE briefings SET bullets = ? WHERE article_id = ?",
            ('[{"text": "Old.", "sentences": ["Old."]}]', stored.id),
        )
        store.conn.commit()
        assert store.get_briefings([stored.id])[stored.id].bullets == (Bullet("Old.", ("Old.",)),)
