"""Neutral digests, answers and replies as Slack Block Kit messages, within Slack's limits.

Every piece of article text is mrkdwn-escaped here, at the edge: a feed that writes
``<!channel>`` or ``<@U123>`` must ping nobody, and every mrkdwn text object is ``verbatim`` so
Slack does not turn a bare ``@here`` or an address into a mention or a link either. A link's
label never names another host than its link's. A digest too big for one message becomes several;
the adapter posts the 2nd and later ones in the thread of the first.

Example:
    for message in to_slack_messages(digest, ZoneInfo("Europe/Kyiv")):
        await client.chat_postMessage(channel=channel_id, **message)
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, TypedDict
from zoneinfo import ZoneInfo

from bot.commands import Reply
from bot.models import Answer, Citation, Digest, Story
from bot.text import link_label, strip_control

Block = dict[str, Any]

# Documented Block Kit limits, and a practical total: Slack has refused messages near 13k
# characters in all, below the documented sums, so a message stays well under that.
MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_CONTEXT_CHARS = 2000
MAX_MESSAGE_CHARS = 11_000
MAX_FALLBACK_CHARS = 1000
MAX_HEADLINE_CHARS = 300
MAX_OUTLET_CHARS = 60  # an outlet's name before a story bullet: a feed chooses its own
_ELLIPSIS = "…"
MODEL_MARK = "✦"  # a bullet or answer a language model wrote (see `bot.summarize.llm`)


class SlackMessage(TypedDict):
    """The keyword arguments of one message: ``chat.postMessage``, ``ack`` or ``respond``."""

    text: str
    blocks: list[Block]


def escape_mrkdwn(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to (``&``, ``<``, ``>``).

    Control characters go too, so article text cannot break a message's layout.
    """
    cleaned = strip_control(text)
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Slack offers no escape for its formatting characters, so in feed text they become look-alikes:
# an article's "*" or "_" can then neither format a message nor end the bold around an outlet.
_FORMATTING = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})


def escape_feed_text(text: str) -> str:
    """Feed text for mrkdwn: `escape_mrkdwn`, then ``*``, ``_``, ``~`` and backticks as look-alikes.

    For text that came from a feed (titles, bullets, outlet names): it shows as written, never
    bold, italic, struck out or as code.
    """
    return escape_mrkdwn(text).translate(_FORMATTING)


def _fit(raw: str, room: int) -> str:
    """`raw` escaped, cut (before escaping, so no entity is split) to at most `room` chars."""
    escaped = escape_feed_text(raw)
    if len(escaped) <= room:
        return escaped
    cut = raw[: max(0, room - 1)]
    while True:
        escaped = escape_feed_text(cut).rstrip() + _ELLIPSIS
        if len(escaped) <= room or not cut:
            return escaped[:room]
        cut = cut[: len(cut) - max(1, len(escaped) - room)]


def _plain(text: str, limit: int) -> str:
    """Text for a ``plain_text`` object (no mrkdwn there, so nothing can ping), cut to `limit`."""
    cleaned = " ".join(strip_control(text).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1].rstrip() + _ELLIPSIS


def _link_url(url: str) -> str | None:
    """A URL safe inside ``<url|text>``, or None when it is not a web link Slack can open."""
    if not url.startswith(("http://", "https://")):
        return None
    safe = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E")
    return safe.replace("|", "%7C").replace(" ", "%20")


def _mrkdwn(text: str) -> dict[str, Any]:
    # verbatim: Slack leaves "@here", "#general" and bare addresses as text, not mentions
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _section(text: str) -> Block:
    return {"type": "section", "text": _mrkdwn(text)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _header(text: str) -> Block:
    return {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": _plain(text, MAX_HEADER_CHARS) or "News",
            "emoji": True,
        },
    }


def _date(moment: datetime | None, tz: tzinfo) -> str:
    if moment is None:
        return ""
    utc = moment.astimezone(UTC)
    if (utc.hour, utc.minute, utc.second, utc.microsecond) == (0, 0, 0, 0):
        # a source that gives only a date: it has no time to show, nor to move to a zone
        return utc.strftime("%d %b %Y")
    return moment.astimezone(tz).strftime("%d %b %Y %H:%M")


# Blocks of stories rendered lately, by the story object itself: /brief answers a burst from
# the same kept stories (`bot.commands.cache`), which need escaping and fitting only once.
_RENDERED_SIZE = 256
_rendered: OrderedDict[tuple[int, str], tuple[Story, list[Block]]] = OrderedDict()
_rendered_lock = threading.Lock()


def story_blocks(story: Story, tz: tzinfo) -> list[Block]:
    """One story: a section (linked headline, bullets), then a context line (sources, time).

    An update of a story sent before starts with "Updated:" and its context line with "Update".
    """
    key = (id(story), str(tz))
    with _rendered_lock:
        kept = _rendered.get(key)
        # the story is held with its blocks, so its id names no other story meanwhile
        if kept is not None and kept[0] is story:
            _rendered.move_to_end(key)
            return list(kept[1])
    blocks = _story_blocks(story, tz)
    with _rendered_lock:
        _rendered[key] = (story, blocks)
        while len(_rendered) > _RENDERED_SIZE:
            _rendered.popitem(last=False)
    return list(blocks)


def _story_blocks(story: Story, tz: tzinfo) -> list[Block]:
    lead = story.lead
    headline = _fit(story.briefing.headline or lead.title or "(untitled)", MAX_HEADLINE_CHARS)
    url = _link_url(lead.url)
    # a headline ending in an escaped entity inside a link is fine: Slack decodes it
    text = f"*<{url}|{headline}>*" if url else f"*{headline}*"
    if story.update:
        text = "*Updated:* " + text
    for bullet in story.briefing.bullets:
        line = "\n• "
        if bullet.source:
            # the outlet is bold, and `_fit` turns any "*" of its name into a look-alike, so a
            # name cannot end the bold early or make the bullet's text bold
            line += f"*{_fit(' '.join(bullet.source.split()), MAX_OUTLET_CHARS)}:* "
        why = _link_url(bullet.why or "") if bullet.written else None
        if bullet.written:
            line += f"{MODEL_MARK} "
        tail = f" _(<{why}|why>)_" if why else ""
        room = MAX_SECTION_CHARS - len(text) - len(line) - len(tail)
        if room < 20:
            break
        text += line + _fit(bullet.text, room) + tail
    meta = [story.coverage]
    if any(b.written for b in story.briefing.bullets):
        meta.append(f"{MODEL_MARK} written by a language model, checked against the articles")
    if story.update:
        meta.insert(0, "Update")
    if lead.published:
        meta.append(_date(lead.published, tz))
    return [_section(text), _context(_fit(" · ".join(meta), MAX_CONTEXT_CHARS))]


def citation_blocks(n: int, cite: Citation, tz: tzinfo) -> list[Block]:
    """One cited sentence as a quote, then its outlet (linked), date and title."""
    url = _link_url(cite.url)
    label = link_label(cite.source, cite.url) if url else cite.source
    source = escape_feed_text(label) or "source"
    meta = [f"<{url}|{source}>" if url else source]
    if cite.published:
        meta.append(_date(cite.published, tz))
    if cite.title:
        meta.append(_fit(cite.title, MAX_HEADLINE_CHARS))
    quote = _fit(cite.sentence, MAX_SECTION_CHARS - 20)
    return [_section(f"{n}. “{quote}”"), _context(" · ".join(meta)[:MAX_CONTEXT_CHARS])]


def _size(item: SlackMessage | Block) -> int:
    """Characters of `item` as JSON."""
    return len(json.dumps(item, ensure_ascii=False))


def _grown(size: int, count: int, added: Sequence[int]) -> int:
    """`_size` of a message of `size` characters and `count` blocks once blocks of `added`
    characters are appended: their own, and ", " between list items. Counted, not dumped
    again, so that packing many units costs one dump of each block, not of every message."""
    if not added:
        return size
    return size + sum(added) + 2 * (len(added) if count else len(added) - 1)


def _pack(
    head: list[Block], units: Sequence[list[Block]], fallback: str, label: str
) -> list[SlackMessage]:
    """Put `units` (groups of blocks kept together) into as few messages as the limits allow.

    The first message starts with `head`; each later one with a short "continued" context line.
    """
    first: SlackMessage = {
        "text": _fit(" ".join(fallback.split()), MAX_FALLBACK_CHARS),
        "blocks": list(head),
    }
    shown = escape_mrkdwn(label)
    messages = [first]
    size = _size(first)  # of the last message
    for unit in units:
        current = messages[-1]
        count = len(current["blocks"])
        added = [_size(block) for block in unit]
        grown = _grown(size, count, added)
        fits = count + len(unit) <= MAX_BLOCKS and grown <= MAX_MESSAGE_CHARS
        if fits or count <= (len(head) if current is first else 1):
            current["blocks"] = current["blocks"] + unit
            size = grown
            continue
        part = len(messages) + 1
        note = _context(f"_{shown}, continued (part {part})_")
        messages.append({"text": f"{shown} (continued, part {part})", "blocks": [note, *unit]})
        size = _size(messages[-1])
    return messages


def to_slack_messages(digest: Digest, tz: tzinfo | None = None) -> list[SlackMessage]:
    """A digest as one or more messages: a header and one section per story.

    Returns:
        The messages in order; the adapter posts the 2nd and later ones in the first's thread.
    """
    zone = tz or ZoneInfo("UTC")
    overview = digest.overview or "News digest"
    noun = "story" if len(digest.stories) == 1 else "stories"
    head = [
        _header(overview),
        _context(f"{len(digest.stories)} {noun} · {_date(digest.generated_at, zone)}"),
    ]
    if digest.empty:
        head.append(_section("No new stories since the last digest."))
    units = [story_blocks(story, zone) for story in digest.stories]
    headlines = "; ".join(
        ("Updated: " if s.update else "") + (s.briefing.headline or s.lead.title)
        for s in digest.stories[:3]
    )
    fallback = f"{overview} {headlines}"
    return _pack(head, units, fallback, _plain(overview, 60))


def to_slack_blocks(digest: Digest, tz: tzinfo | None = None) -> list[Block]:
    """The blocks of a digest's first message (see `to_slack_messages` for the rest)."""
    return to_slack_messages(digest, tz)[0]["blocks"]


def _text_units(text: str) -> list[list[Block]]:
    """Plain reply text as sections of at most 3,000 characters, split between lines."""
    units: list[list[Block]] = []
    chunk = ""
    for line in escape_mrkdwn(text).split("\n"):
        while len(line) > MAX_SECTION_CHARS:
            units.append([_section(line[:MAX_SECTION_CHARS])])
            line = line[MAX_SECTION_CHARS:]
        if chunk and len(chunk) + 1 + len(line) > MAX_SECTION_CHARS:
            units.append([_section(chunk)])
            chunk = ""
        chunk = f"{chunk}\n{line}" if chunk else line
    if chunk.strip():
        units.append([_section(chunk)])
    return units


def to_slack_answer(answer: Answer, lead: str, tz: tzinfo | None = None) -> list[SlackMessage]:
    """A cited answer: `lead` then each quoted sentence with its linked source."""
    zone = tz or ZoneInfo("UTC")
    units = [citation_blocks(n, c, zone) for n, c in enumerate(answer.citations, start=1)]
    head = [b for unit in _text_units(lead) for b in unit]
    if answer.text:
        written = _fit(answer.text, MAX_SECTION_CHARS - 10)
        head.append(_section(f"{MODEL_MARK} {written}"))
        head.append(_context("written by a language model from the sentences below"))
    fallback = lead + " " + " ".join(c.sentence for c in answer.citations[:2])
    return _pack(head, units, fallback, "Answer")


def to_slack_reply(reply: Reply, tz: tzinfo | None = None) -> list[SlackMessage]:
    """Any command reply as messages: a digest, a cited answer, or text."""
    if reply.digest is not None:
        return to_slack_messages(reply.digest, tz)
    if reply.answer is not None and reply.answer.answered:
        return to_slack_answer(reply.answer, reply.text, tz)
    units = _text_units(reply.text) or [[_section(" ")]]
    return _pack(units[0], units[1:], reply.text, "Reply")
