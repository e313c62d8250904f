"""Print the ROUGE of story briefings beside the single best report's briefing, same run.

For each event of the story dev set (real events, each told by a left, a centre and a right
outlet, with an editor's neutral summary), two briefings are scored against the summary:

- single: the best report's own briefing (`bot.digest.best_article`, then
  `bot.summarize.summarize(text, title)`), which is what a digest showed before;
- story: `bot.summarize.story.summarize_story` over every report's own briefing.

It prints mean ROUGE-1/2/Lsum F1 of both with a 95% bootstrap interval of the difference, a
control of the same length as the story briefing taken from the best report alone (its first
sentences), the longest bullet, repeated content between bullets, and example briefings.

Run: ``.venv/bin/python benches/story_briefing.py [path]`` (default
``benches/data/clusters_dev.jsonl``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.stories_eval import (
    CLUSTERS_PATH,
    CUT_OFF,
    METRICS,
    Event,
    Result,
    bootstrap_difference,
    brief,
    bullet_overlap,
    load_events,
    reports,
    score,
    single_briefing,
    story_briefing,
)
from bot.models import Briefing, Bullet
from bot.summarize.sentences import split_sentences

EXAMPLES = 2


def _same_length_control(story: Result, events: list[Event]) -> Result:
    """The best report's first sentences, as many words as its story briefing has: what
    length alone would give, without the other outlets."""
    lengths = {
        e.id: sum(len(b.text.split()) for b in x.bullets)
        for e, x in zip(events, story.briefings, strict=True)
    }

    def lead(event: Event) -> Briefing:
        bullets: list[Bullet] = []
        words = 0
        for sentence in split_sentences(reports(event)[0].text):
            if words >= lengths[event.id]:
                break
            bullets.append(Bullet(sentence))
            words += len(sentence.split())
        return Briefing("", tuple(bullets))

    return score(events, lead)


def _line(name: str, r: Result) -> str:
    figures = " ".join(f"{r.mean(m):8.2f}" for m in METRICS)
    return f"{name:<46} {figures}   words {r.mean_words:5.1f}   longest bullet {r.max_words}"


def _cut_off(r: Result) -> int:
    return sum(1 for x in r.briefings for b in x.bullets if CUT_OFF.search(b.text))


def _show(event: Event, single: Briefing, story: Briefing) -> None:
    print(f"\n--- {event.id}: {story.headline}")
    print("  single (before):")
    for b in single.bullets:
        print(f"    - {b.text}")
    print("  story:")
    for b in story.bullets:
        print(f"    - {b.source}: {b.text}")


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else CLUSTERS_PATH
    events = load_events(path)
    started = time.perf_counter()
    for event in events:
        for article in event.articles:
            brief(article)
    briefed = time.perf_counter()
    stories = {event.id: story_briefing(event) for event in events}
    per_story_ms = (time.perf_counter() - briefed) / max(len(events), 1) * 1000
    story = score(events, lambda event: stories[event.id])
    single = score(events, single_briefing)
    control = _same_length_control(story, events)
    reports_n = sum(len(e.articles) for e in events)

    print(f"{len(events)} events, {reports_n} reports ({path.name})")
    print(f"{'system':<46} {'R1':>8} {'R2':>8} {'RLsum':>8}")
    print(_line("single: best report's own briefing", single))
    print(_line("story: summarize_story", story))
    print(_line("control: best report's sentences, same length", control))
    for metric in METRICS:
        diff, low, high = bootstrap_difference(story, single, metric)
        print(f"story - single {metric:<10} {diff:+6.2f}  95% CI [{low:+.2f}, {high:+.2f}]")
    for metric in ("rouge1", "rouge2"):
        diff, low, high = bootstrap_difference(story, control, metric)
        print(f"story - control {metric:<9} {diff:+6.2f}  95% CI [{low:+.2f}, {high:+.2f}]")
    print(
        f"longest bullet: story {story.max_words} words, single {single.max_words} (limit 30); "
        f"bullets ending cut off ('...'): story {_cut_off(story)}, single {_cut_off(single)}"
    )
    counts = [len(x.bullets) for x in story.briefings]
    outlets = [len({b.source for b in x.bullets}) for x in story.briefings]
    print(
        f"story bullets: {min(counts)}-{max(counts)} (mean {sum(counts) / len(counts):.2f}); "
        f"outlets named per story: mean {sum(outlets) / len(outlets):.2f}, "
        f"two or more in {sum(o >= 2 for o in outlets)} of {len(outlets)}"
    )
    overlaps = [bullet_overlap(x) for x in story.briefings]
    print(
        "content shared by two bullets (of the shorter): "
        f"story max {max(overlaps):.2f}, mean {sum(overlaps) / len(overlaps):.2f}; "
        f"single mean {sum(map(bullet_overlap, single.briefings)) / len(events):.2f}"
    )
    print(
        f"time: {per_story_ms:.2f} ms a story briefing (reports already briefed), "
        f"{(briefed - started) / reports_n * 1000:.2f} ms a report briefing"
    )
    shown = [i for i, o in enumerate(outlets) if o >= 3][:EXAMPLES]
    for i in shown:
        _show(events[i], single.briefings[i], story.briefings[i])


if __name__ == "__main__":
    main()
