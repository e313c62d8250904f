"""Shared evaluation code for the summary benchmarks and the quality gate.

Reads the repository copy of the dev set (``benches/data/dev.jsonl``) only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rouge_score import rouge_scorer

from bot.summarize import summarize
from bot.summarize.sentences import split_sentences

DEV_PATH = Path(__file__).resolve().parent / "data" / "dev.jsonl"
METRICS = ("rouge1", "rouge2", "rougeLsum")


@dataclass(frozen=True)
class Row:
    """One dev-set article with its reference bullets."""

    id: str
    article: str
    reference: tuple[str, ...]
    dataset: str


@dataclass(frozen=True)
class Scores:
    """Mean ROUGE F1 (0-100) over a set of rows, and the longest bullet in words."""

    rouge1: float
    rouge2: float
    rougeLsum: float
    n: int
    max_words: int


def load_dev(path: Path = DEV_PATH) -> list[Row]:
    """Load the dev set from the repository copy."""
    rows = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                obj = json.loads(line)
                rows.append(Row(obj["id"], obj["article"], tuple(obj["reference"]), obj["dataset"]))
    return rows


def lead3(article: str) -> list[str]:
    """Lead-3: the first three sentences of the article, unchanged, split by our splitter."""
    return split_sentences(article)[:3]


def ours(article: str) -> list[str]:
    """Our briefing's bullets for an article (no title: the dev set has none)."""
    return [b.text for b in summarize(article).bullets]


_SCORER = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)


def score_rows(
    rows: Sequence[Row], system: Callable[[str], list[str]]
) -> tuple[Scores, list[dict[str, float]]]:
    """Score `system` on `rows`: mean F1 x 100 per metric, and per-row F1 values."""
    per_row: list[dict[str, float]] = []
    max_words = 0
    for row in rows:
        bullets = system(row.article)
        max_words = max([max_words, *(len(b.split()) for b in bullets)])
        result = _SCORER.score("\n".join(row.reference), "\n".join(bullets))
        per_row.append({m: result[m].fmeasure * 100 for m in METRICS})
    return _mean(per_row, max_words), per_row


def _mean(per_row: Iterable[dict[str, float]], max_words: int) -> Scores:
    rows = list(per_row)
    n = max(len(rows), 1)
    return Scores(*(sum(r[m] for r in rows) / n for m in METRICS), n=len(rows), max_words=max_words)


def subset(scores: list[dict[str, float]], rows: Sequence[Row], dataset: str) -> Scores:
    """Mean scores of the rows that belong to `dataset`."""
    return _mean((s for s, r in zip(scores, rows, strict=True) if r.dataset == dataset), 0)
