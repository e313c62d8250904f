"""Digest, /brief and search time at 10k and 100k stored articles, in one run, beside the old
way of building a digest (every candidate article read whole, every candidate story given its
briefing).

Run: ``.venv/bin/python benches/digest_100k.py [--sizes 10000,100000] [--rounds 7]
[--keep DIR]`` (about 2 minutes, most of it building the stores; ``--keep`` reuses them).

The stores are built in bulk (`benches/bulk_store.py`): articles of `benches/synthetic.py`, 2-6
outlets per event, each event one story, spread over a year, every article new to the
channel. A new channel's digest offers the articles of the last day (`bot.digest.LOOKBACK`);
beside it, a channel whose last digest came before the first article stored, whose window
holds every article, up to `CANDIDATE_LIMIT`. Each figure is the median of alternating rounds
(sizes and ways taken in turn, the order flipped every round), so the load of other processes
falls on all of them alike. The goal (issue 17): the digest at 100k within 1.2x of the one at
10k.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.bulk_store import bulk_store, whole_window
from bot import digest as digests
from bot.digest import CANDIDATE_LIMIT, build_digest, latest_stories, window_start
from bot.models import ChannelRef, Story
from bot.store import Store
from bot.store.search import words_match

GOAL_RATIO = 1.2
CHANNEL = ChannelRef("bench", "digest")
BACK = ChannelRef("bench", "back")
HISTORY = "{large:,} over {years} years"
WAYS = {
    CHANNEL: "a new channel (the last day)",
    BACK: "a channel back after a year (every article, up to the limit)",
}
QUERIES = ("council", "council vote", "striking workers")


def old_digest(
    store: Store, now: datetime, shown: int = 10, channel: ChannelRef = CHANNEL
) -> tuple[list[Story], int]:
    """The digest as it was built before: every candidate read whole, grouped and ranked in
    Python, and every candidate story given its lead's briefing."""
    hidden = store.hidden_sources(channel, ())
    window = window_start(store.last_delivery(channel), now)
    fresh = store.undelivered_articles(
        channel, limit=CANDIDATE_LIMIT, hidden=hidden, fetched_since=window
    )
    fresh += store.revised_articles(channel, limit=CANDIDATE_LIMIT, hidden=hidden)
    groups = digests._ranked(store, fresh, now=now)
    ranked, _ = digests._select(store, channel, groups, shown)
    return ranked[:shown], len(ranked) - min(shown, len(ranked))


def bare_search(store: Store, query: str, limit: int = 20) -> list[int]:
    """The ids FTS5 ranks best, from the index alone: the floor of a search."""
    from bot.store.search import fts5_expression, normalize

    rows = store.db.execute(
        "SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?"
        " ORDER BY bm25(articles_fts, 5.0, 1.0), rowid LIMIT ?",
        (fts5_expression(normalize(words_match(query))), limit),
    ).fetchall()
    return [int(r[0]) for r in rows]


def alternate(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each call over `rounds`, the order flipped every round."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for r in range(rounds):
        for name in names if r % 2 == 0 else reversed(names):
            start = time.perf_counter()
            calls[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="a folder to keep the stores in")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        run(folder, sizes, args.rounds, args.seed)


def run(folder: Path, sizes: list[int], rounds: int, seed: int) -> None:
    small, large = sizes[0], sizes[-1]
    stores: dict[str, tuple[Store, datetime]] = {}
    plans = [(f"{n:,}", n, None) for n in sizes]
    if len(sizes) >= 2:
        # the same newest year as the small store, and years of history before it
        plans.append((HISTORY.format(large=large, years=large // small), large, small))
    for label, n, per_year in plans:
        start = time.perf_counter()
        name = f"digest-{n}-{seed}" + (f"-{per_year}-a-year" if per_year else "")
        stores[label] = bulk_store(folder / f"{name}.db", n, seed=seed, per_year=per_year)
        print(f"store of {label} articles ready in {time.perf_counter() - start:.0f} s")
    calls: dict[str, Callable[[], object]] = {}
    reports: dict[str, int] = {}
    for label, (store, now) in stores.items():
        whole_window(store, BACK)
        for channel in (CHANNEL, BACK):
            new = build_digest(store, channel, now=now)
            old, more = old_digest(store, now, channel=channel)
            same = [s.briefing for s in new.stories] == [s.briefing for s in old] and (
                f"({more} more not shown)" in new.overview
            )
            shown = sum(len(s.articles) for s in new.stories)
            print(
                f"  {label}, {WAYS[channel]}: {new.overview} {shown} reports shown"
                f" (the old way: same stories and count: {same})"
            )
            if channel == CHANNEL:
                reports[label] = shown
        calls[f"digest {label}"] = lambda s=store, t=now: build_digest(s, CHANNEL, now=t)
        calls[f"old {label}"] = lambda s=store, t=now: old_digest(s, t)
        calls[f"back {label}"] = lambda s=store, t=now: build_digest(s, BACK, now=t)
        calls[f"old back {label}"] = lambda s=store, t=now: old_digest(s, t, channel=BACK)
        calls[f"brief {label}"] = lambda s=store, t=now: latest_stories(s, now=t)
        calls[f"brief topic {label}"] = lambda s=store, t=now: latest_stories(
            s, topic="council vote", now=t
        )
        for query in QUERIES:
            calls[f"search {query!r} {label}"] = lambda s=store, q=query: s.search_articles(q)
            calls[f"bare {query!r} {label}"] = lambda s=store, q=query: bare_search(s, q)
    medians = alternate(calls, rounds)
    ms = {name: seconds * 1000 for name, seconds in medians.items()}
    print(f"\nmedians of {rounds} alternating rounds, ms:")
    for label in stores:
        print(
            f"  {label}: digest {ms[f'digest {label}']:.1f} (old way {ms[f'old {label}']:.1f})"
            f", back after a year {ms[f'back {label}']:.1f}"
            f" (old way {ms[f'old back {label}']:.1f})"
        )
        print(
            f"      /brief {ms[f'brief {label}']:5.1f}"
            f"  /brief topic {ms[f'brief topic {label}']:5.1f}"
        )
        for query in QUERIES:
            print(
                f"      search {query!r}: {ms[f'search {query!r} {label}']:5.1f}"
                f" (ranked ids from the index alone: {ms[f'bare {query!r} {label}']:5.1f})"
            )
    if len(sizes) < 2:
        return
    base = f"{small:,}"
    history = HISTORY.format(large=large, years=large // small)
    print()
    for label, what in ((history, "stored"), (f"{large:,}", "at the news of a day times ten")):
        ratio = ms[f"digest {label}"] / ms[f"digest {base}"]
        old_ratio = ms[f"old {label}"] / ms[f"old {base}"]
        verdict = ""
        if what == "stored":
            verdict = f"; goal <= {GOAL_RATIO}x: {'met' if ratio <= GOAL_RATIO else 'NOT met'}"
        print(
            f"digest at {large:,} {what} / at {base}: {ratio:.2f}x (the old way"
            f" {old_ratio:.2f}x), {reports[label]} vs {reports[base]} reports shown{verdict}"
        )
    for label in (history, f"{large:,}"):
        back = ms[f"back {label}"] / ms[f"back {base}"]
        old_back = ms[f"old back {label}"] / ms[f"old back {base}"]
        print(
            f"a channel back after a year, {label} / {base}: {back:.2f}x"
            f" (the old way {old_back:.2f}x): its window holds"
            f" {min(large, CANDIDATE_LIMIT) / min(small, CANDIDATE_LIMIT):.0f}x the articles"
        )


if __name__ == "__main__":
    main()
