"""Summarisers: `summarize` is the one entry point the digest, commands and adapters use."""

from bot.summarize.extractive import summarize

__all__ = ["summarize"]
