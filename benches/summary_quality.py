"""Print dev-set ROUGE of the extractive summariser beside Lead-3 computed in the same run.

Run: ``.venv/bin/python benches/summary_quality.py``
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.evaluation import Scores, lead3, load_dev, ours, score_rows, subset


def _line(name: str, s: Scores) -> str:
    return f"{name:<34} {s.rouge1:6.2f} {s.rouge2:6.2f} {s.rougeLsum:8.2f}   n={s.n}"


def main() -> None:
    rows = load_dev()
    base, base_rows = score_rows(rows, lead3)
    mine, mine_rows = score_rows(rows, ours)
    print(f"{'system':<34} {'R1':>6} {'R2':>6} {'RLsum':>8}")
    print(_line("Lead-3 (all)", base))
    print(_line("ours (all)", mine))
    for dataset in sorted({r.dataset for r in rows}):
        print(_line(f"Lead-3 {dataset}", subset(base_rows, rows, dataset)))
        print(_line(f"ours   {dataset}", subset(mine_rows, rows, dataset)))
    print(
        f"delta (ours - Lead-3): R1 {mine.rouge1 - base.rouge1:+.2f}  "
        f"R2 {mine.rouge2 - base.rouge2:+.2f}  RLsum {mine.rougeLsum - base.rougeLsum:+.2f}"
    )
    print(f"longest bullet: ours {mine.max_words} words (limit 30); Lead-3 {base.max_words} words")


if __name__ == "__main__":
    main()
