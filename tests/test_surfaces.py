"""The command contract: every command of `SPECS` works the same through the console, Slack and
Discord (the real bolt app and discord.py client against loopback fakes), and no input, however
hostile, gets anything but a reply.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.slack.app import command_names
from bot.commands import SPECS
from bot.store import Store
from tests.surfaces import Surfaces, discord_text, slack_text

EPHEMERAL = 64
# One argument per command that a user would type, and a line of the core's reply to it.
EXAMPLES: dict[str, tuple[str, str]] = {
    "brief": ("bike lanes", 'Top 1 story on "bike lanes"'),
    "ask": ("Who is the CEO of Corvid?", "From 1 article:"),
    "subscribe": ("ftp://example.org/feed", "Give an http:// or https:// address."),
    "unsubscribe": ("7", "This channel does not follow 7."),
    "sources": ("", "This channel follows no feeds of its own"),
    "digest": ("07:30 Europe/Kyiv", "Daily digest set for 07:30 Europe/Kyiv."),
    "filter": ('"bike lanes" -sport', 'only stories that mention "bike lanes" and not sport'),
    "help": ("", "Commands:"),
}


@pytest.fixture
def surfaces(seeded_store: Store) -> Iterator[Surfaces]:
    with Surfaces(seeded_store) as running:
        yield running


def _options(name: str, text: str) -> dict[str, str | bool]:
    """Discord's options for `text`: all of it in the command's first parameter (the second,
    a digest's time zone, split off as a user would pick it)."""
    spec = next(s for s in SPECS if s.name == name)
    if not spec.params:
        return {}
    if not text:
        # Discord's client sends no command without its required options, and no empty one
        return {spec.params[0].name: "?"} if spec.params[0].required else {}
    if name == "digest" and " " in text:
        when, _, zone = text.partition(" ")
        return {"when": when, "timezone": zone}
    return {spec.params[0].name: text}


def _plain(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text).replace("\u200b", "")


def test_every_command_is_registered_on_every_surface(surfaces: Surfaces) -> None:
    assert set(EXAMPLES) == {spec.name for spec in SPECS}
    tree = surfaces.discord_adapter.tree
    registered = {c.name: c for c in tree.get_commands()}
    assert set(registered) == {spec.name for spec in SPECS}
    for spec in SPECS:
        options = [p.name for p in registered[spec.name].parameters]  # type: ignore[union-attr]
        wanted = [p.name for p in spec.params] + (["public"] if spec.shareable else [])
        assert sorted(options) == sorted(wanted), spec.name
    assert set(command_names("news-").values()) == {spec.name for spec in SPECS}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_command_answers_the_same_through_all_three(surfaces: Surfaces, name: str) -> None:
    text, expected = EXAMPLES[name]
    printed = surfaces.console(f"/{name} {text}")
    status, slack_bodies = surfaces.slack(name, text)
    discord_bodies = surfaces.discord(name, _options(name, text))
    assert expected in printed, printed
    assert status == 200 and expected in slack_text(slack_bodies), slack_bodies
    assert expected in _plain(discord_text(discord_bodies)), discord_bodies


def test_who_sees_the_answer_is_the_same_rule_everywhere(surfaces: Surfaces) -> None:
    # a read answers privately, unless shared; a change is announced; a refusal is private
    _, private = surfaces.slack("brief", "")
    _, shared = surfaces.slack("brief", "public bike lanes")
    _, announced = surfaces.slack("filter", "water")
    _, refused = surfaces.slack("digest", "25:00")
    assert [b[0]["response_type"] for b in (private, shared, announced, refused)] == [
        "ephemeral",
        "in_channel",
        "in_channel",
        "ephemeral",
    ]
    flags = [
        surfaces.discord("brief", {})[0]["data"].get("flags"),
        surfaces.discord("brief", {"topic": "bike lanes", "public": True})[0]["data"].get("flags"),
        surfaces.discord("filter", {"terms": "water"})[0]["data"].get("flags"),
        surfaces.discord("digest", {"when": "25:00"})[0]["data"].get("flags"),
    ]
    assert flags == [EPHEMERAL, None, None, EPHEMERAL]
    # the console takes "public" as Slack does: not as words to search for
    assert 'Top 1 story on "bike lanes"' in surfaces.console("/brief public bike lanes")


# Arbitrary input ------------------------------------------------------------------------------

HOSTILE = (
    st.text(max_size=80)
    | st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x3F), max_size=40)
    | st.text(alphabet=st.characters(categories=("Cs", "Cc", "Cf", "Co")), max_size=20)
    | st.integers(min_value=10**15, max_value=10**40).map(str)
    | st.sampled_from(["\x00", "\udcff", "\ud800x", "-", '"', '-"', "public", "now", "off"])
)


def _no_surrogates(text: str) -> str:
    # Slack's payloads are UTF-8: it cannot send a lone surrogate (Discord's JSON can)
    return re.sub("[\ud800-\udfff]", "", text)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from([s.name for s in SPECS]), text=HOSTILE)
def test_any_input_to_any_command_gets_a_reply_and_no_traceback(
    surfaces: Surfaces, caplog: pytest.LogCaptureFixture, name: str, text: str
) -> None:
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        began = time.monotonic()
        printed = surfaces.console(f"/{name} {text}")
        status, slack_bodies = surfaces.slack(name, _no_surrogates(text))
        discord_bodies = surfaces.discord(name, _options(name, text))
        took = time.monotonic() - began
    assert printed.strip() and "Traceback" not in printed
    assert status == 200 and slack_text(slack_bodies).strip()
    assert discord_text(discord_bodies).strip()
    failures = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not failures, [r.getMessage() for r in failures]
    for shown in (printed, slack_text(slack_bodies), discord_text(discord_bodies)):
        assert "Sorry, " not in shown, shown
    assert took < 10, took
