"""Slack adapter: a slack_bolt `AsyncApp` serving the commands, and Block Kit rendering.

Only the composition root imports this package, lazily, when Slack is configured.
"""

from __future__ import annotations

from adapters.slack.app import SlackAdapter
from adapters.slack.render import (
    SlackMessage,
    escape_mrkdwn,
    to_slack_blocks,
    to_slack_messages,
    to_slack_reply,
)

__all__ = [
    "SlackAdapter",
    "SlackMessage",
    "escape_mrkdwn",
    "to_slack_blocks",
    "to_slack_messages",
    "to_slack_reply",
]
