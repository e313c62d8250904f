"""The command line, run in-process on real database files (and a loopback feed server)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli import main
from tests.servers import LoopbackServer

ROOT = Path(__file__).resolve().parent.parent
SEEDS = str(ROOT / "seeds")
SEED = str(ROOT / "seeds" / "000_277b181c6f234e33.txt")

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Loopback Wire</title><link>{base}</link>
<description>Test feed</description>
<item><title>Dam opens after ten years of work</title><link>{base}/dam?utm_source=rss</link>
<guid>dam</guid><pubDate>Mon, 18 Aug 2025 09:00:00 GMT</pubDate>
<description><![CDATA[<p>The new dam on the Vyr river opened on Monday after ten years of
construction. It will supply water to 200,000 homes. Engineers said the reservoir will take
two years to fill. The project cost 1.2 billion euros and employed 3,000 workers.</p>
<p>Officials said the dam would also produce electricity for the region.</p>]]></description>
</item>
<item><title>Library extends opening hours</title><link>{base}/library</link>
<guid>library</guid><pubDate>Sun, 17 Aug 2025 09:00:00 GMT</pubDate>
<description><![CDATA[<p>The central library will open until 10pm on weekdays from September,
the city said on Sunday. The change follows a survey of 4,000 residents. Students asked for
longer hours during exams. The library will hire six more staff.</p>
<p>Weekend hours stay the same.</p>]]></description>
</item>
</channel></rss>
"""


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def cli(
    capsys: pytest.CaptureFixture[str],
    *args: str,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> Run:
    out = io.StringIO()
    code = main(list(args), stdin=io.StringIO(stdin), stdout=out, env=env or {})
    return Run(code, out.getvalue(), capsys.readouterr().err)


def test_ingest_seeds_then_again_stores_each_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "bot.db")
    first = cli(capsys, "ingest", "--db", db, SEEDS)
    assert first.code == 0, first.err
    assert "Ingested: 6 new, 0 already stored, 0 failed." in first.out
    assert "[European Pravda]" in first.out
    second = cli(capsys, "ingest", "--db", db, SEEDS)
    assert second.code == 0
    assert "Ingested: 0 new, 6 already stored, 0 failed." in second.out
    listed = cli(capsys, "articles", "--db", db)
    assert "6 articles stored." in listed.out
    assert listed.out.splitlines()[0].split()[1:3] == ["2025-08-17", "European"]


def test_one_bad_source_is_reported_and_the_rest_go_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "bot.db")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01binary")
    run = cli(capsys, "ingest", "--db", db, str(tmp_path / "missing.txt"), str(bad), SEED)
    assert run.code == 1
    assert "missing.txt: no such file or directory" in run.err
    assert "bad.txt: binary file, not text" in run.err
    assert "Ingested: 1 new, 0 already stored, 2 failed." in run.out
    assert "1 article stored." in cli(capsys, "articles", "--db", db).out


def test_loopback_feed_ingested_twice_stores_each_entry_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], loopback: LoopbackServer
) -> None:
    db = str(tmp_path / "bot.db")
    base = loopback.url("").rstrip("/")
    url = loopback.add(
        "/feed.xml",
        body=RSS.format(base=base),
        content_type="application/rss+xml",
        etag='"v1"',
    )
    loopback.add("/dam", body="<html><body><p>teaser page</p></body></html>")
    loopback.add("/library", body="<html><body><p>teaser page</p></body></html>")
    env = {"NEWSBRIEF_FETCH_ALLOW_PRIVATE": "true"}
    first = cli(capsys, "ingest", "--db", db, url, env=env)
    assert first.code == 0, first.err
    assert "Ingested: 2 new" in first.out
    second = cli(capsys, "ingest", "--db", db, url, env=env)
    assert second.code == 0, second.err
    assert "Ingested: 0 new" in second.out
    assert loopback.requests_for("/feed.xml")[-1].headers.get("if-none-match") == '"v1"'
    listed = cli(capsys, "articles", "--db", db)
    assert "2 articles stored." in listed.out
    assert "Dam opens after ten years of work" in listed.out
    search = cli(capsys, "articles", "--db", db, "--search", "reservoir")
    assert "Dam opens" in search.out and "Library" not in search.out


def test_loopback_url_is_refused_unless_the_operator_allows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], loopback: LoopbackServer
) -> None:
    url = loopback.add("/feed.xml", body=RSS.format(base="http://x"), content_type="text/xml")
    run = cli(capsys, "ingest", "--db", str(tmp_path / "bot.db"), url)
    assert run.code == 1
    assert "fetch.allow_private" in run.err
    assert loopback.requests_for("/feed.xml") == []


def test_digest_then_again_says_nothing_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "bot.db")
    cli(capsys, "ingest", "--db", db, SEEDS)
    preview = cli(capsys, "digest", "--db", db, "--dry-run")
    first = cli(capsys, "digest", "--db", db)
    assert preview.out == first.out
    # the three outlets' reports of the Zelenskyy press conference are one story
    assert first.out.startswith("4 new stories from 6 sources.")
    top = first.out.split("\n1. ")[1].split("\n2. ")[0]
    assert "3 sources: European Pravda, Danube Dispatch, Northline News" in top
    assert "security guarantees" in top
    assert first.out.count("Zelenskyy") >= 1 and "\n4. " in first.out and "\n5. " not in first.out
    again = cli(capsys, "digest", "--db", db)
    assert again.out.startswith("Nothing new since ")
    other = cli(capsys, "digest", "--db", db, "--channel", "slack:C1")
    assert other.out.startswith("4 new stories")
    bad = cli(capsys, "digest", "--db", db, "--channel", "nochannel")
    assert bad.code == 2 and "PLATFORM:CHANNEL" in bad.err


def test_run_prints_the_digest_and_answers_commands_until_end_of_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "bot.db")
    run = cli(capsys, "run", "--db", db, SEEDS, stdin="/help\n/brief bike lanes\n")
    assert run.code == 0, run.err
    digest, _, rest = run.out.partition("Commands:")
    assert "Ingested: 6 new" in digest
    assert "European Pravda" in digest.split("\n2. ")[0]
    assert "/brief [public] [topic]" in rest
    assert 'Top 1 story on "bike lanes"' in rest
    # against the same database, the digest has nothing new but /brief still answers
    again = cli(capsys, "run", "--db", db, stdin="/brief\n")
    assert "Nothing new since" in again.out
    assert "Latest 4 stories." in again.out


def test_summarize_prints_a_briefing(capsys: pytest.CaptureFixture[str]) -> None:
    run = cli(capsys, "summarize", SEED)
    assert run.code == 0, run.err
    assert "European Pravda" in run.out
    assert "security guarantees" in run.out
    assert run.out.count("\n   - ") >= 3


def test_summarize_jsonl_keeps_order_and_reports_bad_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    text = "The mayor opened the bridge on Monday. Traffic moved at once. Crowds cheered."
    source.write_text(
        "\n".join(
            [
                json.dumps({"id": "a", "article": text, "title": "Bridge opens"}),
                "{broken",
                json.dumps({"id": "c", "text": "no article key"}),
                json.dumps({"id": "d", "article": "Second story. It has two sentences."}),
            ]
        ),
        encoding="utf-8",
    )
    run = cli(capsys, "summarize", "--jsonl", str(source))
    assert run.code == 1
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert [r["id"] for r in rows] == ["a", "d"]
    assert set(rows[0]) == {"id", "headline", "bullets"}
    assert rows[0]["bullets"] and all(isinstance(b, str) for b in rows[0]["bullets"])
    assert "line 2" in run.err and "line 3" in run.err


def test_config_errors_exit_2_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[digest]\nmax_storys = 3\n", encoding="utf-8")
    run = cli(capsys, "articles", "--config", str(config))
    assert run.code == 2
    assert "digest.max_storys" in run.err


@pytest.mark.parametrize("command", ["ingest", "articles", "digest", "summarize", "run"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main([command, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "--db" in out and "--config" in out


def test_check_config_prints_effective_settings_with_secrets_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import tomllib

    config = tmp_path / "c.toml"
    config.write_text('[digest]\nmax_stories = 7\n[feeds]\nurls = ["https://e.org/rss"]\n', "utf-8")
    env = {"SLACK_BOT_TOKEN": "xoxb-top-secret", "SLACK_APP_TOKEN": "xapp-top-secret"}
    run = cli(capsys, "check-config", "--config", str(config), env=env)
    assert run.code == 0, run.err
    assert "top-secret" not in run.out + run.err
    assert "# SLACK_BOT_TOKEN: set (***)" in run.out
    assert "# `run` serves: slack" in run.out
    effective = tomllib.loads(run.out)
    assert effective["digest"]["max_stories"] == 7
    assert effective["feeds"]["urls"] == ["https://e.org/rss"]
    assert effective["fetch"]["allow_private"] is False


def test_check_config_names_every_bad_key_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[digest]\nmax_stories = "many"\n[log]\nformat = "xml"\n', "utf-8")
    run = cli(capsys, "check-config", "--config", str(config), env={"NEWSBRIEF_FETCH_TIMOUT": "1"})
    assert run.code == 2
    for key in ("digest.max_stories", "fetch.timout", "log.format"):
        assert key in run.err
    assert "3 bad setting(s)" in run.err
