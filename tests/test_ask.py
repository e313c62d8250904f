"""`/ask` answers: verbatim, cited sentences from the seeds, and a plain "no" otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.ask import answer_question
from bot.models import Answer
from bot.store import Store

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
SEED = SEEDS / "000_277b181c6f234e33.txt"
SEED_QUESTION = "What does Zelenskyy say security guarantees are?"


@pytest.fixture
def store(seeded_store: Store) -> Store:
    return seeded_store


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


def test_empty_store_answers_nothing(tmp_path: Path) -> None:
    with Store.open(tmp_path / "empty.db") as empty:
        assert not answer_question(empty, SEED_QUESTION).answered
