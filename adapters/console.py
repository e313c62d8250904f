"""Terminal adapter: reads slash commands from standard input, prints replies and digests.

It is what runs when no chat tokens are configured. Each line is a `CommandRequest` parsed as
Slack's command text is (``/brief public ukraine`` shares the answer there, and means the same
here); the core's dispatcher runs it. At the end of input it returns, so
``printf '/help\\n' | python -m bot run`` answers and exits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from bot.commands import CommandRequest, Reply, from_line
from bot.delivery import OutgoingPart
from bot.errors import DeliveryError
from bot.models import Answer, Bullet, ChannelRef, Digest, Story
from bot.text import strip_control

PROMPT = "newsbrief> "
# An outlet name before a bullet is cut here: a feed's name is its own to choose.
MAX_OUTLET_CHARS = 60
# Marks a bullet (or answer) a language model wrote, so a reader can tell it from a quote.
MODEL_MARK = "✦"


def clean(text: str) -> str:
    """Article text must not move the cursor, clear the screen or retitle the terminal."""
    return strip_control(text)


def to_console_text(digest: Digest, tz: tzinfo | None = None) -> str:
    """A digest as plain text: the overview, then numbered stories with their bullets.

    An update of a story sent before reads ``N. Updated: <headline>`` and lists only what is
    new: its bullets and the outlets of its new reports.
    """
    lines = [clean(digest.overview)]
    for n, story in enumerate(digest.stories, start=1):
        lines.append("")
        lines.extend(_story_lines(n, story, tz or ZoneInfo("UTC")))
    return "\n".join(lines)


def _story_lines(n: int, story: Story, tz: tzinfo) -> list[str]:
    lead = story.lead
    headline = story.briefing.headline or lead.title or "(untitled)"
    meta = [story.coverage]
    if lead.published:
        meta.append(lead.published.astimezone(tz).strftime("%d %b %Y"))
    meta.append(lead.url)
    marker = "Updated: " if story.update else ""
    out = [f"{n}. {marker}{clean(headline)}", "   " + clean(" · ".join(meta))]
    out.extend(f"   - {_bullet(b)}" for b in story.briefing.bullets)
    if any(b.written for b in story.briefing.bullets):
        out.append(f"   {MODEL_MARK} written by a language model, each sentence checked against "
                   "the article")  # fmt: skip
    return out


def _bullet(bullet: Bullet) -> str:
    """A bullet's text, after the outlet it came from when a story names one."""
    text = clean(bullet.text)
    if bullet.written:
        text = f"{MODEL_MARK} {text}"
    if bullet.source:
        # one line: an outlet name with a line break must not start a line of its own
        return f"{' '.join(clean(bullet.source).split())[:MAX_OUTLET_CHARS]}: {text}"
    return text


def to_console_answer(answer: Answer, tz: tzinfo | None = None) -> str:
    """Each cited sentence in quotes, then its outlet, date and link."""
    lines = [f"{MODEL_MARK} {clean(answer.text)}", "Sources:"] if answer.text else []
    for n, cite in enumerate(answer.citations, start=1):
        meta = [cite.source]
        if cite.published:
            meta.append(cite.published.astimezone(tz or ZoneInfo("UTC")).strftime("%d %b %Y"))
        meta.append(cite.url)
        lines.append(f'{n}. "{clean(cite.sentence)}"')
        lines.append("   " + clean(" · ".join(meta)))
    return "\n".join(lines)


def to_console_reply(reply: Reply, tz: tzinfo | None = None) -> str:
    zone = tz or reply.zone
    if reply.digest is not None:
        return to_console_text(reply.digest, zone)
    text = clean(reply.text)
    if reply.answer is not None and reply.answer.answered:
        text += "\n" + to_console_answer(reply.answer, zone)
    return text


class ConsoleAdapter:
    """Serves commands typed in a terminal (or piped in) and prints digests there."""

    name = "console"

    def __init__(
        self,
        dispatch: Callable[[CommandRequest], Awaitable[Reply]],
        *,
        channel: ChannelRef,
        stdin: TextIO,
        stdout: TextIO,
        tz: tzinfo | None = None,
        interactive: bool = False,
    ) -> None:
        """Args:
        dispatch: runs a request (`bot.commands.Dispatcher.dispatch`).
        channel: the terminal's channel.
        tz: the zone of the dates in digests (replies carry their channel's own).
        """
        self._dispatch = dispatch
        self._channel = channel
        self._in = stdin
        self._out = stdout
        self._tz = tz
        self._interactive = interactive

    async def start(self) -> None:
        """Answer each line until the end of input."""
        while True:
            if self._interactive:
                self._write(PROMPT, end="")
            line = await asyncio.to_thread(self._in.readline)
            if not line:
                if self._interactive:
                    self._write("")
                return
            if not line.strip():
                continue
            reply = await self._dispatch(from_line(self._channel, line))
            self._write(to_console_reply(reply))
            self._write("")

    def render_parts(self, channel: ChannelRef, digest: Digest) -> list[dict[str, Any]]:
        """The whole digest as one block of text."""
        return [{"text": to_console_text(digest, self._tz)}]

    async def send_part(self, channel: ChannelRef, part: OutgoingPart) -> str:
        try:
            self._write(str(part.payload.get("text", "")) + "\n")
        except OSError as exc:
            # the terminal or pipe is gone: nothing was shown, the digest is retried later
            raise DeliveryError(
                "console", channel.channel, f"cannot write: {exc}", landed=False
            ) from None
        return f"console:{part.nonce}"

    async def post_notice(self, channel: ChannelRef, text: str) -> None:
        try:
            self._write(f"[newsbrief] {clean(text)}\n")
        except OSError as exc:
            raise DeliveryError("console", channel.channel, f"cannot write: {exc}") from None

    async def close(self) -> None:
        self._out.flush()

    def _write(self, text: str, end: str = "\n") -> None:
        self._out.write(text + end)
        self._out.flush()
