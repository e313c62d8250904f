"""Neutral digests, answers and replies as Discord messages, within Discord's limits.

Discord refuses (400) a message over its limits: 2,000 characters of content, 10 embeds, and per
embed a title of 256, a description of 4,096, 25 fields and a footer of 2,048, with at most 6,000
characters across all embeds of one message. Every embed made here fits alone, and
`split_embeds` packs them into as many messages as it takes.

Article text is cleaned at this edge: control characters go, every Markdown character is
escaped (masked links and bare ``https://`` links included: `discord.utils.escape_markdown`
leaves all but the first masked link of a string live), a link's label never names another
host than its link's, and mention syntax (``@everyone``, ``<@123>``, ``<@&456>``, ``<#789>``)
gets a zero-width space so it does not even look like a ping. The real guard is sending with
``AllowedMentions.none()``.

Example:
    for message in to_discord_messages(digest, ZoneInfo("Europe/Kyiv")):
        await channel.send(message.content or None, embeds=message.embeds,
                           allowed_mentions=discord.AllowedMentions.none())
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

import discord

from bot.commands import Reply
from bot.models import Answer, Bullet, Digest, Story
from bot.text import link_label, strip_control

# Discord's documented limits (discord-api-docs, "Embed Limits" and "Create Message").
MAX_CONTENT = 2000
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
MAX_TITLE = 256
MAX_DESCRIPTION = 4096
MAX_FIELDS = 25
MAX_FOOTER = 2048
MAX_URL = 2048
# Our own caps, below the limits, so several stories share a message and one long story never
# crowds the others out: any single story embed stays under ~2,600 characters.
STORY_DESCRIPTION = 2000
STORY_FOOTER = 300
MAX_OUTLET = 60  # an outlet's name before a story bullet: a feed chooses its own
ANSWER_COLOUR = discord.Colour.blurple()
_ELLIPSIS = "…"
_ZWSP = "\u200b"
MODEL_MARK = "✦"  # a bullet or answer a language model wrote (see `bot.summarize.llm`)

# Every character Discord's Markdown gives a meaning to, escaped with a backslash (which Discord
# hides before any punctuation); "://" too, so a bare address in feed text is no link.
_MARKDOWN = re.compile(r"([\\*_~`|\[\]()<>#-]|(?<=[A-Za-z]):(?=//))")
_MENTION = re.compile(r"@(everyone|here)|<(@[!&]?|#)(?=\d)", re.IGNORECASE)


@dataclass(slots=True)
class DiscordMessage:
    """One message to send: content (may be empty) and up to 10 embeds."""

    content: str = ""
    embeds: list[discord.Embed] = field(default_factory=list)

    @property
    def embed_chars(self) -> int:
        """Characters Discord counts toward its 6,000 limit across this message's embeds."""
        return sum(len(e) for e in self.embeds)


def escape_mentions(text: str) -> str:
    """Break mention syntax with a zero-width space: ``@everyone`` -> ``@\u200beveryone``.

    ``<@123>`` (user), ``<@!123>``, ``<@&456>`` (role) and ``<#789>`` (channel) become
    ``<\u200b@123>`` and so on, which Discord shows as plain text.
    """

    def fix(match: re.Match[str]) -> str:
        if match.group(1):
            return "@" + _ZWSP + match.group(1)
        return "<" + _ZWSP + match.group(2)

    return _MENTION.sub(fix, text)


def escape_markdown(text: str) -> str:
    """`text` with every Markdown character escaped: it shows as written, never formatted and
    never a link."""
    return _MARKDOWN.sub(r"\\\1", text)


def clean(text: str, *, markdown: bool = True, one_line: bool = False) -> str:
    """Text from an article or a user, safe to show: no controls, no pings, no Markdown.

    Args:
        markdown: escape Markdown (True for text shown where Discord renders it).
        one_line: collapse all whitespace (titles, footers).
    """
    text = strip_control(text)
    if one_line:
        text = " ".join(text.split())
    if markdown:
        text = escape_markdown(text)
    return escape_mentions(text)


def cut(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, with an ellipsis when it was longer."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - 1)].rstrip()
    # a trailing backslash would escape the ellipsis (harmless) or leave half an escape
    return head.rstrip("\\") + _ELLIPSIS


def _link(url: str) -> str | None:
    """A URL safe as an embed URL or inside ``[text](url)``, or None if not a web link."""
    if not url.lower().startswith(("http://", "https://")) or len(url) > MAX_URL:
        return None
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29").replace("<", "%3C")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _footer(story: Story) -> str:
    line = story.coverage
    if any(b.written for b in story.briefing.bullets):
        line += f" · {MODEL_MARK} written by a language model, checked against the articles"
    if story.update:
        line = "Update · " + line
    return cut(clean(line, markdown=False), STORY_FOOTER)


def _bullet(bullet: Bullet) -> str:
    """A bullet's text, after its outlet in bold when a story names one (both escaped, so a
    name cannot end the bold early, link anywhere or ping anyone)."""
    text = clean(bullet.text, one_line=True)
    if bullet.written:
        why = _link(bullet.why or "")
        text = f"{MODEL_MARK} {text}" + (f" ([why]({why}))" if why else "")
    if bullet.source:
        # cut before escaping, so the escapes neither use up the room nor get cut in half
        name = cut(" ".join(strip_control(bullet.source).split()), MAX_OUTLET)
        return f"**{clean(name, one_line=True)}:** {text}"
    return text


def _description(story: Story, limit: int) -> str:
    """Bullets, then links to the story's other articles, as far as `limit` allows."""
    lines = [f"• {_bullet(b)}" for b in story.briefing.bullets]
    text = cut("\n".join(lines), limit)
    others = []
    for article in story.articles[1:]:
        url = _link(article.url)
        if url:
            label = link_label(article.label, article.url)
            others.append(f"[{clean(label, one_line=True)}]({url})")
    if others:
        extra = "\nAlso: " + " · ".join(others)
        while others and len(text) + len(extra) > limit:
            others.pop()
            extra = "\nAlso: " + " · ".join(others) if others else ""
        text += extra
    return text


def story_embed(story: Story, *, description_limit: int = STORY_DESCRIPTION) -> discord.Embed:
    """One story: linked title, bullets, "N sources" footer, the lead's publication time.

    An update of a story sent before is titled "Updated: ..." and its footer starts "Update".
    """
    lead = story.lead
    headline = story.briefing.headline or lead.title or "(untitled)"
    if story.update:
        headline = "Updated: " + headline
    embed = discord.Embed(
        title=cut(clean(headline, one_line=True), MAX_TITLE),
        url=_link(lead.url),
        description=_description(story, min(description_limit, MAX_DESCRIPTION)) or None,
        timestamp=_aware(lead.published) if lead.published else None,
    )
    embed.set_footer(text=_footer(story))
    return embed


def to_discord_embeds(digest: Digest) -> list[discord.Embed]:
    """One embed per story of `digest`, each within every per-embed limit."""
    return [story_embed(story) for story in digest.stories]


def split_embeds(
    embeds: Sequence[discord.Embed],
    *,
    max_embeds: int = MAX_EMBEDS,
    max_chars: int = MAX_EMBED_TOTAL,
) -> list[list[discord.Embed]]:
    """Pack embeds, in order, into groups of at most `max_embeds` and `max_chars` characters.

    Raises:
        ValueError: if one embed alone is over `max_chars` (every embed made here fits).
    """
    groups: list[list[discord.Embed]] = []
    current: list[discord.Embed] = []
    size = 0
    for embed in embeds:
        length = len(embed)
        if length > max_chars:
            raise ValueError(f"embed of {length} characters cannot fit in a message")
        if current and (len(current) >= max_embeds or size + length > max_chars):
            groups.append(current)
            current, size = [], 0
        current.append(embed)
        size += length
    if current:
        groups.append(current)
    return groups


def to_discord_messages(digest: Digest, header: str | None = None) -> list[DiscordMessage]:
    """`digest` as one or more messages: the overview (or `header`) first, then story embeds.

    A digest too big for one message continues in further messages, each labelled
    "(continued, 2/3)" so a reader sees the parts belong together.
    """
    # the header may echo what a user typed (a /brief topic): escaped like feed text
    lead = clean(header if header is not None else digest.overview)
    groups = split_embeds(to_discord_embeds(digest)) or [[]]
    messages = []
    for n, group in enumerate(groups, start=1):
        content = cut(lead, MAX_CONTENT) if n == 1 else f"(continued, {n}/{len(groups)})"
        messages.append(DiscordMessage(content, group))
    return messages


def to_discord_answer(answer: Answer, tz: tzinfo | None = None) -> discord.Embed:
    """A cited answer: each quoted sentence with a link to its article, outlet and date."""
    zone = tz or ZoneInfo("UTC")
    lines: list[str] = []
    if answer.text:
        lines.append(f"{MODEL_MARK} {cut(clean(answer.text, one_line=True), 1500)}")
    used = sum(len(x) + 1 for x in lines)
    for n, cite in enumerate(answer.citations, start=1):
        url = _link(cite.url)
        label = link_label(cite.source or cite.title, cite.url) if url else cite.source
        name = clean(label or cite.title, one_line=True) or "source"
        where = f"[{name}]({url})" if url else name
        if cite.published:
            where += " · " + _aware(cite.published).astimezone(zone).strftime("%d %b %Y")
        line = f'{n}. "{cut(clean(cite.sentence, one_line=True), 1000)}" — {where}'
        if used + len(line) + 1 > MAX_DESCRIPTION:
            break  # a cut citation would lose its link; fewer whole ones read better
        lines.append(line)
        used += len(line) + 1
    return discord.Embed(
        title=cut(clean(answer.question, one_line=True), MAX_TITLE),
        description="\n".join(lines) or None,
        colour=ANSWER_COLOUR,
    )


def split_text(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Text in pieces of at most `limit` characters, broken at line ends where possible."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:
            if current:
                pieces.append(current)
                current = ""
            pieces.append(line[:limit])
            line = line[limit:]
        joined = f"{current}\n{line}" if current else line
        if len(joined) > limit:
            pieces.append(current)
            current = line
        else:
            current = joined
    if current or not pieces:
        pieces.append(current)
    return pieces


def _code_block(text: str) -> str:
    return "```\n" + text.replace("```", "`\u200b``") + "\n```"


def to_discord_reply(reply: Reply, tz: tzinfo | None = None) -> list[DiscordMessage]:
    """A command's reply as messages: text, plus story embeds or a cited answer."""
    if reply.digest is not None:
        return to_discord_messages(reply.digest, header=reply.text)
    # replies echo what users typed (a topic, a filter, an address): escaped like feed text
    text = clean(reply.text)
    if reply.answer is not None and reply.answer.answered:
        return [DiscordMessage(cut(text, MAX_CONTENT), [to_discord_answer(reply.answer, tz)])]
    if reply.text.startswith("Commands:\n"):
        # in a code block nothing is Markdown: the help text goes there as it is
        head, _, table = clean(reply.text, markdown=False).partition("\n")
        text = head + "\n" + _code_block(table)  # /help aligns its columns: keep them aligned
        if len(text) <= MAX_CONTENT:
            return [DiscordMessage(text)]
    return [DiscordMessage(piece) for piece in split_text(text)]


def all_embeds(messages: Iterable[DiscordMessage]) -> list[discord.Embed]:
    """Every embed of `messages`, in order (for tests and logging counts)."""
    return [e for m in messages for e in m.embeds]
