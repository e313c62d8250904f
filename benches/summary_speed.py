"""Articles per second on one core: our summariser vs a pysbd-split Lead-3, same run.

Run: ``.venv/bin/python benches/summary_speed.py`` (single process; pin to one core with
``taskset -c 0`` for steadier figures).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pysbd

from benches.evaluation import load_dev
from bot.summarize import summarize
from bot.summarize.sentences import split_sentences

_SEG = pysbd.Segmenter(language="en", clean=False)


def _pysbd_lead3(article: str) -> list[str]:
    return [s.strip() for s in _SEG.segment(article)][:3]


def _ours(article: str) -> list[str]:
    return [b.text for b in summarize(article).bullets]


def _split_only(article: str) -> list[str]:
    return split_sentences(article)


def _rate(fn: Callable[[str], list[str]], articles: list[str], min_seconds: float) -> float:
    """Best-of-rounds articles per second, running the whole set until `min_seconds` pass."""
    best = 0.0
    spent = 0.0
    rounds = 0
    while spent < min_seconds or rounds < 2:
        start = time.perf_counter()
        for article in articles:
            fn(article)
        elapsed = time.perf_counter() - start
        spent += elapsed
        rounds += 1
        best = max(best, len(articles) / elapsed)
    return best


def main() -> None:
    articles = [row.article for row in load_dev()]
    base = _rate(_pysbd_lead3, articles, 3.0)
    mine = _rate(_ours, articles, 3.0)
    split = _rate(_split_only, articles, 1.0)
    print(f"articles: {len(articles)} (dev set), one process")
    print(f"pysbd Lead-3 baseline : {base:10.1f} articles/s")
    print(f"ours (full summarize) : {mine:10.1f} articles/s   ({mine / base:.1f}x baseline)")
    print(f"ours split_sentences  : {split:10.1f} articles/s   ({split / base:.1f}x baseline)")


if __name__ == "__main__":
    main()
