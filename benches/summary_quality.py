"""Print ROUGE of the extractive summariser beside Lead-3 computed in the same run, per dataset.

Both dev files are scored: ``dev.jsonl`` (CNN/DM highlights and writers' summaries, one
reference each) and ``summeval.jsonl`` (CNN/DM stories against 11 references each, averaged).
Each dataset is reported on its own with the 95% bootstrap interval of the difference from
Lead-3: tune for a change that helps every dataset, not one that helps one a lot.

Run: ``.venv/bin/python benches/summary_quality.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.evaluation import (
    METRICS,
    Scores,
    bootstrap,
    datasets,
    lead3,
    load_dev,
    load_summeval,
    ours,
    score_rows,
)


def _line(name: str, s: Scores) -> str:
    return f"{name:<40} {s.rouge1:6.2f} {s.rouge2:6.2f} {s.rougeLsum:8.2f}   n={s.n}"


def main() -> None:
    rows = load_dev() + load_summeval()
    base, base_rows = score_rows(rows, lead3)
    mine, mine_rows = score_rows(rows, ours)
    print(f"{'system':<40} {'R1':>6} {'R2':>6} {'RLsum':>8}")
    for dataset in datasets(rows):
        picked = [i for i, r in enumerate(rows) if r.dataset == dataset]
        b = [base_rows[i] for i in picked]
        m = [mine_rows[i] for i in picked]
        print(_line(f"Lead-3 {dataset}", _scores(b)))
        print(_line(f"ours   {dataset}", _scores(m)))
        deltas = []
        for metric in METRICS:
            mean, low, high = bootstrap(m, b, metric)
            deltas.append(f"{metric} {mean:+.2f} [{low:+.2f}, {high:+.2f}]")
        print(f"  ours - Lead-3: {'  '.join(deltas)}")
        words_m = sum(r["words"] for r in m) / len(m)
        words_b = sum(r["words"] for r in b) / len(b)
        print(f"  words per summary: ours {words_m:.1f}, Lead-3 {words_b:.1f}")
    print(_line("Lead-3 (all)", base))
    print(_line("ours (all)", mine))
    print(f"longest bullet: ours {mine.max_words} words (limit 30); Lead-3 {base.max_words} words")


def _scores(per_row: list[dict[str, float]]) -> Scores:
    n = max(len(per_row), 1)
    return Scores(*(sum(r[m] for r in per_row) / n for m in METRICS), n=len(per_row), max_words=0)


if __name__ == "__main__":
    main()
