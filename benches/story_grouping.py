"""Story grouping on real news: pair and B-cubed scores beside the TF-IDF baseline, same run.

Run: ``.venv/bin/python benches/story_grouping.py [clusters.jsonl] [--orders 3]``

Every report of the file (default: ``benches/data/clusters_dev.jsonl``, 505 real events told by
left, centre and right outlets) is stored and grouped at ingest by ``bot.cluster.assign_story``
in stream order (by day, shuffled within a day; each order is one line, and their mean is what
the gate pins), and scored against the events. The baseline of the dev set's README is computed
in the same run: TF-IDF cosine over title and text with single-link grouping within 3 days, at
the threshold that is best for it on this very file (an advantage it gets and we do not).

Two more lines, each beside the baseline at its own best threshold:
- an ablation without the time decay (at the best of a few thresholds), so the shares of the
  gain that come from time and from the text are both visible;
- "dense": the same reports packed ten times closer in time (the file's six months into about
  eighteen days, about 80 reports a day instead of 8, events of one day staying on one day),
  where more events of one subject fall on one day, as in a busy real stream. Every grouping
  does worse there; it shows how much.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from datetime import timedelta
from pathlib import Path
from statistics import mean

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bot.cluster as cluster
from benches.grouping_eval import (
    CLUSTERS_PATH,
    HEADER,
    Report,
    Scores,
    best_baseline,
    file_hash,
    group_with_bot,
    load_reports,
    score,
)

MUST_F1, MUST_MARGIN, MUST_PRECISION = 0.75, 0.05, 0.80
GOAL_F1, GOAL_PRECISION = 0.85, 0.90
DENSER = 10


def _packed(reports: list[Report], factor: int) -> list[Report]:
    """The same reports with the days between them divided by `factor`."""
    first = min(r.day for r in reports)
    return [
        dataclasses.replace(r, day=first + timedelta(days=(r.day - first).days // factor))
        for r in reports
    ]


def _scored(reports: list[Report]) -> Scores:
    labels, _ = group_with_bot(reports)
    return score(labels, [r.event for r in reports])


def _mean(found: list[Scores]) -> Scores:
    fields = [f for f in Scores.__dataclass_fields__ if f != "stories"]
    return Scores(
        *(mean(getattr(s, f) for s in found) for f in fields),
        stories=round(mean(s.stories for s in found)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path", nargs="?", type=Path, default=CLUSTERS_PATH)
    parser.add_argument("--orders", type=int, default=3, help="stream orders to average")
    args = parser.parse_args()

    reports = load_reports(args.path, seed=1)
    events = len({r.event for r in reports})
    digest = file_hash(args.path)[:16]
    print(f"{args.path.name}: {len(reports)} reports of {events} events, sha256 {digest}")
    threshold, base = best_baseline(reports)

    runs, per_article = [], []
    for seed in range(1, args.orders + 1):
        ordered = load_reports(args.path, seed=seed)
        labels, spent = group_with_bot(ordered)
        runs.append(score(labels, [r.event for r in ordered]))
        per_article.append(spent)
    ours = _mean(runs)

    saved = cluster.HALF_LIFE, cluster.MIN_SIMILARITY
    cluster.HALF_LIFE = timedelta(days=10_000)  # ablation: no decay within the window
    try:
        flat = []
        for threshold_flat in (0.16, 0.2, 0.25, 0.3):
            cluster.MIN_SIMILARITY = threshold_flat
            flat.append((threshold_flat, _scored(reports)))
        flat_at, flat_best = max(flat, key=lambda ts: ts[1].f1)
    finally:
        cluster.HALF_LIFE, cluster.MIN_SIMILARITY = saved

    dense = _packed(reports, DENSER)
    dense_threshold, dense_base = best_baseline(dense)
    dense_ours = _scored(dense)

    print()
    print(HEADER)
    print(base.line(f"baseline TF-IDF single link @{threshold:.2f}"))
    for seed, run in enumerate(runs, start=1):
        print(run.line(f"ours, stream order {seed}"))
    print(ours.line("ours, mean of orders"))
    print(flat_best.line(f"ours, no time decay @{flat_at:.2f} (ablation)"))
    print(dense_base.line(f"dense x{DENSER}: baseline @{dense_threshold:.2f}"))
    print(dense_ours.line(f"dense x{DENSER}: ours"))
    print()
    print(f"grouping time: {mean(per_article) * 1000:.2f} ms per report (assign_story)")
    delta = ours.f1 - base.f1
    must = ours.f1 >= MUST_F1 and delta >= MUST_MARGIN and ours.precision >= MUST_PRECISION
    goal = ours.f1 >= GOAL_F1 and ours.precision >= GOAL_PRECISION
    print(
        f"pair F1 {ours.f1:.3f} vs baseline {base.f1:.3f} ({delta:+.3f}), precision "
        f"{ours.precision:.3f}: Must (F1 >= {MUST_F1}, >= baseline + {MUST_MARGIN}, P >= "
        f"{MUST_PRECISION}) {'met' if must else 'NOT met'}; Goal (F1 >= {GOAL_F1} at P >= "
        f"{GOAL_PRECISION}) {'met' if goal else 'not met'}"
    )


if __name__ == "__main__":
    main()
