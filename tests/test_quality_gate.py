"""Quality gate: dev-set ROUGE must not fall below Lead-3 (same run) or the pinned floors.

Floors are the figures reached when the summariser was tuned, minus 0.3 points (0-100 scale);
raise them when quality improves, never lower them to make a change pass.
"""

from __future__ import annotations

import pytest

from benches.evaluation import DEV_PATH, lead3, load_dev, ours, score_rows

# Reached: R1 42.00, R2 18.89, RLsum 37.95 on all 92 dev rows (Lead-3: 41.19/18.51/36.74).
FLOORS = {"rouge1": 41.70, "rouge2": 18.59, "rougeLsum": 37.65}


@pytest.fixture(scope="module")
def figures() -> dict[str, dict[str, float]]:
    if not DEV_PATH.exists():
        pytest.fail(f"dev set missing: {DEV_PATH}")
    rows = load_dev()
    assert len(rows) == 92
    base, _ = score_rows(rows, lead3)
    mine, _ = score_rows(rows, ours)
    assert mine.max_words <= 30, "a bullet is longer than 30 words"
    return {
        "lead3": {m: getattr(base, m) for m in FLOORS},
        "ours": {m: getattr(mine, m) for m in FLOORS},
    }


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_not_below_lead3(figures: dict[str, dict[str, float]], metric: str) -> None:
    assert figures["ours"][metric] >= figures["lead3"][metric], figures


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_not_below_pinned_floor(figures: dict[str, dict[str, float]], metric: str) -> None:
    assert figures["ours"][metric] >= FLOORS[metric], figures
