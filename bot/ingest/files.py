"""Local files -> Articles: the seed format, plain text or Markdown, and JSON / JSON Lines.

Formats:
    Seed: ``date 2025-08-17 Body starts here...`` with a ``Source: ..., as reported by Outlet``
    line somewhere below; labelled paragraphs (``Details:``) are kept for the summariser to clean.
    Plain text / Markdown: an optional title line (``# Title`` or a short line without final
    punctuation) and optional ``Source:``, ``Date:``, ``URL:`` lines, a blank line, the body.
    JSON / JSONL: objects with ``text`` (or ``article``/``content``) and optional ``title``,
    ``url``, ``published``, ``source``; a JSON file may hold one object or a list of them.

Example:
    for item in read_file(Path("seeds/000_277b181c6f234e33.txt")):
        ...  # an Article, or a SourceError for a bad record
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from bot.errors import SourceError
from bot.ingest.dates import plausible
from bot.ingest.urls import host_of
from bot.models import Article
from bot.text import clean_text

TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})
JSON_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson"})
SUPPORTED = TEXT_SUFFIXES | JSON_SUFFIXES
MAX_FILE_BYTES = 20_000_000

_SEED_DATE = re.compile(r"\A\s*date\s+(\d{4}-\d{2}-\d{2})\s+", re.IGNORECASE)
_SOURCE_LINE = re.compile(r"^\s*Source:\s*(.+?)\s*$", re.MULTILINE | re.IGNORECASE)
_REPORTED_BY = re.compile(r"\b(?:as\s+)?reported\s+by\s+(.+)$", re.IGNORECASE)
_HEADER = re.compile(r"^(title|source|date|published|url|link|author):\s*(.*)$", re.IGNORECASE)
_END_PUNCT = (".", "!", "?", '"', "”", ":", ";", ",")


def iter_files(path: Path) -> Iterator[Path]:
    """`path` itself, or the supported files below a directory, in name order.

    Hidden files and folders are passed over; other unsupported files in a directory are too
    (a folder of mixed files is normal), but a named unsupported file is read and refused.
    """
    if not path.is_dir():
        yield path
        return
    for child in sorted(path.rglob("*")):
        if any(part.startswith(".") for part in child.relative_to(path).parts):
            continue
        if child.is_file() and child.suffix.lower() in SUPPORTED:
            yield child


def read_file(path: Path, *, now: datetime | None = None) -> list[Article | SourceError]:
    """Read one file into Articles; a bad record or a bad file gives a SourceError in the list."""
    fetched_at = now or datetime.now(UTC)
    name = str(path)
    try:
        if not path.exists():
            return [SourceError(name, "no such file or directory")]
        if path.is_dir():
            return [SourceError(name, "is a directory")]
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [SourceError(name, f"file is {size // 1_000_000} MB, over the 20 MB limit")]
        data = path.read_bytes()
    except OSError as exc:
        return [SourceError(name, f"cannot read: {exc.strerror or exc}")]
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        return [SourceError(name, "not a .txt, .md, .json or .jsonl file")]
    try:
        text = decode(data, name)
    except SourceError as exc:
        return [exc]
    uri = path.resolve().as_uri()
    if suffix in JSON_SUFFIXES:
        return list(_read_json(text, uri, name, suffix, fetched_at))
    try:
        return [parse_text(text, uri, fetched_at=fetched_at)]
    except SourceError as exc:
        return [SourceError(name, exc.reason)]


def decode(data: bytes, name: str) -> str:
    """UTF-8 (with or without BOM), else Windows-1252; binary data is refused."""
    if b"\x00" in data[:8192]:
        raise SourceError(name, "binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        raise SourceError(name, "not UTF-8 text (and not Windows-1252 either)") from None


def parse_text(text: str, url: str, *, fetched_at: datetime) -> Article:
    """Parse the seed format or plain text / Markdown into an Article.

    Raises:
        SourceError: the file has no article text.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    seed = _SEED_DATE.match(text)
    if seed:
        return _parse_seed(text[seed.end() :], seed.group(1), url, fetched_at)
    return _parse_plain(text, url, fetched_at)


def _parse_seed(body: str, date: str, url: str, fetched_at: datetime) -> Article:
    source = ""
    match = _SOURCE_LINE.search(body)
    if match:
        source = _outlet(match.group(1))
        body = body[: match.start()] + body[match.end() :]
    body = _tidy(body)
    if not body:
        raise SourceError(url, "empty article: no text after the date line")
    return Article(
        url=url,
        title="",
        source=source,
        text=body,
        published=_parse_date(date, fetched_at),
        fetched_at=fetched_at,
    )


def _parse_plain(text: str, url: str, fetched_at: datetime) -> Article:
    lines = text.split("\n")
    title = ""
    meta: dict[str, str] = {}
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines):
        first = lines[i].strip()
        if first.startswith("#"):
            title = first.lstrip("#").strip()
            i += 1
        elif not _HEADER.match(first) and _looks_like_title(first, lines[i + 1 : i + 2]):
            title = first
            i += 1
    while i < len(lines) and title and not lines[i].strip():
        i += 1
    while i < len(lines):
        header = _HEADER.match(lines[i].strip())
        if not header:
            break
        meta[header.group(1).lower()] = header.group(2).strip()
        i += 1
    body = _tidy("\n".join(lines[i:]))
    if not body:
        raise SourceError(url, "empty article: no text")
    title = title or meta.get("title", "")
    link = meta.get("url") or meta.get("link") or url
    source = _outlet(meta["source"]) if meta.get("source") else _host_outlet(link)
    published = _parse_date(meta.get("published") or meta.get("date") or "", fetched_at)
    return Article(
        url=link,
        title=title,
        source=source,
        text=body,
        published=published,
        fetched_at=fetched_at,
    )


def _looks_like_title(line: str, following: list[str]) -> bool:
    """A short line without final punctuation, followed by a blank or a header line."""
    if len(line.split()) > 25 or line.endswith(_END_PUNCT):
        return False
    return not following or not following[0].strip() or bool(_HEADER.match(following[0].strip()))


def _read_json(
    text: str, uri: str, name: str, suffix: str, fetched_at: datetime
) -> Iterator[Article | SourceError]:
    records: list[tuple[str, Any]] = []
    if suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            yield SourceError(name, f"not valid JSON: {exc.msg} at line {exc.lineno}")
            return
        items = data if isinstance(data, list) else [data]
        records = [(f"item {n}", item) for n, item in enumerate(items, start=1)]
    else:
        for n, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                records.append((f"line {n}", json.loads(line)))
            except json.JSONDecodeError as exc:
                yield SourceError(f"{name} line {n}", f"not valid JSON: {exc.msg}")
    for where, record in records:
        try:
            yield _from_record(record, f"{uri}#{where.replace(' ', '-')}", fetched_at)
        except SourceError as exc:
            yield SourceError(f"{name} {where}", exc.reason)


def _from_record(record: Any, fallback_url: str, fetched_at: datetime) -> Article:
    if not isinstance(record, dict):
        raise SourceError(fallback_url, "not a JSON object")
    body = next(
        (record[k] for k in ("text", "article", "content") if isinstance(record.get(k), str)), ""
    )
    # JSON escapes can spell anything ("\u0000", a lone "\ud800"): none of it may be stored
    body = _tidy(clean_text(body))
    if not body:
        raise SourceError(fallback_url, "empty article: no `text`")
    url = clean_text(record["url"]).strip() if isinstance(record.get("url"), str) else None
    published = record.get("published") or record.get("date")
    return Article(
        url=url or fallback_url,
        title=clean_text(str(record.get("title") or ""), keep_newlines=False).strip(),
        source=clean_text(str(record.get("source") or ""), keep_newlines=False).strip()
        or _host_outlet(url or ""),
        text=body,
        published=_parse_date(published, fetched_at) if isinstance(published, str) else None,
        fetched_at=fetched_at,
        language=record.get("language") if isinstance(record.get("language"), str) else None,
    )


def _outlet(text: str) -> str:
    """The outlet from a source line: "X at a press conference, as reported by Y" -> "Y"."""
    reported = _REPORTED_BY.search(text)
    name = reported.group(1) if reported else text
    return name.strip().rstrip(".").strip()


def _host_outlet(link: str) -> str:
    """A web link's host names its outlet ("reuters.com") when nothing else does; a file has
    none ("": unknown, shown by its file name and counted as a report, not a source)."""
    return host_of(link) if link.lower().startswith(("http://", "https://")) else ""


def _tidy(text: str) -> str:
    """Trim lines, collapse runs of blank lines to one, strip the ends."""
    paragraphs = re.split(r"\n\s*\n", text)
    cleaned = (" ".join(p.split()) for p in paragraphs)
    return "\n\n".join(p for p in cleaned if p)


def _parse_date(value: str, fetched_at: datetime) -> datetime | None:
    """ISO 8601 or RFC 2822 to an aware UTC datetime; None when it cannot be read or is not
    believable (before 1990, or after tomorrow: see `bot.ingest.dates.plausible`)."""
    value = value.strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            moment = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
    return plausible(moment, fetched_at)
