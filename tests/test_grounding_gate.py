"""Quality gate: the grounding check's figures on the FRANK dev file must not fall.

The real client and check replay 599 labelled summaries from a loopback fake model
(`benches/grounding_eval.py`). Floors are the measured figures less 2 points; the file's
hash is pinned, so a changed file is noticed rather than silently re-scored. Never lower a
floor to make a change pass.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache

import pytest

from benches.grounding_eval import FACTUALITY_PATH, Figures, evaluate

SHA256 = "0d615059c6a2f0bc2ef4cdc7a2d66bd26930a82a58c090b762a39e5bc6c1bf17"
# measured: CNN/DM 51.0% flagged, 90.3% kept (naive: 49.0%, 81.6%); XSum 87.8%, 44.0%
FLOORS = {
    ("cnndm", "flagged"): 49.0,
    ("cnndm", "kept"): 88.3,
    ("xsum", "flagged"): 85.8,
    ("xsum", "kept"): 42.0,
}


@cache
def _results() -> dict[str, dict[str, Figures]]:
    logging.disable(logging.WARNING)
    try:
        return evaluate()
    finally:
        logging.disable(logging.NOTSET)


def test_the_dev_file_is_the_one_the_floors_were_measured_on() -> None:
    assert hashlib.sha256(FACTUALITY_PATH.read_bytes()).hexdigest() == SHA256


@pytest.mark.parametrize(("dataset", "figure"), sorted(FLOORS))
def test_the_check_keeps_its_floor(dataset: str, figure: str) -> None:
    measured = getattr(_results()["check"][dataset], figure)
    assert measured >= FLOORS[(dataset, figure)], measured


def test_the_check_beats_the_naive_one_at_keeping_correct_summaries() -> None:
    results = _results()
    assert results["check"]["cnndm"].kept > results["naive"]["cnndm"].kept + 5
    assert results["check"]["cnndm"].flagged >= results["naive"]["cnndm"].flagged
