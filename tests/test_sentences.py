"""The sentence splitter on the cases news text is full of."""

from __future__ import annotations

import pytest

from bot.summarize.sentences import split_sentences

CASES = [
    (
        "Mr. Smith met the U.S. envoy on Jan. 5 at No. 10 Downing St. in London. He left.",
        ["Mr. Smith met the U.S. envoy on Jan. 5 at No. 10 Downing St. in London.", "He left."],
    ),
    (
        "George W. Bush and J. K. Rowling met. They talked.",
        ["George W. Bush and J. K. Rowling met.", "They talked."],
    ),
    (
        "Shares rose 3.5% to $1.25 a share. Profit hit £2.3bn.",
        ["Shares rose 3.5% to $1.25 a share.", "Profit hit £2.3bn."],
    ),
    (
        '"We will win," he said. "Stop!" Smith shouted. Then he left.',
        ['"We will win," he said.', '"Stop!" Smith shouted.', "Then he left."],
    ),
    (
        "He paused ... and then left. I waited... Then he came.",
        ["He paused ... and then left.", "I waited...", "Then he came."],
    ),
    (
        "He lives in the U.S. The president disagreed.",
        ["He lives in the U.S.", "The president disagreed."],
    ),
    (
        "It ended at 5 p.m. on Friday. Talks resume Monday.",
        ["It ended at 5 p.m. on Friday.", "Talks resume Monday."],
    ),
    (
        "Storm hits coast\nLONDON, May 3\nThe storm arrived at dawn.",
        ["Storm hits coast", "LONDON, May 3", "The storm arrived at dawn."],
    ),
    (
        "Key points:\n- Rates are unchanged\n- Inflation is 2.1%\n* Next meeting in June",
        ["Key points:", "Rates are unchanged", "Inflation is 2.1%", "Next meeting in June"],
    ),
    (
        "The report was long and it was\nwrapped by the mail client. It ends here.",
        ["The report was long and it was wrapped by the mail client.", "It ends here."],
    ),
    (
        "Is it over? Nobody knows! Officials met.",
        ["Is it over?", "Nobody knows!", "Officials met."],
    ),
    ("", []),
    ("   \n\n  ", []),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_text_without_punctuation_is_one_sentence() -> None:
    text = "no punctuation at all just words " * 20
    assert split_sentences(text) == [" ".join(text.split())]


def test_every_character_of_content_is_kept() -> None:
    text = 'Dr. Who arrived. The U.K. cheered; 1.5m watched. "Why?" asked Ms. Jones.'
    assert "".join(split_sentences(text)).replace(" ", "") == text.replace(" ", "")
