"""What each command is: its typed parameters, whether it only reads, who sees its answer.

The one list every surface is built from: the console and Slack parse a typed line against it,
Discord registers one slash command per spec with one option per parameter, `/help` lists it,
and the dispatcher decides from it what runs off the event loop and who sees a reply.

Example:
    spec = SPEC["brief"]
    [p.name for p in spec.params]     # ["topic"]
    spec.shareable                     # True: "/brief public ukraine" answers the channel
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a command.

    Attributes:
        name: the option's name (Discord shows it; lower-case, no spaces).
        description: one line for the platform's option hint (at most 100 characters).
        required: the command is refused without it.
        complete: what a platform may offer while it is typed: ``"sources"`` (the channel's
            subscriptions), ``"zones"`` (IANA time zones), ``"when"`` (now, off, a few
            times), or "" for nothing.
    """

    name: str
    description: str
    required: bool = False
    complete: str = ""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command.

    Attributes:
        name: the core name (``brief``); Slack may put a prefix before it.
        usage: the one-line usage shown with a bad argument.
        example: a command line that works.
        summary: what it does, for `/help` and the platforms' command lists.
        params: its parameters, in the order a typed line gives them; the last one takes the
            rest of the line.
        read_only: it changes nothing, so it runs on a worker thread, off the event loop.
        announces: a success is shown to the whole channel (a new source, a changed schedule or
            filter), since it changes what everyone there gets.
        shareable: the user may ask for the answer to be shown to the channel: ``public`` before
            the arguments of a typed line, or Discord's ``public`` option.
    """

    name: str
    usage: str
    example: str
    summary: str
    params: tuple[Param, ...] = ()
    read_only: bool = False
    announces: bool = False
    shareable: bool = False


SPECS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "brief",
        "/brief [public] [topic]",
        "/brief security guarantees",
        "the latest stories, or those on a topic",
        (Param("topic", "Words or a quoted phrase to look for"),),
        read_only=True,
        shareable=True,
    ),
    CommandSpec(
        "ask",
        "/ask [public] <question>",
        "/ask What does Zelenskyy say security guarantees are?",
        "an answer quoted from stored articles, with sources",
        (Param("question", "Your question", required=True),),
        read_only=True,
        shareable=True,
    ),
    CommandSpec(
        "subscribe",
        "/subscribe <feed-or-page-url>",
        "/subscribe https://example.org/rss.xml",
        "follow a feed in this channel",
        (Param("url", "A feed or page address", required=True),),
        announces=True,
    ),
    CommandSpec(
        "unsubscribe",
        "/unsubscribe <url|id>",
        "/unsubscribe 2",
        "stop following one",
        (
            Param(
                "source", "Its id from /sources, or its address", required=True, complete="sources"
            ),
        ),
        announces=True,
    ),
    CommandSpec("sources", "/sources", "/sources", "what this channel follows", read_only=True),
    CommandSpec(
        "digest",
        "/digest <HH:MM> [time zone] | now | off",
        "/digest 07:30 Europe/Kyiv",
        "show, set, send now or stop the daily digest",
        (
            Param("when", "A time like 07:30, or now, or off (empty: show)", complete="when"),
            Param("timezone", "A time zone like Europe/Kyiv", complete="zones"),
        ),
        announces=True,
    ),
    CommandSpec(
        "filter",
        '/filter <words, "quoted phrases", -excluded> | off',
        '/filter ukraine "central bank" -sport',
        "only stories matching one of them, and none of the excluded",
        (Param("terms", 'Words, "quoted phrases", -words to exclude, or off (empty: show)'),),
        announces=True,
    ),
    CommandSpec("help", "/help", "/help", "every command with an example", read_only=True),
)
SPEC: dict[str, CommandSpec] = {s.name: s for s in SPECS}
