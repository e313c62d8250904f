"""Shared code of the grounding-check benchmark and its gate (`make bench` skips ``*_eval.py``).

`benches/data/factuality_dev.jsonl` holds 599 real summaries written by nine neural
summarisers for real CNN/DM and XSum articles, with FRANK's human labels of which contain
errors. Each summary is served by a loopback fake OpenAI-compatible server (`FakeModel`) as
the JSON the client asks for, and goes through the real client (`ModelWriter.brief_article`,
`httpx` over 127.0.0.1) and the real check, exactly as a model's reply would.

How a summary becomes bullets (`summary_bullets`): a summary is one text, so it is split into
sentences, each a bullet, at ``.``, ``!`` or ``?`` followed by a space, whatever the case of
the next letter (most summaries are lower-case, which the article splitter, needing a capital
to start a sentence, would not split), except after a title or a one-letter initial ("dr.",
"u.s."). The tokenised text's brackets (``-lrb-``, ``-rrb-``) and split names (``O ' Sullivan``)
are put back, as the dev files' own texts were detokenised. The summariser wrote no headline,
so the reply's is empty; and since a summary may have one or two sentences, the client is run
with ``min_bullets = 1``: a summary is kept or flagged on its own sentences, not for being
short. A bullet over 30 words is shortened at a clause boundary before it is checked, as the
client does with any bullet.

A summary counts as **flagged** when any of its sentences is rejected or the client fell back
to the extractive briefing, and as **kept whole** when none is. The figures:

- flagged: share of summaries with an entity, number/time/place or out-of-article error
  (``EntE``, ``CircE`` or ``OutE`` in ``error_share``) that the check flags;
- kept: share of error-free summaries (``factual``) it leaves whole;

beside two naive checks in the same run: "any content word not in the article" (lower-case
words, the project's stop words left out) and the same with stemming.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import LlmSettings, Secrets, Settings
from bot.models import Article, Briefing
from bot.summarize.llm import ModelWriter, Written
from bot.text import STOP_WORDS, stem
from tests.llm_fakes import FakeModel, Reply

FACTUALITY_PATH = Path(__file__).resolve().parent / "data" / "factuality_dev.jsonl"
DATASETS = ("cnndm", "xsum")
TARGET_ERRORS = ("EntE", "CircE", "OutE")
CONCURRENCY = 16

_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=\S)")
_NO_END = re.compile(r"(?:\b(?:mr|mrs|ms|dr|st|prof|gen|gov|sen|rep|no|vs|jr|sr)|\b[a-z])\.$", re.I)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    article_id: str
    article: str
    summary: str
    model: str
    dataset: str
    factual: bool
    target: bool


def load_rows(path: Path = FACTUALITY_PATH) -> list[Row]:
    rows = []
    for line in path.read_text("utf-8").splitlines():
        data = json.loads(line)
        share = data["error_share"]
        rows.append(
            Row(
                id=data["id"],
                article_id=data["article_id"],
                article=data["article"],
                summary=data["summary"],
                model=data["model"],
                dataset=data["dataset"],
                factual=bool(data["factual"]),
                target=any(share.get(k, 0) > 0 for k in TARGET_ERRORS),
            )
        )
    return rows


def detokenise(text: str) -> str:
    text = re.sub(r"-lrb-\s*", "(", text, flags=re.IGNORECASE)
    text = re.sub(r"\s*-rrb-", ")", text, flags=re.IGNORECASE)
    return re.sub(r"\b([A-Z]) ' ([A-Z])", r"\1'\2", text)


def summary_bullets(summary: str) -> list[str]:
    """A summary's sentences, as the bullets a model would have written (see the module)."""
    bullets: list[str] = []
    for piece in _BOUNDARY.split(detokenise(summary).strip()):
        if bullets and _NO_END.search(bullets[-1]):
            bullets[-1] += " " + piece
        else:
            bullets.append(piece)
    return [b for b in bullets if _WORD.search(b)]


def naive_flag(row: Row, *, stemmed: bool) -> bool:
    """Any content word of the summary not in the article (optionally: no stem in it)."""
    article = set(_WORD.findall(row.article.lower()))
    stems = {stem(w) for w in article} if stemmed else set()
    for word in _WORD.findall(row.summary.lower()):
        if len(word) < 2 or word in STOP_WORDS or word in article:
            continue
        if stemmed and stem(word) in stems:
            continue
        return True
    return False


def flagged(written: Written) -> bool:
    return written.origin != "model" or bool(written.rejected)


async def run_client(rows: list[Row]) -> dict[str, Written]:
    """Each row's summary through the real client and check, served by a loopback fake."""
    by_model: dict[str, list[Row]] = {}
    for row in rows:
        by_model.setdefault(row.model, []).append(row)
    results: dict[str, Written] = {}
    # one pass per summariser: the fake answers each article with that system's summary
    for system_rows in by_model.values():
        summaries = {r.article: summary_bullets(r.summary) for r in system_rows}

        def answer(body: dict[str, Any], summaries: dict[str, list[str]] = summaries) -> Reply:
            user = "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")
            text = user.split("Text:\n", 1)[1]
            return Reply(content={"headline": "", "bullets": summaries[text]})

        with FakeModel(answer) as fake:
            settings = Settings(
                llm=LlmSettings(
                    enabled=True,
                    base_url=fake.base_url,
                    model="frank-replay",
                    timeout=60.0,
                    max_concurrency=CONCURRENCY,
                    allow_private=True,
                ),
                secrets=Secrets(llm_api_key="sk-bench"),
            )
            writer = ModelWriter.from_settings(settings)
            assert writer is not None
            writer.min_bullets = 1
            try:
                written = await asyncio.gather(
                    *(writer.brief_article(_article(r), Briefing("", ())) for r in system_rows)
                )
            finally:
                await writer.close()
        for row, result in zip(system_rows, written, strict=True):
            results[row.id] = result
    return results


def _article(row: Row) -> Article:
    moment = datetime(2015, 4, 1, tzinfo=UTC)
    return Article(
        url=f"https://frank.example/{row.article_id}",
        title="",
        source="",
        text=row.article,
        published=moment,
        fetched_at=moment,
        language="en",
    )


@dataclass(frozen=True, slots=True)
class Figures:
    dataset: str
    flagged: float
    kept: float
    targets: int
    factual: int


def figures(rows: Iterable[Row], flag: Callable[[Row], bool]) -> dict[str, Figures]:
    out = {}
    for dataset in DATASETS:
        subset = [r for r in rows if r.dataset == dataset]
        targets = [r for r in subset if r.target]
        factual = [r for r in subset if r.factual]
        out[dataset] = Figures(
            dataset,
            100.0 * sum(flag(r) for r in targets) / max(1, len(targets)),
            100.0 * sum(not flag(r) for r in factual) / max(1, len(factual)),
            len(targets),
            len(factual),
        )
    return out


def evaluate(path: Path = FACTUALITY_PATH) -> dict[str, dict[str, Figures]]:
    """The check's figures and the naive ones, per dataset, from one run."""
    rows = load_rows(path)
    results = asyncio.run(run_client(rows))
    return {
        "check": figures(rows, lambda r: flagged(results[r.id])),
        "naive": figures(rows, lambda r: naive_flag(r, stemmed=False)),
        "naive+stem": figures(rows, lambda r: naive_flag(r, stemmed=True)),
    }
