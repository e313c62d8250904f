"""Shared code of the `/ask` quality benchmark and its gate: real questions about real articles.

``qa_dev.jsonl`` holds questions people wrote about CNN articles (NewsQA) with their answer
strings, and a few Voice of America questions whose fact the article does not give (QuAIL). As
the dev set's README says: every article is stored without a title (the text starts with
"(CNN) --"), except a seeded fifth of the articles that have specific questions, left out so
their questions have no answer in the store; each specific question is asked through the real
core function `/ask` calls (`bot.ask.answer_question` on a real SQLite store).

- **Answer rate**: over the specific questions whose article is stored, the share whose reply
  quotes one of the answer strings (lower-cased, punctuation and the articles a/an/the ignored,
  matched on word boundaries).
- **False-answer rate**: over the specific questions whose article was left out, plus the
  ``answerable: false`` questions, the share that got any answer at all.
- **Baseline** (computed in the same run, as the README names it): BM25 over every stored
  sentence, the top three. It has no "nothing answers" of its own, so it is reported as it is
  (it answers every question that shares a word with the store) and, for a fair comparison, at
  the score threshold where its false-answer rate comes closest to ours without exceeding it.

Reads the repository copy of the data (``benches/data/``) only.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from bot.ask import answer_question
from bot.models import Answer, Article
from bot.store import Store
from bot.summarize.sentences import split_block, split_paragraphs
from bot.text import words

QA_PATH = Path(__file__).resolve().parent / "data" / "qa_dev.jsonl"
SPLIT_SEED = 11
LEFT_OUT_SHARE = 0.2
_FETCHED = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Question:
    """One question of the file and what scoring needs about it."""

    id: str
    text: str
    answers: tuple[str, ...]
    article_id: str
    answerable: bool
    specific: bool


@dataclass(frozen=True)
class Split:
    """Which articles are stored, and the questions each side is scored on."""

    stored: tuple[Article, ...]
    left_out: tuple[str, ...]  # article ids
    answerable: tuple[Question, ...]  # specific, article stored
    unanswerable: tuple[Question, ...]  # specific with the article left out, and QuAIL's
    vague: tuple[Question, ...] = ()  # not specific, article stored: never tuned on, shown aside


@dataclass(frozen=True)
class Scores:
    """Answer and false-answer rates (shares), with their counts."""

    hits: int
    asked: int
    false_answers: int
    unanswerable: int

    @property
    def answer_rate(self) -> float:
        return self.hits / self.asked if self.asked else 0.0

    @property
    def false_rate(self) -> float:
        return self.false_answers / self.unanswerable if self.unanswerable else 0.0


def file_hash(path: Path = QA_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(path: Path = QA_PATH) -> tuple[list[Question], dict[str, tuple[str, str]]]:
    """The questions and the articles: id -> (outlet, text)."""
    questions: list[Question] = []
    articles: dict[str, tuple[str, str]] = {}
    for line in path.read_text("utf-8").splitlines():
        row = json.loads(line)
        outlet = "Voice of America" if "voanews" in row.get("article_url", "") else "CNN"
        articles[row["article_id"]] = (outlet, row["article"])
        questions.append(
            Question(
                id=row["id"],
                text=row["question"],
                answers=tuple(row["answers"]),
                article_id=row["article_id"],
                answerable=bool(row["answerable"]),
                # QuAIL's unanswerable questions name their subject ("What ethnicity is Ed
                # Royce?"): specific by construction.
                specific=bool(row.get("question_specific", not row["answerable"])),
            )
        )
    return questions, articles


def split(
    questions: Sequence[Question],
    articles: dict[str, tuple[str, str]],
    seed: int = SPLIT_SEED,
) -> Split:
    """Leave out a seeded fifth of the articles that have specific questions.

    The articles without specific questions always stay: they are distractors, as the rest of
    a real store is.
    """
    with_specific = sorted({q.article_id for q in questions if q.specific and q.answerable})
    rng = random.Random(seed)
    left_out = sorted(rng.sample(with_specific, round(LEFT_OUT_SHARE * len(with_specific))))
    gone = set(left_out)
    stored = tuple(
        Article(
            url=f"https://example.org/{outlet.split()[0].lower()}/{article_id}",
            title="",
            source=outlet,
            text=text,
            published=None,
            fetched_at=_FETCHED,
        )
        for article_id, (outlet, text) in sorted(articles.items())
        if article_id not in gone
    )
    specific = [q for q in questions if q.specific]
    return Split(
        stored=stored,
        left_out=tuple(left_out),
        answerable=tuple(q for q in specific if q.answerable and q.article_id not in gone),
        unanswerable=tuple(q for q in specific if not q.answerable or q.article_id in gone),
        vague=tuple(
            q for q in questions if not q.specific and q.answerable and q.article_id not in gone
        ),
    )


def with_distractors(data: Split, articles: dict[str, tuple[str, str]]) -> Split:
    """`data` with every other real article of ``benches/data`` stored too (2,765: none of the
    QA set's, and none shares a passage with one), as a real store holds far more than the
    articles asked about: the same questions, against a store twenty times the size."""
    from benches.real_news import real_records

    held = {text[:200] for _, text in articles.values()}
    extra = tuple(
        Article(
            url=str(r["url"]),
            title=r["title"] or "",
            source=r["source"] or "",
            text=str(r["text"]),
            published=None,  # as the QA articles: when has no part in answering
            fetched_at=_FETCHED,
        )
        for r in real_records()
        if str(r["text"])[:200] not in held
    )
    return replace(data, stored=data.stored + extra)


_PUNCT = re.compile(r"[^\w\s]")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def normalise(text: str) -> str:
    """Lower-cased, punctuation and a/an/the removed, whitespace collapsed (SQuAD's rule)."""
    return " ".join(_ARTICLES.sub(" ", _PUNCT.sub(" ", text.lower())).split())


def quotes_answer(sentences: Iterable[str], answers: Sequence[str]) -> bool:
    """Whether one of `sentences` holds one of `answers`, on word boundaries, once normalised."""
    wanted = [f" {a} " for a in map(normalise, answers) if a]
    return any(a in f" {normalise(s)} " for s in sentences for a in wanted)


def store_articles(store: Store, articles: Iterable[Article]) -> None:
    for article in articles:
        store.add_article(article)


def ask_all(store: Store, questions: Sequence[Question]) -> tuple[list[Answer], list[float]]:
    """Every question through `answer_question`, with each one's time in milliseconds."""
    answers: list[Answer] = []
    times: list[float] = []
    for q in questions:
        start = time.perf_counter()
        answers.append(answer_question(store, q.text))
        times.append((time.perf_counter() - start) * 1000)
    return answers, times


def score_answers(data: Split, found: dict[str, Sequence[str]]) -> Scores:
    """Scores from each question id's cited sentences (empty: nothing answers)."""
    return Scores(
        hits=sum(quotes_answer(found[q.id], q.answers) for q in data.answerable),
        asked=len(data.answerable),
        false_answers=sum(bool(found[q.id]) for q in data.unanswerable),
        unanswerable=len(data.unanswerable),
    )


def run_bot(
    data: Split, folder: Path | None = None, *, vague: bool = False
) -> tuple[Scores, list[float], dict[str, Answer]]:
    """Store the split's articles in a real SQLite file and ask every question (and the vague
    ones too when `vague`: their answers are returned, not scored)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = (folder or Path(tmp)) / "qa.db"
        with Store.open(path) as store:
            store_articles(store, data.stored)
            asked = [*data.answerable, *data.unanswerable, *(data.vague if vague else ())]
            answers, times = ask_all(store, asked)
    by_id = {q.id: a for q, a in zip(asked, answers, strict=True)}
    found = {qid: [c.sentence for c in a.citations] for qid, a in by_id.items()}
    return score_answers(data, found), times[: len(data.answerable) + len(data.unanswerable)], by_id


# The baseline: BM25 over every stored sentence ---------------------------------------------------


class SentenceBM25:
    """Okapi BM25 (k1 1.2, b 0.75) over sentences, with the bot's word rule for both sides."""

    def __init__(self, articles: Sequence[Article], k1: float = 1.2, b: float = 0.75) -> None:
        self.sentences: list[str] = []
        self.tokens: list[Counter[str]] = []
        for article in articles:
            for paragraph in split_paragraphs(article.text):
                for sentence in split_block(paragraph):
                    self.sentences.append(sentence)
                    self.tokens.append(Counter(words(sentence)))
        lengths = [sum(t.values()) for t in self.tokens]
        self.avg = sum(lengths) / max(len(lengths), 1)
        self.lengths = lengths
        df: Counter[str] = Counter()
        for t in self.tokens:
            df.update(t.keys())
        n = len(self.tokens)
        self.idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}
        self.postings: dict[str, list[int]] = {}
        for i, t in enumerate(self.tokens):
            for w in t:
                self.postings.setdefault(w, []).append(i)
        self.k1, self.b = k1, b

    def top(self, question: str, k: int = 3) -> list[tuple[float, str]]:
        """The `k` best sentences with their scores, best first; none share a word: empty."""
        scores: dict[int, float] = {}
        for w in set(words(question)):
            idf = self.idf.get(w)
            if idf is None:
                continue
            for i in self.postings[w]:
                tf = self.tokens[i][w]
                norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
                scores[i] = scores.get(i, 0.0) + idf * tf * (self.k1 + 1) / (tf + norm)
        best = sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:k]
        return [(s, self.sentences[i]) for i, s in best]


def run_baseline(data: Split, false_cap: float | None = None) -> tuple[Scores, Scores, float]:
    """BM25 top 3 as it is, and at the threshold whose false-answer rate is the highest not
    above `false_cap` (None: the plain one only; the second is then the plain one too).

    Returns:
        The plain scores, the thresholded ones and the threshold.
    """
    index = SentenceBM25(data.stored)
    ranked = {q.id: index.top(q.text) for q in (*data.answerable, *data.unanswerable)}

    def at(threshold: float) -> Scores:
        found = {
            qid: [s for score, s in top if score >= threshold]
            if top and top[0][0] >= threshold
            else []
            for qid, top in ranked.items()
        }
        return score_answers(data, found)

    plain = at(0.0)
    if false_cap is None:
        return plain, plain, 0.0
    best, best_threshold = plain, 0.0
    for threshold in sorted({round(t[0][0], 3) for t in ranked.values() if t}):
        scores = at(threshold)
        if scores.false_rate <= false_cap:
            best, best_threshold = scores, threshold
            break
    return plain, best, best_threshold
