"""Story grouping and digest time at 1k / 10k / 50k articles from 200 feeds, on one core.

Run: ``.venv/bin/python benches/digest_scale.py [--sizes 1000,10000,50000] [--seed 7]
[--generators synthetic,builtin]`` (a single process; ``taskset -c 0`` for steadier figures). By
default both generators at 1k and 10k.

For each size it generates synthetic articles (many reports of fewer events: each event told by
2-6 outlets in different words but with the same names, places and numbers, some reports
updated later under a new URL), stores them in a temporary SQLite file in time order, and
prints:

- ingest: ``terms`` alone (the words of title and lead), and ``assign_story`` (terms + idf
  + candidate query + average link +
  store), total and per article; ``add_article`` is shown apart, since it is not grouping work;
- quality: stories found vs true events, pairwise precision and recall against the event ids;
- digest: ``build_digest(max_stories=10)`` over all of them as new and in the channel's window
  (``benches.bulk_store.whole_window``), and the grouping query a
  digest runs (every new article -> story ids -> the biggest stories' articles);
- growth: each time divided by the size ratio to the previous size (1.0 = linear).

The stream density is held at ``PER_DAY`` articles a day, as a real set of 200 feeds would be:
a larger N is a longer period, not more reports of each event. ``benches/synthetic.py``
(``make_articles``, "synthetic") spreads its events over a year, so its density grows with N; the
generator below ("builtin") holds ``PER_DAY``. Both are run by default.

Both generators write every event of one kind from the same sentence templates, differing only in
names and numbers, which real outlets do not: TF-IDF grouping (``bot.cluster``) merges events of
one kind there (pairwise precision about 0.2 at 1k, 0.4 at 10k), while on real news it is 0.92
(``benches/story_grouping.py``). Read the quality lines here as a stress case, and the timings as
what they are.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benches.bulk_store import whole_window
from bot.cluster import assign_story, terms
from bot.digest import build_digest
from bot.models import Article, Briefing, Bullet, ChannelRef
from bot.store import Store

FEEDS = 200
PER_DAY = 2000
START = datetime(2025, 6, 1, tzinfo=UTC)
_EVENT_IN_URL = re.compile(r"/e(\d+)(?:/|-|$)")

# --- Synthetic news -----------------------------------------------------------------------------

_SYLLABLES = (
    "ka ri mo ten vel dor an bel cor dan el fen gar hol is jun kel lor mar nor ost pra quin ros "
    "sel tor ul var wes yor zan bri cha dru fal gri har ild jor kas lin mir nev ol pet rud sten "
    "tam ulv ver wil"
).split()
_FIRST = (
    "Anna Boris Carla David Elena Farid Greta Hugo Irina Jonas Katya Luis Maria Nikolai Olga "
    "Pavel Rosa Stefan Tomas Ursula Viktor Wanda Yusuf Zofia Adam Beatriz Chen Dmitri Eva Felix "
    "Hana Ivan Julia Karim Lena Marco Nadia Omar Petra Rahul Sara Theo Vera Will Ximena Yara"
).split()
# Famous names that turn up in many unrelated events: the confounders grouping must survive.
_FAMOUS = (
    "Donald Trump",
    "Vladimir Putin",
    "Emmanuel Macron",
    "Ursula von der Leyen",
    "Xi Jinping",
    "Elon Musk",
    "Keir Starmer",
    "Olaf Scholz",
)
_FILLER = (
    "The government has faced growing pressure over the issue in recent months.",
    "Officials did not respond to a request for further comment.",
    "The decision comes amid wider concern about rising costs for households.",
    "Analysts said the outcome could shape the debate for the rest of the year.",
    "It was not immediately clear how the plan would be funded.",
    "Critics say the move does not go far enough, while supporters call it a first step.",
    "The announcement follows weeks of talks between the two sides.",
    "Local residents told reporters they were worried about what would happen next.",
    "The ministry said more details would be published in the coming days.",
    "Opposition parties called for a full inquiry into how the situation was handled.",
)


def _name(rng: random.Random, parts: int) -> str:
    return "".join(rng.choice(_SYLLABLES) for _ in range(parts)).capitalize()


@dataclass(frozen=True, slots=True)
class _Event:
    """The facts every report of one event shares."""

    id: int
    topic: int
    when: datetime
    person: str
    role: str
    other: str
    place: str
    region: str
    org: str
    numbers: tuple[float, ...]
    famous: str | None


def _amount(value: float, rng: random.Random) -> str:
    """The same figure as different outlets write it: "1.2 million" or "1,200,000"."""
    if value >= 1e6 and rng.random() < 0.5:
        return f"{value:,.0f}"
    if value >= 1e9:
        return f"{value / 1e9:g} billion"
    if value >= 1e6:
        return f"{value / 1e6:g} million"
    return f"{value:,.0f}" if value >= 1000 else f"{value:g}"


def _pct(value: float, rng: random.Random) -> str:
    return f"{value:g}%" if rng.random() < 0.5 else f"{value:g} percent"


# Per topic: (headlines, leads, details). Slots: {P} person, {R} role, {O} other person,
# {L} place, {G} region, {C} organisation, {F} famous name, {A} {B} amounts, {X} percent, {Y} count.
_TOPICS: tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    (  # politics
        ("{P} wins {L} mayoral vote", "{L} elects {P} as mayor", "Upset in {L} as {P} takes city"),
        (
            "{P} won the mayoral election in {L} on Sunday with {X} of the vote, defeating "
            "incumbent {O}.",
            "Voters in {L} chose {P} as their new mayor, handing {O} a defeat after {X} backed "
            "the challenger.",
            "{P}, a former {R}, will lead {L} after taking {X} of ballots against {O}.",
        ),
        (
            "Turnout across {G} reached {Y} voters, officials said.",
            "{P} promised to cut the city budget by {A} dollars in the first year.",
            "{O} conceded late in the evening and congratulated {P}.",
            "The campaign was the most expensive in {L} history, costing {B} dollars.",
            "{F} congratulated {P} in a message posted online.",
            "{C} said it would work with the new administration in {L}.",
        ),
    ),
    (  # disaster
        ("Floods hit {L} as river bursts banks", "{L} evacuates {Y} after floods", "Storm in {G}"),
        (
            "Flooding forced {Y} people from their homes in {L} after the river burst its banks, "
            "emergency services in {G} said.",
            "Emergency crews evacuated {Y} residents of {L} as floodwater rose across {G}.",
            "Heavy rain flooded {L} on Friday, and {Y} people were moved to shelters in {G}.",
        ),
        (
            "{P}, the {R} of {G}, declared a state of emergency.",
            "Damage was estimated at {A} euros, according to {C}.",
            "Water levels rose {X} above the seasonal average.",
            "{O}, who runs a shelter in {L}, said supplies were running short.",
            "{F} offered help from national reserves worth {B} euros.",
            "Rail services through {L} were suspended.",
        ),
    ),
    (  # business
        ("{C} profit jumps {X}", "{C} beats forecasts", "{C} shares rise after results"),
        (
            "{C} reported a {X} rise in quarterly profit to {A} dollars, beating forecasts, "
            "chief executive {P} said.",
            "Profit at {C} climbed {X} to {A} dollars in the quarter, the company based in {L} "
            "said.",
            "{C}, led by {P}, posted quarterly profit of {A} dollars, up {X} on a year ago.",
        ),
        (
            "Revenue reached {B} dollars, helped by demand in {G}.",
            "{P} said the company would hire {Y} workers at its plant in {L}.",
            "Finance chief {O} said costs had stabilised.",
            "Shares of {C} rose in early trading in {L}.",
            "{F} praised the investment plan on social media.",
            "Analysts had expected a smaller gain.",
        ),
    ),
    (  # courts
        ("Court blocks {C} merger", "{L} judge halts {C} deal", "{C} deal blocked by court"),
        (
            "A court in {L} blocked the {A} dollar takeover of {C}, ruling that it would harm "
            "competition in {G}.",
            "Judge {P} halted the planned {A} dollar acquisition of {C} in a ruling issued in {L}.",
            "The {A} dollar deal for {C} was stopped by a {L} court on competition grounds.",
        ),
        (
            "Judge {P} said the merged firm would have controlled {X} of the market.",
            "{C} said it would appeal and called the ruling disappointing.",
            "Regulator {O} welcomed the decision.",
            "The case affected {Y} jobs across {G}.",
            "{F} had backed the deal last year.",
            "The companies had offered to sell assets worth {B} dollars to win approval.",
        ),
    ),
    (  # labour
        ("{C} workers strike in {L}", "Strike halts {C} in {G}", "{Y} walk out at {C}"),
        (
            "About {Y} workers at {C} walked out in {L} on Monday demanding a {X} pay rise, "
            "union leader {P} said.",
            "Staff at {C} across {G} went on strike, with {Y} joining the walkout over pay.",
            "A strike by {Y} employees shut {C} sites in {L}, the union said.",
        ),
        (
            "{P} said the union wanted a {X} raise to match inflation.",
            "Management under {O} offered a smaller increase.",
            "The stoppage is costing {C} about {A} euros a day.",
            "Talks are due to resume in {L} next week.",
            "{F} urged both sides to reach a deal.",
            "Pension demands worth {B} euros were also on the table.",
        ),
    ),
    (  # sport
        ("{L} win cup final", "{L} lift the cup", "Cup glory for {L}"),
        (
            "{L} won the cup final in {G} on Saturday, with {P} scoring twice in front of "
            "{Y} fans.",
            "{P} scored twice as {L} beat their rivals in the final, watched by {Y} supporters.",
            "Two goals from {P} gave {L} the cup in a final played before {Y} spectators.",
        ),
        (
            "Coach {O} said it was the best day of his career.",
            "The club received prize money of {A} euros.",
            "{C} sponsors the side in a deal worth {B} euros.",
            "{P} has now scored {X} of the team's goals this season.",
            "{F} attended the match.",
            "Celebrations continued late into the night across {G}.",
        ),
    ),
)
_ROLES = ("minister", "governor", "senator", "lawyer", "teacher", "engineer", "banker", "doctor")


def _events(rng: random.Random) -> Iterator[_Event]:
    people = [f"{rng.choice(_FIRST)} {_name(rng, rng.choice((2, 3)))}" for _ in range(6000)]
    places = [_name(rng, rng.choice((2, 3))) for _ in range(2500)]
    regions = [
        _name(rng, 2) + rng.choice(("ia", "land", " Province", " Valley")) for _ in range(300)
    ]
    orgs = [
        _name(rng, 2) + rng.choice((" Holdings", " Group", " Motors", " Energy", " Bank", " Air"))
        for _ in range(1500)
    ]
    number = 0
    while True:
        number += 1
        yield _Event(
            id=number,
            topic=rng.randrange(len(_TOPICS)),
            when=START,  # set by the caller from the stream position
            person=rng.choice(people),
            role=rng.choice(_ROLES),
            other=rng.choice(people),
            place=rng.choice(places),
            region=rng.choice(regions),
            org=rng.choice(orgs),
            numbers=(
                round(rng.uniform(1, 900), 1) * 10 ** rng.choice((6, 9)),
                round(rng.uniform(1, 900), 1) * 10 ** rng.choice((6, 9)),
                round(rng.uniform(11, 80), 1),
                rng.randrange(200, 90_000, 10),
            ),
            famous=rng.choice(_FAMOUS) if rng.random() < 0.35 else None,
        )


def _report(event: _Event, rng: random.Random, extra: bool = False) -> tuple[str, str]:
    """One outlet's headline and text for `event`: its own choice of sentences and wording."""
    heads, leads, details = _TOPICS[event.topic]
    a, b, x, y = event.numbers
    slots = {
        "P": event.person,
        "R": event.role,
        "O": event.other,
        "L": event.place,
        "G": event.region,
        "C": event.org,
        "F": event.famous or "The prime minister",
        "A": _amount(a, rng),
        "B": _amount(b, rng),
        "X": _pct(x, rng),
        "Y": _amount(y, rng),
    }
    chosen = [d for d in details if event.famous or "{F}" not in d]
    rng.shuffle(chosen)
    body = [rng.choice(leads), *chosen[: rng.randint(2, 4)]]
    body += rng.sample(_FILLER, rng.randint(1, 3))
    if extra:
        body.append(rng.choice(_FILLER))
    rng.shuffle(body[1:])  # keep the lead first; the rest in any order
    paragraphs = [" ".join(body[i : i + 2]) for i in range(0, len(body), 2)]
    text = "\n\n".join(paragraphs).format(**slots)
    return rng.choice(heads).format(**slots), text


def make_labelled(n: int, seed: int = 7) -> list[tuple[Article, int]]:
    """`n` articles with their true event ids, oldest first, from `FEEDS` feeds."""
    rng = random.Random(seed)
    span = timedelta(days=max(1.0, n / PER_DAY))
    out: list[tuple[Article, int]] = []
    events = _events(rng)
    while len(out) < n:
        event = next(events)
        when = START + span * rng.random()
        for feed in rng.sample(range(FEEDS), rng.randint(2, 6)):
            published = when + timedelta(hours=rng.uniform(0, 30))
            versions = 2 if rng.random() < 0.15 else 1  # an updated copy under a new URL
            for version in range(versions):
                title, text = _report(event, rng, extra=version > 0)
                url = f"https://feed{feed:03d}.example/news/e{event.id}/v{version}"
                stamp = published + timedelta(hours=3 * version)
                article = Article(
                    url=url,
                    title=title,
                    source=f"Outlet {feed:03d}",
                    text=text,
                    published=stamp,
                    fetched_at=stamp,
                    origin=f"https://feed{feed:03d}.example/rss",
                )
                out.append((article, event.id))
    out = out[:n]
    out.sort(key=lambda pair: pair[0].published or pair[0].fetched_at)
    return out


def _external(n: int, seed: int) -> list[tuple[Article, int]] | None:
    """Articles from benches/synthetic.py, when it exists and its URLs name the event."""
    try:
        module = importlib.import_module("benches.synthetic")
    except ImportError:
        return None
    maker: Callable[..., Iterator[Article]] = module.make_articles
    labelled: list[tuple[Article, int]] = []
    for article in maker(n, seed=seed):
        match = _EVENT_IN_URL.search(article.url)
        if match is None:
            return None
        labelled.append((article, int(match.group(1))))
    labelled.sort(key=lambda pair: pair[0].published or pair[0].fetched_at)
    return labelled


# --- Measuring ----------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    n: int
    add_s: float
    signature_s: float
    assign_s: float
    digest_s: float
    grouping_s: float
    stories: int
    events: int
    precision: float
    recall: float
    digest_stories: int
    digest_sources: int


def _pairs(sizes: Counter[int] | Counter[tuple[int, int]]) -> int:
    return sum(k * (k - 1) // 2 for k in sizes.values())


def _briefing(article: Article) -> Briefing:
    # A stand-in for the briefing made at ingest, so the digest reuses it (not what is timed).
    lead = article.text.split(". ", 1)[0]
    return Briefing(article.title, (Bullet(lead),))


def _grouping_query(store: Store, channel: ChannelRef, limit: int) -> int:
    """What a story digest does with the store: new articles -> stories -> top stories' members."""
    new = store.undelivered_articles(channel, limit=limit)
    ids = [a.id for a in new if a.id is not None]
    story_of = store.story_ids(ids)
    sizes = Counter(story_of.values())
    top = [sid for sid, _ in sizes.most_common(10)]
    members = store.story_articles(top)
    return sum(len(v) for v in members.values())


def run(n: int, seed: int, folder: Path, *, builtin: bool = False) -> Result:
    labelled = (None if builtin else _external(n, seed)) or make_labelled(n, seed)
    store = Store.open(folder / f"bench-{n}.db")
    add_s = sig_s = assign_s = 0.0
    event_of: dict[int, int] = {}
    clock = time.perf_counter
    for article, event in labelled:
        t0 = clock()
        stored, added = store.add_article(article, _briefing(article))
        t1 = clock()
        if not added or stored.id is None:
            continue
        terms(stored.title, stored.text, stored.language)
        t2 = clock()
        assign_story(store, stored)
        t3 = clock()
        add_s += t1 - t0
        sig_s += t2 - t1
        assign_s += t3 - t2
        event_of[stored.id] = event
    story_of = store.story_ids(list(event_of))
    together = Counter((story_of[i], e) for i, e in event_of.items())
    found = _pairs(together)
    predicted = _pairs(Counter(story_of.values()))
    true = _pairs(Counter(event_of.values()))
    channel = ChannelRef("bench", "c1")
    whole_window(store, channel)
    t0 = clock()
    digest = build_digest(store, channel, max_stories=10, now=START + timedelta(days=60))
    t1 = clock()
    _grouping_query(store, channel, limit=len(event_of))
    t2 = clock()
    store.close()
    return Result(
        n=len(event_of),
        add_s=add_s,
        signature_s=sig_s,
        assign_s=assign_s,
        digest_s=t1 - t0,
        grouping_s=t2 - t1,
        stories=len(set(story_of.values())),
        events=len(set(event_of.values())),
        precision=found / predicted if predicted else 1.0,
        recall=found / true if true else 1.0,
        digest_stories=len(digest.stories),
        digest_sources=sum(len(s.sources) for s in digest.stories),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated N (e.g. 50000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--generators",
        default="synthetic,builtin",
        help="comma-separated: synthetic (benches/synthetic.py), builtin (the one here)",
    )
    parser.add_argument("--builtin", action="store_true", help="same as --generators builtin")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    generators = ["builtin"] if args.builtin else args.generators.split(",")
    for generator in generators:
        builtin = generator.strip() == "builtin"
        if not builtin and _external(10, args.seed) is None:
            print("benches/synthetic.py is missing or unlabelled; skipped")
            continue
        source = "built-in generator" if builtin else "benches/synthetic.py"
        print(f"articles: {source}; {FEEDS} feeds, one process")
        _print_runs(sizes, args.seed, builtin)


def _print_runs(sizes: list[int], seed: int, builtin: bool) -> None:
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            r = run(n, seed, Path(tmp), builtin=builtin)
            results.append(r)
            us = 1e6 / r.n
            print(
                f"  N={r.n:>6}  ingest us/article: add_article {r.add_s * us:4.0f}"
                f"  terms {r.signature_s * us:4.0f}  assign_story {r.assign_s * us:4.0f}"
                f"  (assign total {r.assign_s:6.2f}s)"
            )
            print(
                f"            stories {r.stories} vs events {r.events}"
                f"  pairwise precision {r.precision:.3f} recall {r.recall:.3f}"
            )
            print(
                f"            build_digest {r.digest_s * 1000:7.1f} ms"
                f" ({r.digest_stories} stories, {r.digest_sources} sources)"
                f"  grouping query over all new {r.grouping_s * 1000:7.1f} ms"
            )
    for prev, cur in itertools.pairwise(results):
        scale = cur.n / prev.n
        print(
            f"  growth {prev.n}->{cur.n} (time ratio / size ratio; 1.0 = linear):"
            f" assign_story {cur.assign_s / prev.assign_s / scale:.2f}"
            f"  terms {cur.signature_s / prev.signature_s / scale:.2f}"
            f"  build_digest {cur.digest_s / prev.digest_s / scale:.2f}"
            f"  grouping query {cur.grouping_s / prev.grouping_s / scale:.2f}"
        )


if __name__ == "__main__":
    main()
