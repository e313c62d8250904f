"""Many distinct stories in a real store, fast: for digests long enough to need several parts.

Each article is its own story (none is grouped), stored with a briefing of a headline and
three bullets, so no summariser runs. About 780 characters a story: 100 stories make a digest
of 7 Slack messages (a top message and its thread) and 10 Discord messages.

Example:
    add_stories(store, 100)
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from bot.models import Article, Briefing, Bullet
from bot.store import Store

_PLACES = "Harbour Vale Mirren Ostby Calder Dunmore Elsfield Tarrow Keswin Brackley".split()
_THINGS = "ferry bridge school clinic library market tramline reservoir stadium museum".split()
_VERBS = "opens closes expands delays funds repairs reopens upgrades relocates audits".split()


def add_stories(
    store: Store, count: int, *, seed: int = 1, now: datetime | None = None, tag: str = ""
) -> list[int]:
    """Store `count` distinct articles, each with its briefing; returns their ids."""
    rng = random.Random(seed)
    moment = now or datetime.now(UTC)
    ids = []
    for n in range(count):
        place, thing, verb = rng.choice(_PLACES), rng.choice(_THINGS), rng.choice(_VERBS)
        amount = rng.randint(2, 900)
        title = f"{place} {verb} its {thing} ({tag}{seed}-{n})"
        bullets = (
            f"{place} {verb} its {thing} after a council vote on Monday; the works cost "
            f"{amount} thousand euros and take {amount % 11 + 2} months, officials said.",
            f"Residents of {place} asked for the {thing} project {n} in a petition signed by "
            f"{amount * 3} people last spring, and the council agreed to hear them again.",
            f"Opponents argued that the {thing} budget should go to housing; a public meeting "
            f"on report {tag}{seed}-{n} is due next week, with a vote in the autumn.",
        )
        text = " ".join(bullets) + f" Report {tag}{seed}-{n}."
        article, _ = store.add_article(
            Article(
                url=f"https://news.example/{tag}{seed}/{n}",
                title=title,
                source=f"Outlet {n % 7}",
                text=text,
                published=moment - timedelta(minutes=n),
                fetched_at=moment,
            ),
            Briefing(title, tuple(Bullet(b) for b in bullets)),
        )
        assert article.id is not None
        ids.append(article.id)
    return ids
