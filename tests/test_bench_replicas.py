"""The pure helpers of benches/replicas.py: how polls and digests are counted (no timing)."""

from __future__ import annotations

from benches.replicas import alternate, count_polls, digest_outcome


def test_a_poll_repeating_another_within_half_an_interval_is_counted_as_repeated() -> None:
    polls = [(0.0, 1), (1.0, 1), (5.0, 2), (40.0, 1), (100.0, 1)]
    # in [0, 60): feed 1 at 0 s, again at 1 s (a repeat), at 40 s (39 s after: not one);
    # feed 2 at 5 s; the poll at 100 s is outside
    assert count_polls(polls, 0.0, 60.0, 60.0) == (4, 1)
    # a poll before the window still makes the first one in it a repeat
    assert count_polls(polls, 1.0, 60.0, 60.0) == (3, 1)


def test_digests_are_delivered_duplicated_or_lost_per_channel() -> None:
    outcome = digest_outcome(
        {
            "C1": [("r1", 1), ("r1", 2)],  # one run, each part once
            "C2": [("r2", 1), ("r3", 1)],  # sent twice
            "C3": [("r4", 1), ("r4", 1)],  # a part posted twice
            "C4": [],  # never arrived
        }
    )
    assert outcome == (3, 2, 1)


def test_alternate_flips_the_order_every_round() -> None:
    calls: list[str] = []
    times = alternate([lambda: calls.append("a"), lambda: calls.append("b")], 3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert [len(t) for t in times] == [3, 3]
