"""Print ROUGE-1/L of headlines written for untitled articles beside the first-ten-words
baseline computed in the same run, with 95% bootstrap intervals, and a sample of headlines.

The articles are BBC News stories with their real headlines (``benches/data/headlines_dev.jsonl``):
each title is dropped, a headline written from the text alone, and compared with the real one.

Run: ``.venv/bin/python benches/headline_quality.py [SAMPLE]``
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.evaluation import (
    HEADLINE_METRICS,
    bootstrap,
    first_ten_words,
    load_headlines,
    mean,
    our_headline,
    score_headlines,
)


def main() -> None:
    sample = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    rows = load_headlines()
    _, base = score_headlines(rows, first_ten_words)
    start = time.perf_counter()
    made, mine = score_headlines(rows, our_headline)
    took = time.perf_counter() - start
    print(f"{len(rows)} BBC articles, title dropped; ROUGE F1 against the real headline")
    print(f"{'system':<22} {'R1':>6} {'RL':>6} {'words':>6}")
    print(
        f"{'first ten words':<22} {mean(base, 'rouge1'):6.2f} {mean(base, 'rougeL'):6.2f} "
        f"{mean(base, 'words'):6.1f}"
    )
    print(
        f"{'ours':<22} {mean(mine, 'rouge1'):6.2f} {mean(mine, 'rougeL'):6.2f} "
        f"{mean(mine, 'words'):6.1f}"
    )
    for metric in HEADLINE_METRICS:
        delta, low, high = bootstrap(mine, base, metric)
        print(f"ours - baseline {metric}: {delta:+.2f} [{low:+.2f}, {high:+.2f}] (95% bootstrap)")
    categories = sorted({r.category for r in rows})
    for category in categories:
        picked = [i for i, r in enumerate(rows) if r.category == category]
        b = [base[i] for i in picked]
        m = [mine[i] for i in picked]
        print(
            f"  {category:<14} R1 {mean(m, 'rouge1'):6.2f} vs {mean(b, 'rouge1'):6.2f}   "
            f"RL {mean(m, 'rougeL'):6.2f} vs {mean(b, 'rougeL'):6.2f}   n={len(picked)}"
        )
    print(f"(summarising took {took:.1f} s)")
    print("\nsample (real headline -> ours):")
    for i in sorted(random.Random(7).sample(range(len(rows)), min(sample, len(rows)))):
        print(f"  {rows[i].title}\n    -> {made[i]}")


if __name__ == "__main__":
    main()
