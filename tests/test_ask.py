"""`/ask` answers: verbatim, cited sentences from the seeds, and a plain "no" otherwise.

``data/qa_sample.jsonl`` holds nine real CNN articles of the `/ask` dev set (NewsQA, see
``benches/data/README.md``), each with the questions people wrote about it that the tests ask;
the last is not stored, so its question has no answer in the store.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.console import ConsoleAdapter
from bot.ask import answer_question
from bot.config import Settings
from bot.engine import Engine
from bot.ingest.files import read_file
from bot.models import Answer, Article, ChannelRef
from bot.store import Store
from tests.conftest import add_seeds

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
QA_SAMPLE = Path(__file__).resolve().parent / "data" / "qa_sample.jsonl"
SEED = SEEDS / "000_277b181c6f234e33.txt"
SEED_QUESTION = "What does Zelenskyy say security guarantees are?"


@pytest.fixture
def store(any_store: Store) -> Store:
    """The seeds, on SQLite and on PostgreSQL."""
    return add_seeds(any_store)


def assert_verbatim(store: Store, answer: Answer) -> None:
    """Every cited sentence is in its article's stored text (whitespace runs collapsed)."""
    for citation in answer.citations:
        article = store.get_article(citation.article_id)
        assert article is not None
        assert citation.sentence in " ".join(article.text.split()), citation.sentence
        assert (citation.source, citation.url) == (article.source, article.url)
        assert citation.published == article.published
        assert citation.title


def test_seed_question_is_answered_from_the_seed(store: Store) -> None:
    answer = answer_question(store, SEED_QUESTION)

    assert answer.answered
    assert answer.question == SEED_QUESTION
    first = answer.citations[0]
    assert first.sentence == "Security guarantees are strong armed forces."
    assert first.source == "European Pravda"
    assert first.url == SEED.resolve().as_uri()
    # The seed has no title; the citation gets the start of its first sentence instead.
    assert first.title.startswith("President Volodymyr Zelenskyy has said")
    assert_verbatim(store, answer)


def test_riverton_question_is_answered_from_the_riverton_article(store: Store) -> None:
    answer = answer_question(store, "What did the Riverton council approve?")

    assert answer.answered
    assert {c.source for c in answer.citations} == {"Riverton Courier"}
    assert "14 kilometres of protected bike lanes" in answer.citations[0].sentence
    assert_verbatim(store, answer)


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of Mongolia?",
        "what is the capital of mongolia",
        "What is the population of Riverton?",  # Riverton is stored, its population is not
        "What does Putin say security guarantees are?",  # only others speak of him
    ],
)
def test_questions_the_articles_do_not_answer_get_no_citations(store: Store, question: str) -> None:
    answer = answer_question(store, question)

    assert answer == Answer(question, ())
    assert not answer.answered


@pytest.mark.parametrize(
    "question",
    ["", "   ", "?!.,;", '"', "NEAR(", "a OR b", "*", "x" * 10_000, "Zelenskyy " * 2_000],
)
def test_garbage_and_fts_syntax_never_raise(store: Store, question: str) -> None:
    answer = answer_question(store, question)

    assert not answer.answered


def test_fts_operators_in_a_real_question_are_taken_literally(store: Store) -> None:
    answer = answer_question(store, 'Riverton "council" NEAR( approve* OR bike')

    assert all(c.source == "Riverton Courier" for c in answer.citations)


@pytest.mark.parametrize(
    "question",
    [
        SEED_QUESTION,
        "What did Trump and Putin discuss in Alaska?",
        "What did Zelenskyy say about security guarantees and NATO Article 5?",
    ],
)
def test_at_most_three_verbatim_citations(store: Store, question: str) -> None:
    answer = answer_question(store, question)

    assert answer.answered
    assert 1 <= len(answer.citations) <= 3
    assert len(set(answer.citations)) == len(answer.citations)
    assert_verbatim(store, answer)


def test_max_sentences_limits_the_answer(store: Store) -> None:
    assert len(answer_question(store, SEED_QUESTION, max_sentences=1).citations) == 1
    assert not answer_question(store, SEED_QUESTION, max_sentences=0).answered


def test_repeated_question_gives_the_same_answer(store: Store) -> None:
    assert answer_question(store, SEED_QUESTION) == answer_question(store, SEED_QUESTION)


def test_empty_store_answers_nothing(any_store: Store) -> None:
    assert not answer_question(any_store, SEED_QUESTION).answered


def test_cost_question_quotes_the_amount_not_the_vote(store: Store) -> None:
    answer = answer_question(store, "How much will the Riverton bike lanes cost?")

    assert answer.answered
    first = answer.citations[0]
    assert "9.8 million dollar plan" in first.sentence
    assert first.source == "Riverton Courier"
    assert_verbatim(store, answer)


def test_ceo_question_finds_the_chief_executive(store: Store) -> None:
    answer = answer_question(store, "Who is the CEO of Corvid?")

    assert answer.answered
    first = answer.citations[0]
    assert first.sentence.startswith("Chief executive Mara Lindqvist")
    assert first.source == "Market Ledger"
    assert_verbatim(store, answer)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When will construction of the Riverton bike lanes start?", "due to start in March"),
        ("Who is the mayor of Riverton?", "Mayor Dana Whitfield"),
        ("How many parking spaces will shops lose?", "60 parking spaces"),
    ],
)
def test_the_first_sentence_holds_what_the_question_asks_for(
    store: Store, question: str, expected: str
) -> None:
    answer = answer_question(store, question)

    assert answer.answered
    assert expected in answer.citations[0].sentence
    assert_verbatim(store, answer)


def test_a_misspelt_name_still_finds_its_article(store: Store) -> None:
    answer = answer_question(store, "Who is the chief executive of Corvidd?")

    assert answer.answered
    assert answer.citations[0].sentence.startswith("Chief executive Mara Lindqvist")


# Real questions about real articles, through the console as a user types them -----------------


@pytest.fixture
def qa_sample(tmp_path: Path, any_store: Store) -> Iterator[tuple[Store, list[dict[str, Any]]]]:
    """The sample's stored articles ingested from a JSON Lines file by the real file reader,
    without titles (as the dev set stores them), and every sample row."""
    rows = [json.loads(line) for line in QA_SAMPLE.read_text("utf-8").splitlines()]
    feed = tmp_path / "cnn.jsonl"
    feed.write_text(
        "".join(
            json.dumps({"text": r["article"], "url": r["url"], "source": r["source"]}) + "\n"
            for r in rows
            if r["stored"]
        ),
        encoding="utf-8",
    )
    store = any_store
    for item in read_file(feed):
        assert isinstance(item, Article), item
        store.add_article(item)
    assert store.count_articles() == sum(r["stored"] for r in rows)
    yield store, rows


async def ask_console(store: Store, *questions: str) -> list[str]:
    """Each question typed as ``/ask ...`` into the console adapter; one printed reply each."""
    engine = Engine(store, Settings())
    out = io.StringIO()
    lines = "".join(f"/ask {q}\n" for q in questions)
    try:
        await ConsoleAdapter(
            engine.commands.dispatch,
            channel=ChannelRef("console", "t"),
            stdin=io.StringIO(lines),
            stdout=out,
        ).start()
    finally:
        engine.close()
    # each reply opens with "From N article(s):" or the plain "no"
    parts: list[str] = []
    for line in out.getvalue().splitlines(keepends=True):
        if line.startswith(("From ", "I found nothing")):
            parts.append("")
        if parts:
            parts[-1] += line
    assert len(parts) == len(questions), out.getvalue()
    return parts


def _normal(text: str) -> str:
    return " ".join(text.lower().replace(",", "").split())


async def test_real_questions_are_answered_with_the_quoted_answer_and_its_link(
    qa_sample: tuple[Store, list[dict[str, Any]]],
) -> None:
    store, rows = qa_sample
    asked = [(q, r) for r in rows if r["stored"] for q in r["questions"]]
    assert len(asked) >= 4

    replies = await ask_console(store, *(q["question"] for q, _ in asked))

    for (q, row), reply in zip(asked, replies, strict=True):
        assert reply.startswith('From 1 article:\n1. "'), (q["question"], reply)
        quoted = [line for line in reply.splitlines() if line[:1].isdigit()]
        assert any(_normal(a) in _normal(line) for a in q["answers"] for line in quoted), (
            q["question"],
            reply,
        )
        assert f"CNN · {row['url']}" in reply


async def test_a_question_about_an_article_not_stored_gets_a_plain_no(
    qa_sample: tuple[Store, list[dict[str, Any]]],
) -> None:
    store, rows = qa_sample
    missing = [q["question"] for r in rows if not r["stored"] for q in r["questions"]]
    assert missing

    replies = await ask_console(store, *missing)

    for reply in replies:
        assert reply.strip() == "I found nothing in the stored articles that answers that."
