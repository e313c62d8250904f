"""Shared evaluation code for story briefings: the benchmark and the quality gate use it.

Reads the repository copy of the story dev set (``benches/data/clusters_dev.jsonl``) only: real
events, each told by 2-3 outlets, with an editor's neutral summary of the event.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from nltk.stem import porter
from rouge_score import rouge_scorer, tokenize, tokenizers

from bot.digest import best_article
from bot.models import Article, Briefing
from bot.summarize import summarize
from bot.summarize.story import summarize_story

CLUSTERS_PATH = Path(__file__).resolve().parent / "data" / "clusters_dev.jsonl"
METRICS = ("rouge1", "rouge2", "rougeLsum")


@dataclass(frozen=True)
class Event:
    """One event: its reports as the store would hold them, and the reference summary."""

    id: str
    articles: tuple[Article, ...]
    reference: str


def load_events(path: Path = CLUSTERS_PATH) -> list[Event]:
    """Events of the story dev set; report ids count up through the file, as a store's would."""
    events = []
    next_id = 1
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            obj = json.loads(line)
            articles = []
            for raw in obj["articles"]:
                day = datetime.fromisoformat(raw["date"][:10]).replace(tzinfo=UTC)
                articles.append(
                    Article(
                        url=raw["url"],
                        title=raw.get("title") or "",
                        source=raw["outlet"],
                        text=raw["text"],
                        published=day,
                        fetched_at=day,
                        id=next_id,
                    )
                )
                next_id += 1
            events.append(Event(obj["cluster_id"], tuple(articles), obj["reference_summary"]))
    return events


def reports(event: Event) -> list[Article]:
    """The event's reports, best first, as the digest hands them to `summarize_story`."""
    best = best_article(event.articles)
    return [best, *(a for a in event.articles if a.id != best.id)]


@cache
def brief(article: Article) -> Briefing:
    """A report's own briefing, as ingest stores it (made once per report and run)."""
    return summarize(article.text, article.title or None)


def single_briefing(event: Event) -> Briefing:
    """What the digest showed before story briefings: the best report's own briefing."""
    return brief(best_article(event.articles))


def story_briefing(event: Event) -> Briefing:
    """The story briefing built from every report's stored briefing."""
    ordered = reports(event)
    return summarize_story(ordered, [brief(a) for a in ordered])


class _CachedStemmer:
    """nltk's Porter stemmer, as rouge-score's default tokenizer uses it, remembering each word:
    stemming is most of the tokenising time, and the same words recur across events."""

    def __init__(self) -> None:
        self._porter = porter.PorterStemmer()
        self._seen: dict[str, str] = {}

    def stem(self, word: str) -> str:
        found = self._seen.get(word)
        if found is None:
            found = self._seen[word] = self._porter.stem(word)
        return found


class _Tokenizer(tokenizers.Tokenizer):
    """rouge-score's default tokenizer with `use_stemmer=True`: the same tokens, faster."""

    def __init__(self) -> None:
        self._stemmer = _CachedStemmer()

    def tokenize(self, text: str) -> list[str]:
        return list(tokenize.tokenize(text, self._stemmer))


@cache
def _scorer(metrics: tuple[str, ...]) -> rouge_scorer.RougeScorer:
    return rouge_scorer.RougeScorer(list(metrics), use_stemmer=True, tokenizer=_Tokenizer())


@dataclass(frozen=True)
class Result:
    """Per-event ROUGE F1 (0-100) of one system, and its briefings."""

    per_event: list[dict[str, float]]
    briefings: list[Briefing]

    def mean(self, metric: str) -> float:
        return sum(r[metric] for r in self.per_event) / max(len(self.per_event), 1)

    @property
    def max_words(self) -> int:
        """The longest bullet, in words."""
        return max((len(b.text.split()) for x in self.briefings for b in x.bullets), default=0)

    @property
    def mean_words(self) -> float:
        """Words in a briefing's bullets, on average."""
        words = [sum(len(b.text.split()) for b in x.bullets) for x in self.briefings]
        return sum(words) / max(len(words), 1)


def score(
    events: Sequence[Event],
    system: Callable[[Event], Briefing],
    metrics: Sequence[str] = METRICS,
) -> Result:
    """Score `system` on `events`: bullet texts joined by newlines against each reference.

    Only the bullets' own words are scored, not the outlet names the renderers put before them.
    """
    scorer = _scorer(tuple(metrics))
    per_event = []
    briefings = []
    for event in events:
        briefing = system(event)
        result = scorer.score(event.reference, "\n".join(b.text for b in briefing.bullets))
        per_event.append({m: result[m].fmeasure * 100 for m in metrics})
        briefings.append(briefing)
    return Result(per_event, briefings)


def bootstrap_difference(
    ours: Result, base: Result, metric: str, *, samples: int = 2000, seed: int = 13
) -> tuple[float, float, float]:
    """Mean difference (ours - base) of `metric`, and its 95% percentile bootstrap interval."""
    diffs = [a[metric] - b[metric] for a, b in zip(ours.per_event, base.per_event, strict=True)]
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    return sum(diffs) / n, means[int(0.025 * samples)], means[int(0.975 * samples) - 1]


# A reader's view of "the same fact twice", independent of the summariser's own tokens: plain
# lower-cased words without function words, plurals folded, numbers kept.
_FUNCTION_WORDS = frozenset(
    """
    a an the of to in on at for by with from and or but nor is are was were be been being has
    have had do does did that this these those it its as he she they them his her their we our
    you your i me my who whom which what when where how than then there so not no also about
    into over after before said says say told will would can could may might should must
    """.split()
)
_TOKEN = re.compile(r"[a-z0-9][a-z0-9'’-]*")
CUT_OFF = re.compile(r"(?:\.{3,}|…)[\"'”’)\]]*\s*$")


def content_words(text: str) -> set[str]:
    """Lower-cased content words and numbers of `text`, a final plural "s" folded."""
    words = (w.strip("'’-") for w in _TOKEN.findall(text.lower().replace(",", "")))
    return {w[:-1] if len(w) > 3 and w.endswith("s") else w for w in words} - _FUNCTION_WORDS


def bullet_overlap(briefing: Briefing) -> float:
    """The most any two bullets share: common content words over the shorter one's."""
    sets = [content_words(b.text) for b in briefing.bullets]
    worst = 0.0
    for i, a in enumerate(sets):
        for b in sets[i + 1 :]:
            if a and b:
                worst = max(worst, len(a & b) / min(len(a), len(b)))
    return worst
