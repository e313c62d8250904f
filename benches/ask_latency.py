"""`/ask` latency and memory over a large store: p50/p95/max per question and peak RSS.

Builds a temporary SQLite store with N synthetic articles (`benches/synthetic.py`, default
100,000) plus the seeds, then asks ~200 questions -- answerable ones made from stored facts and
ones the articles cannot answer -- twice: cold (empty caches, right after the load) and warm.
Goals: p95 under 200 ms, peak RSS under 300 MB.

Run: ``.venv/bin/python benches/ask_latency.py [--articles 10000] [--db path.db]``
(``--db`` keeps the database and reuses it on the next run instead of generating again).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.synthetic import Event, event_id, make_reports
from bot.ask import answer_question
from bot.ingest.files import iter_files, read_file
from bot.models import Answer, Article
from bot.store import Store, content_hash
from bot.store.search import tokenize, tsvector_literal

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
GOAL_P95_MS = 200.0
GOAL_RSS_MB = 300.0
_BATCH = 2_000  # rows per transaction: one commit per article would dominate the load time

_UNANSWERABLE = (
    "What is the capital of Mongolia?",
    "What did the Ulaanbaatar council approve?",
    "Who is the chief executive of Zorblax Dynamics?",
    "How much rain fell in Timbuktu?",
    "What does Kim Jong Un say about quantum computing?",
    "When will the Atlantis tram line open?",
    "What did the pope say about cryptocurrency?",
    "How many penguins live in Antarctica?",
    "What is the boiling point of mercury?",
    "Who won the 1966 World Cup final?",
)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None


STORY_BASE = 10_000_000
"""Story id of an event's reports: ``STORY_BASE + event id``, clear of article ids, so that
digests group an event's reports as `bot.cluster` would, without grouping 100k articles."""


def insert_articles(store: Store, batch: list[tuple[Event, Article]]) -> None:
    """What `Store.add_article` does, for many rows in one transaction, on either backend.

    On SQLite FTS5's trigger indexes the rows; on PostgreSQL the tsvector and token count are
    made here as `TsvectorSearch._index_article` makes them, in the same INSERT.
    """
    rows: list[tuple[object, ...]] = []
    for event, a in batch:
        row: tuple[object, ...] = (
            a.url,
            content_hash(a.text),
            a.title,
            a.source,
            a.text,
            _iso(a.published),
            _iso(a.fetched_at),
            a.language,
            STORY_BASE + event.id,
        )
        if store.db.dialect == "postgres":
            title, text = tokenize(a.title, a.text)
            row += (tsvector_literal(title, text), len(title) + len(text))
        rows.append(row)
    columns = "url, content_hash, title, source, text, published, fetched_at, language, story_id"
    values = "?, ?, ?, ?, ?, ?, ?, ?, ?"
    if store.db.dialect == "postgres":
        columns += ", tsv, ntokens"
        values += ", ?::tsvector, ?"
    with store.transaction() as conn:
        conn.executemany(
            f"INSERT INTO articles ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING", rows
        )


class _Sampler:
    """Reservoir sample of events: questions about the whole store, not only its start."""

    def __init__(self, size: int, seed: int) -> None:
        self.rng = random.Random(seed + 1)
        self.size = size
        self.events: list[Event] = []
        self.seen = 0
        self.last = -1

    def offer(self, event: Event) -> None:
        if event.id == self.last:
            return
        self.last = event.id
        self.seen += 1
        if len(self.events) < self.size:
            self.events.append(event)
        elif (k := self.rng.randrange(self.seen)) < self.size:
            self.events[k] = event


def load(
    stores: Sequence[Store], n: int, seed: int, *, write: bool = True
) -> tuple[list[Event], list[float]]:
    """Store `n` synthetic articles and the seeds in each of `stores` (unless not `write`).

    One generation feeds every store batch by batch, so each gets the same articles.

    Returns:
        The sampled events (for questions), and the seconds each store spent storing.
    """
    sampler = _Sampler(150, seed)
    spent = [0.0] * len(stores)
    batch: list[tuple[Event, Article]] = []

    def flush() -> None:
        for index, store in enumerate(stores):
            start = time.perf_counter()
            insert_articles(store, batch)
            spent[index] += time.perf_counter() - start
        batch.clear()

    for event, article in make_reports(n, seed=seed):
        sampler.offer(event)
        if not write:
            continue
        batch.append((event, article))
        if len(batch) >= _BATCH:
            flush()
    if not write:
        return sampler.events, spent
    if batch:
        flush()
    seeds = [
        item for path in iter_files(SEEDS) for item in read_file(path) if isinstance(item, Article)
    ]
    for index, store in enumerate(stores):
        start = time.perf_counter()
        for article in seeds:
            store.add_article(article)
        spent[index] += time.perf_counter() - start
    return sampler.events, spent


def questions(events: list[Event], seed: int) -> tuple[list[tuple[str, Event | None]], int]:
    """About 200 questions: facts of sampled events, seed questions and unanswerable ones."""
    rng = random.Random(seed)
    asked: list[tuple[str, Event | None]] = []
    for event in events:
        question, _ = rng.choice(event.facts)
        asked.append((question, event))
    asked.append(("What does Zelenskyy say security guarantees are?", None))
    asked.append(("What did the Riverton council approve?", None))
    answerable = len(asked)
    for _ in range(5):
        asked.extend((q, None) for q in _UNANSWERABLE)
    return asked, answerable


def event_id_of_url(url: str) -> int | None:
    return event_id(Article(url, "", "", "", None, datetime.now(UTC)))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def ask_all(
    store: Store, asked: list[tuple[str, Event | None]]
) -> tuple[list[float], list[Answer]]:
    times: list[float] = []
    answers: list[Answer] = []
    for question, _ in asked:
        start = time.perf_counter()
        answers.append(answer_question(store, question))
        times.append((time.perf_counter() - start) * 1000)
    return times, answers


def _quality(asked: list[tuple[str, Event | None]], answers: list[Answer], answerable: int) -> None:
    answered = sum(a.answered for a in answers[:answerable])
    right_event = 0
    has_fact = 0
    for (_, event), answer in zip(asked[:answerable], answers[:answerable], strict=True):
        if event is None or not answer.answered:
            continue
        first = answer.citations[0]
        right_event += event_id_of_url(first.url) == event.id
        expected = {phrase for _, phrase in event.facts}
        has_fact += any(p in c.sentence for c in answer.citations for p in expected)
    wrong = sum(a.answered for a in answers[answerable:])
    print(f"answerable answered  : {answered}/{answerable}")
    print(f"  first cite from the asked event: {right_event}; with an expected fact: {has_fact}")
    print(f"unanswerable answered: {wrong}/{len(answers) - answerable} (should be 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", type=Path, help="keep the database here (reused if present)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        path: Path = args.db or Path(tmp) / "ask.db"
        reuse = path.exists()
        store = Store.open(path)
        start = time.perf_counter()
        if reuse:
            # Same seed, same events: regenerate the sample only (fast) to make questions.
            events, _ = load([store], args.articles, args.seed, write=False)
            print(f"reusing {path} ({store.count_articles():,} articles)")
        else:
            events, _ = load([store], args.articles, args.seed)
            print(
                f"generated and stored {store.count_articles():,} articles in "
                f"{time.perf_counter() - start:.1f} s"
            )
        rss_load = _rss_mb()
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        print(f"database size        : {size / 1e6:.0f} MB ({path.name}, -wal, -shm)")
        asked, answerable = questions(events, args.seed)

        for label in ("cold", "warm"):
            times, answers = ask_all(store, asked)
            p50, p95 = statistics.median(times), percentile(times, 95)
            print(
                f"{label}: {len(times)} questions  p50 {p50:.1f} ms  p95 {p95:.1f} ms"
                f"  max {max(times):.1f} ms"
            )
            if label == "cold":
                _quality(asked, answers, answerable)
                cold_p95 = p95
        rss = _rss_mb()
        store.close()
    print(f"peak RSS             : {rss:.0f} MB (after loading: {rss_load:.0f} MB)")
    seed = answers[answerable - 2]
    print(f"seed question        : {seed.citations[0].sentence if seed.answered else '-'}")
    print(
        f"goal p95 < {GOAL_P95_MS:.0f} ms (cold): {'met' if cold_p95 < GOAL_P95_MS else 'NOT met'}"
        f"; goal RSS < {GOAL_RSS_MB:.0f} MB: {'met' if rss < GOAL_RSS_MB else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
