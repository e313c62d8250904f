"""Digest, /brief and search time at 10k and 100k stored articles, in one run, beside the old
way of building a digest (every candidate article read whole, every candidate story given its
briefing).

Run: ``.venv/bin/python benches/digest_100k.py [--sizes 10000,100000] [--rounds 7]
[--keep DIR]`` (about 2 minutes, most of it building the stores; ``--keep`` reuses them).

The stores are built in bulk (`benches/bulk_store.py`): articles of `benches/synthetic.py`, 2-6
outlets per event, each event one story, every article new to the channel. Each figure is the
median of alternating rounds (sizes and ways taken in turn, the order flipped every round), so
the load of other processes falls on all of them alike. The goal (issue 17): the digest at
100k within 1.2x of the one at 10k.
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

from benches.bulk_store import bulk_store
from bot import digest as digests
from bot.digest import CANDIDATE_LIMIT, build_digest, latest_stories
from bot.models import ChannelRef, Story
from bot.store import Store
from bot.store.search import words_match

GOAL_RATIO = 1.2
CHANNEL = ChannelRef("bench", "digest")
QUERIES = ("council", "council vote", "striking workers")


def old_digest(store: Store, now: datetime, shown: int = 10) -> tuple[list[Story], int]:
    """The digest as it was built before: every candidate read whole, grouped and ranked in
    Python, and every candidate story given its lead's briefing."""
    hidden = store.hidden_sources(CHANNEL, ())
    fresh = store.undelivered_articles(CHANNEL, limit=CANDIDATE_LIMIT, hidden=hidden)
    fresh += store.revised_articles(CHANNEL, limit=CANDIDATE_LIMIT, hidden=hidden)
    groups = digests._ranked(store, fresh, now=now)
    ranked, _ = digests._select(store, CHANNEL, groups, shown)
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
    stores: dict[int, tuple[Store, datetime]] = {}
    for n in sizes:
        start = time.perf_counter()
        stores[n] = bulk_store(folder / f"digest-{n}-{seed}.db", n, seed=seed)
        print(f"store of {n:,} articles ready in {time.perf_counter() - start:.0f} s")
    calls: dict[str, Callable[[], object]] = {}
    for n, (store, now) in stores.items():
        new = build_digest(store, CHANNEL, now=now)
        old, more = old_digest(store, now)
        same = [s.briefing for s in new.stories] == [s.briefing for s in old] and (
            f"({more} more not shown)" in new.overview
        )
        print(f"  {n:,}: {new.overview} (the old way: same stories and count: {same})")
        calls[f"digest {n}"] = lambda s=store, t=now: build_digest(s, CHANNEL, now=t)
        calls[f"old {n}"] = lambda s=store, t=now: old_digest(s, t)
        calls[f"brief {n}"] = lambda s=store, t=now: latest_stories(s, now=t)
        calls[f"brief topic {n}"] = lambda s=store, t=now: latest_stories(
            s, topic="council vote", now=t
        )
        for query in QUERIES:
            calls[f"search {query!r} {n}"] = lambda s=store, q=query: s.search_articles(q)
            calls[f"bare {query!r} {n}"] = lambda s=store, q=query: bare_search(s, q)
    medians = alternate(calls, rounds)
    ms = {name: seconds * 1000 for name, seconds in medians.items()}
    print(f"\nmedians of {rounds} alternating rounds, ms:")
    for n in sizes:
        print(
            f"  {n:>7,}: digest {ms[f'digest {n}']:7.1f} (old way {ms[f'old {n}']:7.1f})"
            f"  /brief {ms[f'brief {n}']:5.1f}  /brief topic {ms[f'brief topic {n}']:5.1f}"
        )
        for query in QUERIES:
            print(
                f"           search {query!r}: {ms[f'search {query!r} {n}']:5.1f}"
                f" (ranked ids from the index alone: {ms[f'bare {query!r} {n}']:5.1f})"
            )
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        ratio = ms[f"digest {large}"] / ms[f"digest {small}"]
        old_ratio = ms[f"old {large}"] / ms[f"old {small}"]
        print(
            f"\ndigest at {large:,} / at {small:,}: {ratio:.2f}x (the old way {old_ratio:.2f}x);"
            f" goal <= {GOAL_RATIO}x: {'met' if ratio <= GOAL_RATIO else 'NOT met'}"
        )


if __name__ == "__main__":
    main()
