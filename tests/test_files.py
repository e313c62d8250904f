"""Local files: the seed format, plain text, Markdown, JSON and JSONL, and bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import SourceError
from bot.ingest.files import iter_files, read_file
from bot.models import Article

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "seeds" / "000_277b181c6f234e33.txt"


def only_article(items: list[Article | SourceError]) -> Article:
    assert len(items) == 1, items
    item = items[0]
    assert isinstance(item, Article), item
    return item


def test_seed_is_parsed_into_date_source_and_body() -> None:
    article = only_article(read_file(SEED))
    assert article.published == datetime(2025, 8, 17, tzinfo=UTC)
    assert article.source == "European Pravda"
    assert article.text.startswith("President Volodymyr Zelenskyy has said that he does not have")
    assert "date 2025" not in article.text
    assert "Source:" not in article.text
    assert "as reported by" not in article.text
    # the body keeps its paragraphs, quotes and closing background
    assert "Putin will not give us any security guarantees" in article.text
    assert article.text.rstrip().endswith("trilateral Ukraine-US-Russia meeting.")
    assert "\n\n" in article.text
    assert article.url == SEED.resolve().as_uri()


def test_plain_text_with_title_and_header_lines(tmp_path: Path) -> None:
    path = tmp_path / "story.txt"
    path.write_text(
        "Port strike ends after 12 days\n\nSource: Harbour Gazette\nDate: 2025-08-10\n"
        "URL: https://example.org/port-strike\n\nDock workers voted to return on Monday.\n",
        encoding="utf-8",
    )
    article = only_article(read_file(path))
    assert article.title == "Port strike ends after 12 days"
    assert article.source == "Harbour Gazette"
    assert article.published == datetime(2025, 8, 10, tzinfo=UTC)
    assert article.url == "https://example.org/port-strike"
    assert article.text == "Dock workers voted to return on Monday."


def test_markdown_title_and_body_without_headers(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# A title\n\nFirst paragraph.\nstill first.\n\n\n\nSecond one.", "utf-8")
    article = only_article(read_file(path))
    assert article.title == "A title"
    assert article.text == "First paragraph. still first.\n\nSecond one."
    assert article.source == "" and article.label == "note.md"  # no outlet named


def test_plain_text_whose_first_line_is_a_sentence_has_no_title(tmp_path: Path) -> None:
    path = tmp_path / "body.txt"
    path.write_text("The council met on Monday.\nIt approved the budget.", "utf-8")
    article = only_article(read_file(path))
    assert article.title == ""
    assert article.text.startswith("The council met on Monday.")


def test_jsonl_good_and_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    rows = [
        json.dumps(
            {
                "title": "One",
                "url": "https://e.org/1",
                "text": "Body one.",
                "published": "2025-08-01T10:00:00+02:00",
                "source": "Wire",
            }
        ),
        "{not json",
        json.dumps({"title": "Empty", "text": "   "}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"article": "Body two from the article key."}),
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    items = read_file(path)
    articles = [i for i in items if isinstance(i, Article)]
    errors = [i for i in items if isinstance(i, SourceError)]
    assert [a.title for a in articles] == ["One", ""]
    assert articles[0].published == datetime(2025, 8, 1, 8, tzinfo=UTC)
    assert articles[0].source == "Wire"
    assert articles[1].url.endswith("items.jsonl#line-5")
    assert len(errors) == 3
    assert any("line 2" in e.url and "not valid JSON" in e.reason for e in errors)
    assert any("line 3" in e.url and "empty article" in e.reason for e in errors)
    assert any("line 4" in e.url and "not a JSON object" in e.reason for e in errors)


def test_json_file_with_a_list(tmp_path: Path) -> None:
    path = tmp_path / "items.json"
    path.write_text(json.dumps([{"text": "A."}, {"text": "B."}]), encoding="utf-8")
    assert [a.text for a in read_file(path) if isinstance(a, Article)] == ["A.", "B."]


def test_non_utf8_text_is_read_as_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes("Caf\u00e9 owners said prices rose \u2013 again.".encode("cp1252"))
    article = only_article(read_file(path))
    assert article.text == "Caf\u00e9 owners said prices rose \u2013 again."


def test_bad_files_give_one_clear_error_each(tmp_path: Path) -> None:
    binary = tmp_path / "image.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n", encoding="utf-8")
    seed_only_date = tmp_path / "date.txt"
    seed_only_date.write_text("date 2025-01-01 \nSource: Nobody\n", encoding="utf-8")
    other = tmp_path / "sheet.csv"
    other.write_text("a,b\n", encoding="utf-8")
    cases = {
        binary: "binary file",
        empty: "empty article",
        seed_only_date: "empty article",
        tmp_path / "missing.txt": "no such file",
        other: "not a .txt, .md, .json or .jsonl file",
        tmp_path: "is a directory",
    }
    for path, reason in cases.items():
        items = read_file(path)
        assert len(items) == 1
        assert isinstance(items[0], SourceError)
        assert reason in items[0].reason, (path, items[0].reason)


def test_a_folder_of_mixed_files_yields_only_supported_ones(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A.", "utf-8")
    (tmp_path / "b.png").write_bytes(b"\x89PNG")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.jsonl").write_text("{}", "utf-8")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.txt").write_text("D.", "utf-8")
    names = [p.relative_to(tmp_path).as_posix() for p in iter_files(tmp_path)]
    assert names == ["a.txt", "sub/c.jsonl"]


def test_every_seed_file_reads_cleanly() -> None:
    items = [i for p in iter_files(ROOT / "seeds") for i in read_file(p)]
    assert all(isinstance(i, Article) for i in items), items
    sources = {i.source for i in items if isinstance(i, Article)}
    assert {"European Pravda", "Danube Dispatch", "Northline News"} <= sources
    assert len(items) >= 6


def test_impossible_dates_are_unknown_and_never_stop_the_file(tmp_path: Path) -> None:
    path = tmp_path / "dates.jsonl"
    rows = [
        {
            "title": "Year one east of UTC",
            "text": "A record dated year one.",
            "published": "0001-01-01T00:00:00+05:00",
        },
        {
            "title": "Far future",
            "text": "A record dated year 9999.",
            "published": "9999-12-31T23:59:59-05:00",
        },
        {"title": "A real date", "text": "A record with a real date.", "published": "2024-03-05"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    items = read_file(path, now=datetime(2024, 6, 1, tzinfo=UTC))
    assert all(isinstance(i, Article) for i in items), items
    assert [i.published for i in items if isinstance(i, Article)] == [
        None,
        None,
        datetime(2024, 3, 5, tzinfo=UTC),
    ]
