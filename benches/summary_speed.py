"""Articles per second on one core: our summariser vs a pysbd-split Lead-3, same run.

Run: ``.venv/bin/python benches/summary_speed.py [ROUNDS] [--against DIR]`` (single process;
pin to one core with ``taskset -c 0`` for steadier figures). ``--against DIR`` also times the
summariser of another checkout (say the main branch's) in a child process started in DIR, in
the same alternating rounds, so a change's cost is measured against what it replaces.

Shared machines are noisy, so the two systems are timed in alternating rounds over the whole
dev set and each keeps its best round: a burst of load then slows one round of each, not one
side of the comparison. The median of the per-round ratios is printed too.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def _round(fn: Callable[[str], list[str]], articles: list[str], repeat: int) -> float:
    """Articles per second over `repeat` passes of the whole set."""
    start = time.perf_counter()
    for _ in range(repeat):
        for article in articles:
            fn(article)
    return repeat * len(articles) / (time.perf_counter() - start)


# Run in the other checkout's directory, so its `bot` package is the one imported.
_CHILD = """
import json, sys, time
sys.path.insert(0, ".")
from bot.summarize import summarize
articles = json.load(open(sys.argv[1], encoding="utf-8"))
for a in articles:
    summarize(a)
start = time.perf_counter()
for _ in range(10):
    for a in articles:
        summarize(a)
print(10 * len(articles) / (time.perf_counter() - start))
"""


def _other_round(directory: str, path: str) -> float:
    """Articles per second of the summariser checked out in `directory` (a child process)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, path],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip())


def main() -> None:
    args = sys.argv[1:]
    against = None
    if "--against" in args:
        at = args.index("--against")
        against = args[at + 1]
        del args[at : at + 2]
    rounds = int(args[0]) if args else 7
    articles = [row.article for row in load_dev()]
    for fn in (_pysbd_lead3, _ours, _split_only):  # warm up caches and imports
        _round(fn, articles, 1)
    base_rates: list[float] = []
    our_rates: list[float] = []
    split_rates: list[float] = []
    other_rates: list[float] = []
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(articles, fh)
    for _ in range(rounds):
        # pysbd is ~20x slower: one pass of it takes about as long as many of ours.
        base_rates.append(_round(_pysbd_lead3, articles, 1))
        our_rates.append(_round(_ours, articles, 10))
        split_rates.append(_round(_split_only, articles, 20))
        if against:
            other_rates.append(_other_round(against, fh.name))
    os.unlink(fh.name)
    base, mine, split = max(base_rates), max(our_rates), max(split_rates)
    ratio = statistics.median(m / b for m, b in zip(our_rates, base_rates, strict=True))
    print(f"articles: {len(articles)} (dev set), one process, best of {rounds} rounds")
    print(f"pysbd Lead-3 baseline : {base:10.1f} articles/s")
    print(f"ours (full summarize) : {mine:10.1f} articles/s   ({mine / base:.1f}x baseline)")
    print(f"ours split_sentences  : {split:10.1f} articles/s   ({split / base:.1f}x baseline)")
    print(f"median per-round ratio: {ratio:.1f}x")
    if against:
        other = max(other_rates)
        print(f"{against} summarize: {other:10.1f} articles/s   (ours {mine / other:.2f}x it)")


if __name__ == "__main__":
    main()
