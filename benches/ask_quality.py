"""`/ask` on real questions: answer rate and false-answer rate beside BM25 top 3, same run.

Run: ``.venv/bin/python benches/ask_quality.py [--seed 11] [--seeds 1,2,3] [--show]``

Every article of ``benches/data/qa_dev.jsonl`` (NewsQA questions people wrote about CNN
articles, and a few Voice of America questions whose fact the text does not give) is stored in
a real SQLite file without its title, except a seeded fifth of the articles that have specific
questions; each specific question is asked through `bot.ask.answer_question`, the core function
`/ask` calls. See ``benches/qa_eval.py`` for how a hit and a false answer are counted.

The baseline is the README's: BM25 over every stored sentence, top three, computed in the same
run. It has no way to say "nothing answers that", so it is shown as it is (answering every
question that shares a word with the store) and, for a fair comparison of the answer rates, at
the BM25 score threshold where its false-answer rate comes closest to ours without exceeding it.

``--seeds`` repeats the measure over other left-out fifths, to show how much the figures move
with the split; ``--show`` prints every miss and every false answer; ``--distractors`` stores
every other real article of ``benches/data`` too (2,765 more), to show the figures in a store
twenty times the size, where more articles share a question's words.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.qa_eval import (
    QA_PATH,
    SPLIT_SEED,
    Question,
    Scores,
    SentenceBM25,
    Split,
    file_hash,
    load,
    quotes_answer,
    run_baseline,
    run_bot,
    split,
    with_distractors,
)
from bot.models import Answer

MUST_FALSE, GOAL_ANSWER, GOAL_FALSE = 0.10, 0.75, 0.05


def _percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _line(label: str, s: Scores) -> str:
    return (
        f"{label:<34} answer rate {s.answer_rate:6.1%} ({s.hits}/{s.asked})"
        f"   false answers {s.false_rate:6.1%} ({s.false_answers}/{s.unanswerable})"
    )


def _show(data: Split, answers: dict[str, Answer]) -> None:
    def cited(q: Question) -> list[str]:
        return [c.sentence for c in answers[q.id].citations]

    print("\nmissed (article stored):")
    for q in data.answerable:
        if not quotes_answer(cited(q), q.answers):
            print(f"  Q {q.text}  | wanted {q.answers[0]!r}")
            for sentence in cited(q):
                print(f"      - {sentence[:140]}")
    print("\nanswered although the article is not stored (or the text does not say):")
    for q in data.unanswerable:
        if cited(q):
            print(f"  Q {q.text}")
            for sentence in cited(q):
                print(f"      - {sentence[:140]}")


def _measure(data: Split, *, show: bool = False) -> tuple[Scores, Scores, Scores, float]:
    ours, times, answers = run_bot(data, vague=True)
    plain, matched, threshold = run_baseline(data, ours.false_rate)
    if show:
        _show(data, answers)
    right_anyway = sum(
        quotes_answer([c.sentence for c in answers[q.id].citations], q.answers)
        for q in data.unanswerable
        if q.answers
    )
    quail = [q for q in data.unanswerable if not q.answerable]
    print(_line("newsbrief /ask", ours))
    print(
        f"{'':<34} false answers: {ours.false_answers - sum(answers[q.id].answered for q in quail)}"
        f" to questions whose article is left out, {sum(answers[q.id].answered for q in quail)}"
        f"/{len(quail)} to questions the text does not answer; {right_anyway} of them quote"
        " the expected answer from another stored article anyway"
    )
    print(
        f"{'':<34} latency p50 {statistics.median(times):.1f} ms, p95 {_percentile(times, 95):.1f}"
        f" ms ({len(times)} questions, {len(data.stored)} articles)"
    )
    print(_line("BM25 top 3 (no abstention)", plain))
    print(_line(f"BM25 top 3 (score >= {threshold:.2f})", matched))
    index = SentenceBM25(data.stored)
    vague_ours = sum(
        quotes_answer([c.sentence for c in answers[q.id].citations], q.answers) for q in data.vague
    )
    vague_bm25 = sum(
        quotes_answer([s for _, s in index.top(q.text)], q.answers) for q in data.vague
    )
    print(
        f"not tuned on: the {len(data.vague)} vague questions (not specific) of stored articles:"
        f" /ask quotes the answer for {vague_ours / len(data.vague):.1%},"
        f" BM25 top 3 for {vague_bm25 / len(data.vague):.1%}"
    )
    return ours, plain, matched, threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=SPLIT_SEED, help="the left-out fifth's seed")
    parser.add_argument("--seeds", default="", help="more splits to measure, e.g. 1,2,3")
    parser.add_argument("--show", action="store_true", help="print misses and false answers")
    parser.add_argument(
        "--distractors",
        action="store_true",
        help="also store every other real article of benches/data (2,765), as a bigger store",
    )
    args = parser.parse_args()

    questions, articles = load()
    print(f"{QA_PATH.name}: {len(questions)} questions, sha256 {file_hash()[:16]}...")
    data = split(questions, articles, args.seed)
    if args.distractors:
        data = with_distractors(data, articles)
    print(
        f"split seed {args.seed}: {len(data.stored)} articles stored, {len(data.left_out)} left"
        f" out: {', '.join(data.left_out)}"
    )
    print(
        f"scored: {len(data.answerable)} specific questions whose article is stored;"
        f" {len(data.unanswerable)} unanswerable (left out, or answerable: false)\n"
    )
    ours, plain, matched, _ = _measure(data, show=args.show)

    must = ours.answer_rate >= plain.answer_rate and ours.false_rate <= MUST_FALSE
    goal = ours.answer_rate >= GOAL_ANSWER and ours.false_rate <= GOAL_FALSE
    print(
        f"\nMust (answer rate >= BM25 top 3 {plain.answer_rate:.1%}, false answers <="
        f" {MUST_FALSE:.0%}): {'met' if must else 'NOT met'}"
    )
    print(
        f"goal (>= {GOAL_ANSWER:.0%}, <= {GOAL_FALSE:.0%}): {'met' if goal else 'NOT met'}"
        f"; at our false-answer rate BM25 answers {matched.answer_rate:.1%}"
    )

    extra = [int(s) for s in args.seeds.split(",") if s.strip()]
    if extra:
        rates = [(ours.answer_rate, ours.false_rate, plain.answer_rate, matched.answer_rate)]
        for seed in extra:
            print(f"\nsplit seed {seed}:")
            data = split(questions, articles, seed)
            if args.distractors:
                data = with_distractors(data, articles)
            other, base, base_matched, _ = _measure(data)
            rates.append(
                (other.answer_rate, other.false_rate, base.answer_rate, base_matched.answer_rate)
            )
        cols = list(zip(*rates, strict=True))
        print(
            f"\nmean over {len(rates)} splits: answer rate {statistics.mean(cols[0]):.1%}, false"
            f" answers {statistics.mean(cols[1]):.1%}; BM25 top 3 {statistics.mean(cols[2]):.1%}"
            f" ({statistics.mean(cols[3]):.1%} at our false-answer rate)"
        )


if __name__ == "__main__":
    main()
