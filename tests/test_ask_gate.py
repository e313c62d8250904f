"""Quality gate: `/ask` on real questions must keep its pinned answer and false-answer rates and
answer at least as often as BM25 over sentences (top 3), computed in the same run.

The figures are those `benches/ask_quality.py` prints for the dev file's default split (seed
``SPLIT_SEED``: a fifth of the articles with specific questions left out of the store), and
with ``--distractors`` (the 2,765 other real articles of ``benches/data`` stored too: a store
twenty times the size, where more articles share a question's words by chance). The floors
are the measured figures minus 2 points (plus 2 for the false-answer rate); raise them when
answers improve, never loosen them to make a change pass. The file's hash is pinned so a
changed dev file is noticed.
"""

from __future__ import annotations

import pytest

from benches.qa_eval import (
    QA_PATH,
    SPLIT_SEED,
    Scores,
    file_hash,
    load,
    run_baseline,
    run_bot,
    split,
    with_distractors,
)

DEV_SHA256 = "039a45c62ba40df456ebc2e88e5f9455b5cbd76fbad616a1da000225145817b8"
# Measured (seed 11): answer rate 67.3% (181/269), false answers 8.7% (6/69); BM25 top 3
# 64.7% (174/269) with 94.2% false answers.
MIN_ANSWER_RATE = 0.653
MAX_FALSE_RATE = 0.107
# Measured with the distractors (seed 11): 62.1% (167/269), false answers 13.0% (9/69), above
# ask_quality's must of 10%: a known weakness, pinned so it gets no worse; BM25 top 3 56.5%.
MIN_CROWDED_ANSWER_RATE = 0.601
MAX_CROWDED_FALSE_RATE = 0.150


@pytest.fixture(scope="module")
def figures() -> tuple[Scores, Scores]:
    if not QA_PATH.exists():
        pytest.fail(f"dev set missing: {QA_PATH}")
    assert file_hash() == DEV_SHA256, "qa_dev.jsonl changed: re-measure and re-pin"
    questions, articles = load()
    data = split(questions, articles, SPLIT_SEED)
    assert len(data.answerable) > 200 and len(data.unanswerable) > 50
    ours, _, _ = run_bot(data)
    baseline, _, _ = run_baseline(data)
    return ours, baseline


def test_answer_rate_not_below_its_floor(figures: tuple[Scores, Scores]) -> None:
    ours, _ = figures
    assert ours.answer_rate >= MIN_ANSWER_RATE, ours


def test_false_answer_rate_not_above_its_ceiling(figures: tuple[Scores, Scores]) -> None:
    ours, _ = figures
    assert ours.false_rate <= MAX_FALSE_RATE, ours


def test_answers_at_least_as_often_as_bm25_top3(figures: tuple[Scores, Scores]) -> None:
    ours, baseline = figures
    assert ours.answer_rate >= baseline.answer_rate, (ours, baseline)
    assert ours.false_rate < baseline.false_rate, (ours, baseline)


@pytest.fixture(scope="module")
def crowded() -> tuple[Scores, Scores]:
    questions, articles = load()
    data = with_distractors(split(questions, articles, SPLIT_SEED), articles)
    assert len(data.stored) > 2_800
    ours, _, _ = run_bot(data)
    baseline, _, _ = run_baseline(data)
    return ours, baseline


def test_in_a_store_twenty_times_the_size_the_rates_hold_their_pins(
    crowded: tuple[Scores, Scores],
) -> None:
    ours, baseline = crowded
    assert ours.answer_rate >= MIN_CROWDED_ANSWER_RATE, ours
    assert ours.false_rate <= MAX_CROWDED_FALSE_RATE, ours
    assert ours.answer_rate >= baseline.answer_rate, (ours, baseline)
