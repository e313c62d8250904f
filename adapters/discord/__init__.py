"""Discord adapter: a discord.py client with slash commands, and `to_discord_embeds`.

Import it as a package (``from adapters.discord import DiscordAdapter``); never run a file in
here as a script, or this package would shadow the real `discord` module.
"""

from __future__ import annotations

from adapters.discord.app import DiscordAdapter
from adapters.discord.render import (
    DiscordMessage,
    escape_mentions,
    split_embeds,
    to_discord_answer,
    to_discord_embeds,
    to_discord_messages,
    to_discord_reply,
)

__all__ = [
    "DiscordAdapter",
    "DiscordMessage",
    "escape_mentions",
    "split_embeds",
    "to_discord_answer",
    "to_discord_embeds",
    "to_discord_messages",
    "to_discord_reply",
]
