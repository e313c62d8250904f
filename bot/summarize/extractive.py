"""Offline extractive summariser (placeholder: first sentences, replaced by issue 3)."""

from __future__ import annotations

import re

from bot.models import Briefing, Bullet

_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'“A-Z0-9])")


def summarize(text: str, title: str | None = None, *, max_bullets: int = 3) -> Briefing:
    """Return a headline and the first sentences of `text` as bullets."""
    sentences = [s.strip() for s in _SPLIT.split(" ".join(text.split())) if s.strip()]
    bullets = tuple(Bullet(s, (s,)) for s in sentences[:max_bullets])
    headline = (title or (sentences[0] if sentences else "")).strip()
    return Briefing(headline=" ".join(headline.split()[:15]), bullets=bullets)
