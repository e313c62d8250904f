"""Shared code of the story-grouping benchmark and its quality gate.

Scores how `bot.cluster.assign_story` groups the real reports of ``clusters_dev.jsonl`` (each
event told by two or three outlets) against the events, by pairs of reports and by B-cubed, and
computes the plain baseline the dev set's README names in the same run: TF-IDF cosine over title
and text (sublinear tf, English stop words, idf over the whole file) with single-link grouping
above a threshold within 3 days, at its best threshold.

Reads the repository copy of the data (``benches/data/``) only.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from bot.cluster import assign_story
from bot.models import Article
from bot.store import Store
from bot.text import STOP_WORDS

CLUSTERS_PATH = Path(__file__).resolve().parent / "data" / "clusters_dev.jsonl"
BASELINE_WINDOW_DAYS = 3
BASELINE_THRESHOLDS = tuple(round(0.10 + 0.01 * i, 2) for i in range(31))


@dataclass(frozen=True)
class Report:
    """One report of one event."""

    id: str
    event: str
    title: str
    text: str
    outlet: str
    day: date
    url: str


@dataclass(frozen=True)
class Scores:
    """Pair precision/recall/F1 ("same story?" over all pairs of reports) and B-cubed."""

    precision: float
    recall: float
    f1: float
    b3_precision: float
    b3_recall: float
    b3_f1: float
    stories: int

    def line(self, name: str) -> str:
        return (
            f"{name:<38} {self.precision:6.3f} {self.recall:6.3f} {self.f1:6.3f}"
            f"   {self.b3_precision:6.3f} {self.b3_recall:6.3f} {self.b3_f1:6.3f}"
            f"   {self.stories:5d}"
        )


HEADER = (
    f"{'system':<38} {'pairP':>6} {'pairR':>6} {'pairF1':>6}"
    f"   {'b3P':>6} {'b3R':>6} {'b3F1':>6}   {'groups':>5}"
)


def file_hash(path: Path = CLUSTERS_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_reports(path: Path = CLUSTERS_PATH, *, seed: int = 1) -> list[Report]:
    """Every report of the file in the order a stream would bring them: by day, and in a
    shuffled order (fixed by `seed`) within a day, so outlets of one event interleave with
    other events as they do in real feeds."""
    reports = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            event = json.loads(line)
            for a in event["articles"]:
                reports.append(
                    Report(
                        id=a["id"],
                        event=event["cluster_id"],
                        title=a.get("title") or "",
                        text=a.get("text") or "",
                        outlet=a.get("outlet") or "",
                        day=date.fromisoformat(a["date"][:10]),
                        url=a.get("url") or f"https://example.invalid/{a['id']}",
                    )
                )
    random.Random(seed).shuffle(reports)
    reports.sort(key=lambda r: r.day)
    return reports


def score(predicted: Sequence[object], gold: Sequence[object]) -> Scores:
    """Pair and B-cubed scores of a grouping (one label per report) against the events."""

    def pairs(labels: Sequence[object]) -> set[tuple[int, int]]:
        groups: dict[object, list[int]] = defaultdict(list)
        for index, label in enumerate(labels):
            groups[label].append(index)
        return {p for g in groups.values() for p in itertools.combinations(g, 2)}

    mine, theirs = pairs(predicted), pairs(gold)
    hits = len(mine & theirs)
    precision = hits / len(mine) if mine else 1.0
    recall = hits / len(theirs) if theirs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    size_p, size_g = Counter(predicted), Counter(gold)
    both = Counter(zip(predicted, gold, strict=True))
    n = len(predicted)
    b3p = sum(both[(p, g)] / size_p[p] for p, g in zip(predicted, gold, strict=True)) / n
    b3r = sum(both[(p, g)] / size_g[g] for p, g in zip(predicted, gold, strict=True)) / n
    b3f = 2 * b3p * b3r / (b3p + b3r) if b3p + b3r else 0.0
    return Scores(precision, recall, f1, b3p, b3r, b3f, len(size_p))


def group_with_bot(
    reports: Sequence[Report], *, in_memory: bool = False
) -> tuple[list[int], float]:
    """Store each report and group it at ingest, in stream order, as the bot does: in a
    database file (as deployed, for the timing), or in memory (the same SQL, faster, for the
    gate).

    Returns:
        The story id of each report, and the seconds spent in `assign_story` per grouped
        report.
    """
    labels, spent = [], 0.0
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(":memory:" if in_memory else Path(folder) / "grouping.db")
        try:
            for report in reports:
                moment = datetime(report.day.year, report.day.month, report.day.day, tzinfo=UTC)
                article = Article(
                    url=report.url,
                    title=report.title,
                    source=report.outlet,
                    text=report.text,
                    published=moment,
                    fetched_at=moment,
                    language="en",
                )
                stored, added = store.add_article(article)
                if not added:
                    # the file lists a few reports under two events (same link or text): the
                    # bot stores one article, so the second copy is in the first one's story
                    assert stored.id is not None
                    labels.append(store.story_ids([stored.id])[stored.id])
                    continue
                started = time.perf_counter()
                labels.append(assign_story(store, stored))
                spent += time.perf_counter() - started
        finally:
            store.close()
    return labels, spent / max(len(reports), 1)


_BASELINE_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def baseline_similarities(reports: Sequence[Report]) -> list[tuple[float, int, int]]:
    """Cosine of every pair of reports within the baseline's window, TF-IDF (sublinear tf,
    smoothed idf over the whole file, English stop words) over title and text."""
    docs = [
        [t for t in _BASELINE_TOKEN.findall(f"{r.title} {r.text}".lower()) if t not in STOP_WORDS]
        for r in reports
    ]
    df = Counter(t for d in docs for t in set(d))
    n = len(docs)
    vectors = []
    for doc in docs:
        weights = {
            t: (1 + math.log(c)) * (math.log((1 + n) / (1 + df[t])) + 1)
            for t, c in Counter(doc).items()
        }
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        vectors.append({t: w / norm for t, w in weights.items()})
    found = []
    for i, j in itertools.combinations(range(n), 2):
        if abs((reports[i].day - reports[j].day).days) > BASELINE_WINDOW_DAYS:
            continue
        a, b = vectors[i], vectors[j]
        if len(a) > len(b):
            a, b = b, a
        sim = sum(w * b.get(t, 0.0) for t, w in a.items())
        if sim > 0:
            found.append((sim, i, j))
    return found


def baseline_groups(
    n: int, similarities: Sequence[tuple[float, int, int]], threshold: float
) -> list[int]:
    """Single link: reports joined by any pair at or above `threshold`."""
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for sim, i, j in similarities:
        if sim >= threshold:
            parent[find(i)] = find(j)
    return [find(i) for i in range(n)]


def best_baseline(reports: Sequence[Report]) -> tuple[float, Scores]:
    """The baseline at the threshold that gives it the best pair F1 on these reports."""
    sims = baseline_similarities(reports)
    gold = [r.event for r in reports]
    scored = [(t, score(baseline_groups(len(reports), sims, t), gold)) for t in BASELINE_THRESHOLDS]
    return max(scored, key=lambda ts: ts[1].f1)
