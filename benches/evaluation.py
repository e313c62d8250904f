"""Shared evaluation code for the summary benchmarks and the quality gates.

Reads the repository copies of the dev files only (``benches/data/``):

- ``dev.jsonl``: 67 CNN/DM stories with their highlights and 25 stories with a freelance
  writer's summary, each scored against its one ``reference``;
- ``summeval.jsonl``: 97 CNN/DM stories, each scored against all 11 ``references_all`` (the
  highlights and 10 crowd summaries) and averaged, which is far less noisy than one reference.

Every figure is reported per dataset with a 95% bootstrap interval of its difference from
Lead-3 computed in the same run: with about 100 rows a difference under half a point is noise.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rouge_score import rouge_scorer

from bot.summarize import summarize
from bot.summarize.sentences import split_sentences

DATA = Path(__file__).resolve().parent / "data"
DEV_PATH = DATA / "dev.jsonl"
SUMMEVAL_PATH = DATA / "summeval.jsonl"
METRICS = ("rouge1", "rouge2", "rougeLsum")


@dataclass(frozen=True)
class Row:
    """One article with its reference summaries, each a tuple of sentences (bullets)."""

    id: str
    article: str
    references: tuple[tuple[str, ...], ...]
    dataset: str

    @property
    def reference(self) -> tuple[str, ...]:
        """The first reference (the highlights for CNN/DM rows)."""
        return self.references[0]


@dataclass(frozen=True)
class Scores:
    """Mean ROUGE F1 (0-100) over a set of rows, and the longest bullet in words."""

    rouge1: float
    rouge2: float
    rougeLsum: float
    n: int
    max_words: int


def load_dev(path: Path = DEV_PATH) -> list[Row]:
    """Load ``dev.jsonl``: each row scored against its one ``reference``."""
    rows = []
    for obj in _lines(path):
        rows.append(Row(obj["id"], obj["article"], (tuple(obj["reference"]),), obj["dataset"]))
    return rows


def load_summeval(path: Path = SUMMEVAL_PATH) -> list[Row]:
    """Load ``summeval.jsonl``: each row scored against all of its ``references_all``.

    The crowd references are paragraphs; they are split into sentences (our splitter) so that
    ROUGE-Lsum compares sentence by sentence as it does with the highlights.
    """
    rows = []
    for obj in _lines(path):
        refs = tuple(
            tuple(r) if isinstance(r, list) else tuple(split_sentences(r) or [r])
            for r in obj["references_all"]
        )
        rows.append(Row(obj["id"], obj["article"], refs, "summeval"))
    return rows


def _lines(path: Path) -> Iterable[dict[str, object]]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def lead3(article: str) -> list[str]:
    """Lead-3: the first three sentences of the article, unchanged, split by our splitter."""
    return split_sentences(article)[:3]


def ours(article: str) -> list[str]:
    """Our briefing's bullets for an article (no title: the dev files have none)."""
    return [b.text for b in summarize(article).bullets]


_SCORER = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)


@lru_cache(maxsize=100_000)
def _tokens(sentence: str) -> tuple[str, ...]:
    # rouge-score's own tokeniser and Porter stemmer, once per distinct sentence: the 11
    # references of a SummEval row are scored against every system in a run
    return tuple(_SCORER._tokenizer.tokenize(sentence))


def rouge(reference: Sequence[str], bullets: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/Lsum F1 (0-100) of `bullets` against one reference (a list of sentences).

    The same figures as ``RougeScorer(METRICS, use_stemmer=True).score("\\n".join(reference),
    "\\n".join(bullets))`` (tests/test_quality_gate.py checks it), computed from cached tokens.
    """
    ref = [list(_tokens(s)) for s in reference if s]
    can = [list(_tokens(s)) for s in bullets if s]
    flat_ref = [t for s in ref for t in s]
    flat_can = [t for s in can for t in s]
    out = {}
    for n in (1, 2):
        score = rouge_scorer._score_ngrams(
            rouge_scorer._create_ngrams(flat_ref, n), rouge_scorer._create_ngrams(flat_can, n)
        )
        out[f"rouge{n}"] = score.fmeasure * 100
    out["rougeLsum"] = rouge_scorer._summary_level_lcs(ref, can).fmeasure * 100
    return out


def score_rows(
    rows: Sequence[Row], system: Callable[[str], list[str]]
) -> tuple[Scores, list[dict[str, float]]]:
    """Score `system` on `rows`: mean F1 x 100 per metric, and per-row F1 values (and "words",
    the summary's length).

    A row with several references gets the mean of its scores against each.
    """
    per_row: list[dict[str, float]] = []
    max_words = 0
    for row in rows:
        bullets = system(row.article)
        lengths = [len(b.split()) for b in bullets]
        max_words = max([max_words, *lengths])
        sums = dict.fromkeys(METRICS, 0.0)
        for reference in row.references:
            for m, value in rouge(reference, bullets).items():
                sums[m] += value
        scores = {m: sums[m] / len(row.references) for m in METRICS}
        scores["words"] = float(sum(lengths))
        per_row.append(scores)
    return _mean(per_row, max_words), per_row


def _mean(per_row: Iterable[dict[str, float]], max_words: int) -> Scores:
    rows = list(per_row)
    n = max(len(rows), 1)
    return Scores(*(sum(r[m] for r in rows) / n for m in METRICS), n=len(rows), max_words=max_words)


def subset(scores: list[dict[str, float]], rows: Sequence[Row], dataset: str) -> Scores:
    """Mean scores of the rows that belong to `dataset`."""
    return _mean((s for s, r in zip(scores, rows, strict=True) if r.dataset == dataset), 0)


def bootstrap(
    mine: Sequence[dict[str, float]],
    base: Sequence[dict[str, float]],
    metric: str,
    *,
    samples: int = 2000,
    seed: int = 13,
) -> tuple[float, float, float]:
    """Mean difference (mine - base) of `metric` over paired rows and its 95% interval
    (percentile bootstrap over rows)."""
    diffs = [a[metric] - b[metric] for a, b in zip(mine, base, strict=True)]
    n = len(diffs)
    if not n:
        return 0.0, 0.0, 0.0
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    return sum(diffs) / n, means[int(0.025 * samples)], means[int(0.975 * samples) - 1]


def datasets(rows: Sequence[Row]) -> list[str]:
    """The datasets of `rows`, in a stable order."""
    return sorted({r.dataset for r in rows})


# Headlines: BBC articles with their real titles. A headline is written with the title dropped
# and compared with it; the plain baseline is the article's first ten words.
HEADLINES_PATH = DATA / "headlines_dev.jsonl"
HEADLINE_METRICS = ("rouge1", "rougeL")


@dataclass(frozen=True)
class HeadlineRow:
    """One article and its real headline."""

    id: str
    title: str
    article: str
    category: str


def load_headlines(path: Path = HEADLINES_PATH) -> list[HeadlineRow]:
    """Load ``headlines_dev.jsonl``."""
    return [
        HeadlineRow(str(o["id"]), str(o["title"]), str(o["article"]), str(o["category"]))
        for o in _lines(path)
    ]


def first_ten_words(article: str) -> str:
    """The baseline headline: the article's first ten words."""
    return " ".join(article.split()[:10])


def our_headline(article: str) -> str:
    """Our headline for an article without a title."""
    return summarize(article).headline


def score_headlines(
    rows: Sequence[HeadlineRow], system: Callable[[str], str]
) -> tuple[list[str], list[dict[str, float]]]:
    """Each row's headline by `system` and its ROUGE-1/L F1 (0-100) against the real one."""
    made: list[str] = []
    per_row: list[dict[str, float]] = []
    for row in rows:
        headline = system(row.article)
        made.append(headline)
        ref, can = list(_tokens(row.title)), list(_tokens(headline))
        per_row.append(
            {
                "rouge1": rouge_scorer._score_ngrams(
                    rouge_scorer._create_ngrams(ref, 1), rouge_scorer._create_ngrams(can, 1)
                ).fmeasure
                * 100,
                "rougeL": rouge_scorer._score_lcs(ref, can).fmeasure * 100,
                "words": float(len(headline.split())),
            }
        )
    return made, per_row


def mean(per_row: Sequence[dict[str, float]], metric: str) -> float:
    """Mean of `metric` over rows."""
    return sum(r[metric] for r in per_row) / max(len(per_row), 1)
