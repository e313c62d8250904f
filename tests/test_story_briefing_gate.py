"""Quality gate: story briefings must beat the single best report's briefing (same run) and
the pinned floors on the story dev set, with short bullets, no cut-off fragments and no fact
told twice.

Floors are the figures reached when story briefings were built, minus 0.3 points (0-100 scale);
raise them when quality improves, never lower them to make a change pass. The dev set's hash is
pinned so that a changed file is noticed rather than silently moving the figures.
"""

from __future__ import annotations

import hashlib

import pytest

from benches.stories_eval import (
    CLUSTERS_PATH,
    CUT_OFF,
    Result,
    bullet_overlap,
    load_events,
    score,
    single_briefing,
    story_briefing,
)

SHA256 = "5b7d5d3000fe195e3e55ce6ad7a4b777e59a587945496801a5a69005e2f17ec4"
# Reached: story R1 40.70, R2 14.60 on all 505 events; the single best report's briefing in
# the same run: 31.09 / 10.62. See benches/story_briefing.py.
FLOORS = {"rouge1": 40.40, "rouge2": 14.30}


@pytest.fixture(scope="module")
def results() -> tuple[Result, Result]:
    if not CLUSTERS_PATH.exists():
        pytest.fail(f"story dev set missing: {CLUSTERS_PATH}")
    digest = hashlib.sha256(CLUSTERS_PATH.read_bytes()).hexdigest()
    assert digest == SHA256, "benches/data/clusters_dev.jsonl changed: re-measure, re-pin"
    events = load_events()
    assert len(events) == 505
    metrics = tuple(FLOORS)
    return score(events, story_briefing, metrics), score(events, single_briefing, metrics)


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_story_briefing_beats_the_single_best_report(
    results: tuple[Result, Result], metric: str
) -> None:
    story, single = results
    assert story.mean(metric) >= single.mean(metric), (story.mean(metric), single.mean(metric))


@pytest.mark.parametrize("metric", sorted(FLOORS))
def test_story_briefing_not_below_pinned_floor(results: tuple[Result, Result], metric: str) -> None:
    story, _ = results
    assert story.mean(metric) >= FLOORS[metric], story.mean(metric)


def test_bullets_are_short_whole_and_say_each_fact_once(results: tuple[Result, Result]) -> None:
    story, _ = results
    assert story.max_words <= 30, "a bullet is longer than 30 words"
    for briefing in story.briefings:
        assert 3 <= len(briefing.bullets) <= 5, briefing
        assert not [b.text for b in briefing.bullets if CUT_OFF.search(b.text)]
        assert len({b.source for b in briefing.bullets}) >= 2, briefing
        # no two bullets share 70% of the shorter one's content words (the most on this set
        # when pinned: 0.67, a paraphrase the word-level check lets through)
        assert bullet_overlap(briefing) < 0.7, [b.text for b in briefing.bullets]
