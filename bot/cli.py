"""Command line: ``python -m bot ingest|articles|digest|summarize|run``.

Examples:
    python -m bot ingest seeds/ https://example.org/feed.xml
    python -m bot articles --search ukraine
    python -m bot digest --dry-run
    python -m bot summarize seeds/000_277b181c6f234e33.txt
    python -m bot summarize --llm --jsonl articles.jsonl   # the [llm] model, checked
    python -m bot stats               # the model's tokens, cache hits, fallbacks per day
    python -m bot run seeds/          # console bot; reads commands from standard input
    python -m bot migrate --to postgresql://user:password@host/db   # SQLite into PostgreSQL

Exit codes: 0 success, 1 a source or record failed (the rest went on), 2 bad usage or config.

Each command imports what it runs inside the function that runs it (the store, the engine,
the fetch and chat libraries, even asyncio): ``--help`` and ``health``, which the container's
health check runs every 30 s, load none of them (tests/test_startup.py, benches/startup.py).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from zoneinfo import ZoneInfo

from bot import __version__, migrate
from bot.config import ENV_CONFIG_PATH, Settings, describe_settings, load_settings
from bot.errors import BriefingError, ConfigError, SourceError, StoreError, StoreFaultError
from bot.logs import configure_logging

if TYPE_CHECKING:
    from bot.models import Article
    from bot.store import Store
    from bot.summarize.llm import ModelWriter

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# str(bot.app.CONSOLE_CHANNEL), written out: bot.models alone costs ~15 ms of every start
CONSOLE = "console:terminal"

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, help="TOML config file (default: $NEWSBRIEF_CONFIG)")
    common.add_argument(
        "--db",
        help="SQLite database path or postgresql:// URL (overrides store.path and store.url)",
    )

    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="newsbrief: news briefings for Slack, Discord and the terminal.",
    )
    parser.add_argument("--version", action="version", version=f"newsbrief {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "ingest",
        parents=[common],
        help="store articles from files, folders, web pages and feeds",
        description="Read each source (a .txt/.md/.json/.jsonl file, a folder of them, a web "
        "page URL or an RSS/Atom feed URL) and store the articles that are new.",
    )
    p.add_argument("sources", nargs="+", metavar="PATH|URL|FEED")
    p.add_argument(
        "--allow-private",
        action="store_true",
        help="allow URLs on private or loopback addresses (as fetch.allow_private = true)",
    )

    p = sub.add_parser(
        "articles",
        parents=[common],
        help="list stored articles, newest first",
        description="List stored articles, newest first, or those matching --search.",
    )
    p.add_argument("--limit", type=int, default=20, help="how many to list (default 20)")
    p.add_argument("--search", default="", help="only articles matching these words")

    p = sub.add_parser(
        "digest",
        parents=[common],
        help="print a channel's digest of what it has not been sent",
        description="Print the digest of stories a channel has not been sent yet and record "
        "them as sent, so the next digest does not repeat them.",
    )
    p.add_argument(
        "--channel",
        default=CONSOLE,
        help=f"PLATFORM:CHANNEL (default {CONSOLE})",
    )
    p.add_argument("--dry-run", action="store_true", help="print it without recording it as sent")

    p = sub.add_parser(
        "summarize",
        parents=[common],
        help="print the briefing of an article file or URL",
        description="Summarise a file or web page for reading, or a JSON Lines file of "
        '{"id", "article", "title"?} objects into one JSON line each on standard output.',
    )
    p.add_argument("target", nargs="?", metavar="PATH|URL")
    p.add_argument("--jsonl", metavar="FILE", help="JSON Lines input ('-' for standard input)")
    p.add_argument(
        "--llm",
        action="store_true",
        help="write briefings with the [llm] model (NEWSBRIEF_LLM_BASE_URL, _MODEL, _API_KEY); "
        'every sentence is checked against the article; JSON lines gain "origin" and "rejected"',
    )
    p.add_argument("--allow-private", action="store_true", help=argparse.SUPPRESS)

    p = sub.add_parser(
        "stats",
        parents=[common],
        help="the language model's use per day: tokens, cache hits, fallbacks, rejections",
        description="Per day and model: requests, tokens, cache hits, briefings and answers "
        "the model wrote, extractive fallbacks, and model sentences the check rejected.",
    )
    p.add_argument("--days", type=int, default=14, help="how many days (default 14)")

    sub.add_parser(
        "check-config",
        parents=[common],
        help="validate the config file and environment; print the effective settings",
        description="Validate the config file and the environment, print the effective "
        "configuration with secrets masked, and exit 2 naming every bad key.",
    )

    p = sub.add_parser(
        "health",
        parents=[common],
        help="ask a running bot whether it is healthy (for a container HEALTHCHECK)",
        description="GET /readyz (or /healthz with --live) from the running bot's health "
        "server at health.host:health.port; exit 0 when it answers 200.",
    )
    p.add_argument("--live", action="store_true", help="only check that the process is alive")

    p = sub.add_parser(
        "run",
        parents=[common],
        help="run the bot (the console when no chat tokens are set)",
        description="Ingest the given sources, print the digest, then serve slash commands. "
        "With no chat tokens configured, commands are read from standard input, one a line.",
    )
    p.add_argument("sources", nargs="*", metavar="PATH|URL|FEED", help="ingest these first")

    migrate.add_parser(sub, common)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    env: dict[str, str] | None = None,
) -> int:
    """Run one CLI command; returns the exit code."""
    args = build_parser().parse_args(argv)
    out = stdout or sys.stdout
    environ = dict(os.environ) if env is None else env
    try:
        settings = _settings(args, environ)
    except ConfigError as exc:
        for key, message in exc.problems:
            print(f"config error: {key}: {message}", file=sys.stderr)
        if args.command == "check-config":
            print(f"{len(exc.problems)} bad setting(s); see config.example.toml", file=sys.stderr)
        return EXIT_USAGE
    configure_logging(settings)
    if args.command == "check-config":
        print(describe_settings(settings), file=out)
        return EXIT_OK
    if args.command == "health":
        return _health(settings, live=args.live, out=out)
    try:
        return _run(args, settings, stdin, out)
    except Exception as exc:
        # through the log format and its redaction, never a raw traceback with a token in it
        log.critical("newsbrief stopped: %s: %s", type(exc).__name__, exc, exc_info=True)
        return EXIT_FAILED


def store_target(settings: Settings, flag: str | None = None) -> str:
    """The database to open: the ``--db`` flag, else ``store.url`` (PostgreSQL, when set),
    else the SQLite file ``store.path``."""
    return flag or settings.store.url or settings.store.path


def _run(args: argparse.Namespace, settings: Settings, stdin: TextIO | None, out: TextIO) -> int:
    import asyncio

    from bot.store import open_store

    try:
        if args.command == "summarize" and not args.llm:
            return _summarize(args, settings, stdin or sys.stdin, out)
        if args.command == "migrate":
            return migrate.run(args, settings, out)
        with open_store(store_target(settings, args.db)) as store:
            if args.command == "ingest":
                return _ingest(args, settings, store, out)
            if args.command == "articles":
                return _articles(args, store, out)
            if args.command == "digest":
                return _digest(args, settings, store, out)
            if args.command == "summarize":
                return asyncio.run(_summarize_llm(args, settings, store, stdin or sys.stdin, out))
            if args.command == "stats":
                return _stats(args, store, out)
            from bot.app import platforms_configured, run_console, run_platforms

            # a bot that cannot save would claim, post and forget, or crash later: say so now
            store.check_writable()
            if platforms_configured(settings):
                return asyncio.run(run_platforms(settings, store, list(args.sources)))
            source = stdin or sys.stdin
            if isinstance(source, io.TextIOWrapper):
                # bytes that are not UTF-8 (a terminal in another encoding) become U+FFFD
                # instead of ending the console
                source.reconfigure(errors="replace")
            return asyncio.run(
                run_console(
                    settings,
                    store,
                    list(args.sources),
                    stdin=source,
                    stdout=out,
                    interactive=source.isatty(),
                )
            )
    except StoreFaultError as exc:
        print(f"error: cannot write to database {exc.path}: {exc.reason}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`... | head`): stop quietly, and keep the interpreter's final
        # flush of stdout from raising the same error again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED


def _health(settings: Settings, *, live: bool, out: TextIO) -> int:
    """GET the running bot's /readyz (or /healthz); 0 when it answers 2xx."""
    # http.client, not urllib.request: ~10 ms less of a start the container pays every 30 s,
    # and no HTTP_PROXY from the environment between us and our own loopback
    import http.client

    host = settings.health.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: ask it here
    path = "/healthz" if live else "/readyz"
    url = f"http://{host}:{settings.health.port}{path}"
    connection = http.client.HTTPConnection(host, settings.health.port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read(4096).decode("utf-8", "replace")
    except (http.client.HTTPException, OSError) as exc:
        print(f"unhealthy: no answer from {url} ({exc})", file=sys.stderr)
        return EXIT_FAILED
    finally:
        connection.close()
    print(body, file=out)
    if 200 <= response.status < 300:
        return EXIT_OK
    print(f"unhealthy: {url} answered {response.status}", file=sys.stderr)
    return EXIT_FAILED


def _settings(args: argparse.Namespace, env: dict[str, str]) -> Settings:
    path = args.config or (Path(env[ENV_CONFIG_PATH]) if env.get(ENV_CONFIG_PATH) else None)
    overrides: dict[str, Any] = {}
    if args.db:
        from bot.store import is_postgres

        if not is_postgres(args.db):
            overrides["store.path"] = args.db
    if getattr(args, "allow_private", False):
        overrides["fetch.allow_private"] = True
    if getattr(args, "llm", False):
        overrides["llm.enabled"] = True
    return load_settings(path, env, overrides)


def _progress(done: int, total: int, name: str) -> None:
    if total < 20:
        return
    if sys.stderr.isatty():
        sys.stderr.write(f"\r[{done}/{total}] {name[-60:]:<60}")
        if done == total:
            sys.stderr.write("\n")
    elif done == total or done % max(1, total // 10) == 0:
        sys.stderr.write(f"[{done}/{total}] {name}\n")
    sys.stderr.flush()


def _ingest(args: argparse.Namespace, settings: Settings, store: Store, out: TextIO) -> int:
    import asyncio

    from bot.app import ingest_sources

    result = asyncio.run(ingest_sources(settings, store, list(args.sources), _progress))
    for source, reason in result.failures:
        print(f"error: {source}: {reason}", file=sys.stderr)
    for source, note in result.notes:
        print(f"note: {source}: {note}", file=sys.stderr)
    for article in result.added:
        print(f"+ {_label(article)}  [{article.source}]", file=out)
    print(result.summary(), file=out)
    return EXIT_OK if result.ok else EXIT_FAILED


def _articles(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    limit = max(1, args.limit)
    if args.search:
        articles = store.search_articles(args.search, limit=limit)
    else:
        articles = store.recent_articles(limit)
    if not articles:
        print("No articles match." if args.search else "No articles stored yet.", file=out)
        return EXIT_OK
    briefings = store.get_briefings([a.id for a in articles if a.id is not None])
    for article in articles:
        when = article.published.strftime("%Y-%m-%d") if article.published else "----------"
        briefing = briefings.get(article.id or -1)
        headline = briefing.headline if briefing else ""
        print(
            f"{article.id:>5}  {when}  {article.source[:24]:<24}  "
            f"{(article.title or headline)[:80]}",
            file=out,
        )
    count = store.count_articles()
    total = f"{count} {'article' if count == 1 else 'articles'}"
    if args.search:
        shown = f"{len(articles)} {'article matches' if len(articles) == 1 else 'articles match'}"
        more = " (or more: raise --limit)" if len(articles) == limit else ""
        print(f"{shown}{more}; {total} stored.", file=out)
    else:
        print(f"{total} stored.", file=out)
    return EXIT_OK


def _digest(args: argparse.Namespace, settings: Settings, store: Store, out: TextIO) -> int:
    from adapters.console import to_console_text
    from bot.digest import mark_delivered
    from bot.engine import Engine
    from bot.models import ChannelRef

    platform, sep, channel = args.channel.partition(":")
    if not sep or not platform or not channel:
        print("error: --channel takes PLATFORM:CHANNEL, e.g. slack:C0123", file=sys.stderr)
        return EXIT_USAGE
    target = ChannelRef(platform, channel)
    digests = Engine(store, settings).digests
    # the settings applied once, by the digest service (the channel's shared feeds included)
    digest = digests.build(target)
    print(to_console_text(digest, digests.view(target).zone), file=out)
    if not args.dry_run:
        mark_delivered(store, target, digest)
    return EXIT_OK


def _summarize(args: argparse.Namespace, settings: Settings, stdin: TextIO, out: TextIO) -> int:
    if args.jsonl:
        return _summarize_jsonl(args.jsonl, stdin, out)
    if not args.target:
        print("usage: python -m bot summarize PATH|URL  or  --jsonl FILE", file=sys.stderr)
        return EXIT_USAGE
    import asyncio

    from adapters.console import to_console_text
    from bot.models import Digest, Story
    from bot.summarize import summarize

    items = asyncio.run(_read_target(args.target, settings))
    failed = False
    for item in items:
        if isinstance(item, SourceError):
            print(f"error: {item.url}: {item.reason}", file=sys.stderr)
            failed = True
            continue
        briefing = summarize(item.text, item.title or None, language=item.language)
        story = Story(articles=(item,), briefing=briefing)
        digest = Digest(stories=(story,), generated_at=datetime.now(UTC), overview="")
        print(to_console_text(digest, _tz(settings)).lstrip("\n").removeprefix("1. "), file=out)
        print(file=out)
    return EXIT_FAILED if failed else EXIT_OK


def _summarize_jsonl(name: str, stdin: TextIO, out: TextIO) -> int:
    from bot.summarize import summarize

    try:
        stream = stdin if name == "-" else open(name, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        print(f"error: {name}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    failed = False
    with stream:
        for n, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("article"), str):
                    raise ValueError('needs an object with a string "article"')
                title = row.get("title") if isinstance(row.get("title"), str) else None
                language = row.get("language") if isinstance(row.get("language"), str) else None
                briefing = summarize(row["article"], title, language=language)
            except (ValueError, BriefingError) as exc:
                print(f"error: {name} line {n}: {exc}", file=sys.stderr)
                failed = True
                continue
            record = {
                "id": row.get("id"),
                "headline": briefing.headline,
                "bullets": [b.text for b in briefing.bullets],
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return EXIT_FAILED if failed else EXIT_OK


async def _summarize_llm(
    args: argparse.Namespace, settings: Settings, store: Store, stdin: TextIO, out: TextIO
) -> int:
    """`summarize --llm`: each briefing written by the model and checked, or extractive."""
    from bot.summarize.llm import ModelWriter

    writer = ModelWriter.from_settings(settings, store)
    assert writer is not None  # --llm turned it on, and the settings were validated
    try:
        if args.jsonl:
            return await _llm_jsonl(args.jsonl, writer, stdin, out)
        if not args.target:
            usage = "usage: python -m bot summarize --llm PATH|URL  or  --jsonl FILE"
            print(usage, file=sys.stderr)
            return EXIT_USAGE
        return await _llm_target(args.target, writer, settings, out)
    finally:
        await writer.close()


async def _read_target(target: str, settings: Settings) -> list[Article | SourceError]:
    """The articles `summarize` briefs: a fetched page, or a file's or folder's articles; a
    source that cannot be read comes back as its error."""
    from bot.app import fetch_policy
    from bot.ingest import files, web
    from bot.ingest.pipeline import is_url

    try:
        if is_url(target):
            return [await web.fetch_page(target, fetch_policy(settings))]
        return [i for p in files.iter_files(Path(target)) for i in files.read_file(p)]
    except SourceError as exc:
        return [exc]


async def _llm_target(target: str, writer: ModelWriter, settings: Settings, out: TextIO) -> int:
    from adapters.console import to_console_text
    from bot.models import Digest, Story
    from bot.summarize import summarize

    items = await _read_target(target, settings)
    failed = False
    for item in items:
        if isinstance(item, SourceError):
            print(f"error: {item.url}: {item.reason}", file=sys.stderr)
            failed = True
            continue
        extract = summarize(item.text, item.title or None, language=item.language)
        written = await writer.brief_article(item, extract)
        story = Story(articles=(item,), briefing=written.briefing)
        digest = Digest(stories=(story,), generated_at=datetime.now(UTC), overview="")
        print(to_console_text(digest, _tz(settings)).lstrip("\n").removeprefix("1. "), file=out)
        if written.origin == "model":
            note = f"model: {settings.llm.model}"
        else:
            note = f"extractive: {written.fallback or 'the model was not used'}"
        print(f"   ({note})", file=out)
        for rejected in written.rejected:
            print(f"   rejected: “{rejected.text}” ({rejected.reason})", file=out)
        print(file=out)
    return EXIT_FAILED if failed else EXIT_OK


async def _llm_jsonl(name: str, writer: ModelWriter, stdin: TextIO, out: TextIO) -> int:
    import asyncio

    from bot.models import Article
    from bot.summarize import summarize

    try:
        stream = stdin if name == "-" else open(name, encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        print(f"error: {name}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    rows: list[tuple[int, dict[str, Any]]] = []
    failed = False
    with stream:
        for n, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("article"), str):
                    raise ValueError('needs an object with a string "article"')
            except ValueError as exc:
                print(f"error: {name} line {n}: {exc}", file=sys.stderr)
                failed = True
                continue
            rows.append((n, row))

    async def one(n: int, row: dict[str, Any]) -> dict[str, Any]:
        title = row.get("title") if isinstance(row.get("title"), str) else None
        language = row.get("language") if isinstance(row.get("language"), str) else None
        article = Article(
            url=str(row.get("url") or f"jsonl:{n}"),
            title=title or "",
            source=str(row.get("source") or ""),
            text=row["article"],
            published=None,
            fetched_at=datetime.now(UTC),
            language=language,
        )
        extract = summarize(article.text, title, language=language)
        written = await writer.brief_article(article, extract)
        return {
            "id": row.get("id"),
            "headline": written.briefing.headline,
            "bullets": [b.text for b in written.briefing.bullets],
            "origin": written.origin,
            "rejected": [{"text": r.text, "reason": r.reason} for r in written.rejected],
        }

    # every row at once: the client keeps to [llm] max_concurrency; lines come out in order
    records = await asyncio.gather(*(one(n, row) for n, row in rows))
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return EXIT_FAILED if failed else EXIT_OK


def _stats(args: argparse.Namespace, store: Store, out: TextIO) -> int:
    rows = store.llm_usage(args.days)
    if not rows:
        print("No model use recorded (see [llm] in config.example.toml).", file=out)
        return EXIT_OK
    head = ("day", "model", "requests", "tokens", "cache hits", "written", "fallbacks", "rejected")
    table = [head]
    for row in rows:
        tokens = int(row["prompt_tokens"]) + int(row["completion_tokens"])
        table.append(
            (
                row["day"],
                row["model"],
                str(row["requests"]),
                f"{tokens} ({row['prompt_tokens']}+{row['completion_tokens']})",
                str(row["cache_hits"]),
                str(row["written"]),
                str(row["fallbacks"]),
                str(row["rejected"]),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(head))]
    for r in table:
        cells = (cell.ljust(w) for cell, w in zip(r, widths, strict=True))
        print("  ".join(cells).rstrip(), file=out)
    print(
        "written: briefings and answers the model wrote that passed the check; fallbacks: "
        "items that were extractive instead; rejected: model sentences the check removed.",
        file=out,
    )
    return EXIT_OK


def _label(article: Article) -> str:
    return article.title or article.text[:70].replace("\n", " ") + "..."


def _tz(settings: Settings) -> ZoneInfo:
    return ZoneInfo(settings.digest.timezone)
