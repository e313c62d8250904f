"""Reports whose outlet is unknown: named by their file or host, counted as reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.console import to_console_text
from adapters.discord.render import to_discord_embeds
from adapters.slack.render import to_slack_messages
from bot.digest import build_digest
from bot.ingest.files import read_file
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import Article, Briefing, ChannelRef, Story
from bot.store import Store

SAMPLE = Path(__file__).resolve().parent / "data" / "clusters_sample.jsonl"
NOW = datetime(2021, 10, 19, 9, tzinfo=UTC)
CHANNEL = ChannelRef("console", "terminal")


def _event_reports() -> list[dict[str, str]]:
    """The three outlets' leads of one real event (the Supreme Court's qualified immunity
    rulings of 18 October 2021)."""
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["cluster_id"] == "allsides-5607":
            return list(event["articles"])
    raise AssertionError("event missing from the sample")


async def test_three_unnamed_files_of_one_event_read_three_reports(tmp_path: Path) -> None:
    for n, report in enumerate(_event_reports(), start=1):
        # a title line, a date line, the text: no Source line, so no outlet is known
        (tmp_path / f"note{n}.md").write_text(
            f"# {report['title']}\nDate: {report['date']}\n\n{report['text']}\n", "utf-8"
        )
    store = Store.open(tmp_path / "news.db")
    result = await ingest([str(tmp_path)], store, FetchPolicy())
    assert result.ok and len(result.added) == 3
    assert all(a.source == "" for a in result.added)
    assert sorted(a.label for a in result.added) == ["note1.md", "note2.md", "note3.md"]

    digest = build_digest(store, CHANNEL, now=NOW)
    assert len(digest.stories) == 1
    (story,) = digest.stories
    assert story.sources == () and story.coverage == "3 reports"
    assert digest.overview == "1 new story from 3 reports."
    text = to_console_text(digest, ZoneInfo("UTC"))
    assert "3 reports" in text and "Local file" not in text and "sources" not in text
    (message,) = to_slack_messages(digest, ZoneInfo("UTC"))
    assert "3 reports" in json.dumps(message)
    (embed,) = to_discord_embeds(digest)
    assert embed.footer.text is not None and "3 reports" in embed.footer.text


def test_outlet_from_the_host_of_a_json_rows_link(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows = [
        {"title": "A", "text": "Body one.", "url": "https://www.reuters.com/world/a"},
        {"title": "B", "text": "Body two.", "url": "https://apnews.com/b", "source": "AP"},
        {"title": "C", "text": "Body three."},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    found = [a for a in read_file(path, now=NOW) if isinstance(a, Article)]
    assert [a.source for a in found] == ["reuters.com", "AP", ""]
    assert found[2].label == "rows.jsonl"


def test_coverage_line_counts_reports_and_named_outlets() -> None:
    def art(n: int, source: str) -> Article:
        return Article(
            url=f"https://x.example/{n}",
            title="T",
            source=source,
            text="x",
            published=NOW,
            fetched_at=NOW,
            id=n,
        )

    def story(*sources: str) -> Story:
        return Story(
            articles=tuple(art(n, s) for n, s in enumerate(sources, start=1)),
            briefing=Briefing("T", ()),
        )

    assert story("Reuters").coverage == "Reuters"
    assert story("").coverage == "x.example"
    assert story("Reuters", "AP", "BBC").coverage == "3 sources: Reuters, AP, BBC"
    assert story("Reuters", "Reuters", "AP").coverage == "3 reports from 2 sources: Reuters, AP"
    assert story("Reuters", "", "").coverage == "3 reports from 1 source: Reuters"
    assert story("", "").coverage == "2 reports"
