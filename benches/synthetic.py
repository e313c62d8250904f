"""Synthetic but news-shaped articles for benchmarks: fast, deterministic, with near-duplicates.

Every article reports one *event* (a council vote, company results, a storm, a strike, a
ministerial announcement or a match) with random but consistent names, places and numbers.
Each event is reported by 2-6 outlets in different wording -- different headline and sentence
templates, facts in a different order, different background filler -- but with the same names,
places and numbers, as real outlets do; clustering benchmarks use that. Articles run 300-600
words. About 4,000 articles a second on one core.

The event an article reports is in its URL (``https://news.example/<outlet>/e<event>-<n>``);
`event_id` reads it back. `make_reports` also yields the `Event`, whose `facts` hold the
questions an article of it answers (with a phrase the answer must contain), for `/ask`.

Example:
    for article in make_articles(10_000, seed=7):
        store.add_article(article)
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.models import Article

__all__ = ["Event", "event_id", "make_articles", "make_reports"]

_FIRST = """
Anna Boris Clara Daniel Elena Farid Greta Hugo Ines Jonas Katarina Luca Marta Nikolai Olga
Pavel Rita Stefan Tamara Viktor Yara Zoran Amira Bruno Celine Dmitri Eva Felix Hana Igor Jana
Karim Lena Milan Nadia Oskar Petra Rafael Sofia Tomas Ulla Vera Wim Xenia Yusuf Zofia Adrian
Bianca Cyril Dora Emil Fiona Goran Helga Ivo Julia Kamil Laura Matteo Nora
""".split()
_LAST = """
Novak Kowalski Horvat Lindqvist Petrov Moreau Schneider Rossi Jansen Varga Dumont Berger
Kovacs Marek Sorensen Ivanova Weber Costa Fischer Nowak Hoffmann Bauer Lambert Richter Keller
Vogel Brandt Ferrari Romano Popescu Ionescu Dragan Halvorsen Nilsson Andersen Larsen Virtanen
Korhonen Mazur Wojcik Kaminski Lewandowski Zielinski Szabo Toth Balogh Fontaine Girard Mercier
Blanc Garnier Faure Rousseau Vidal Navarro Ortega Castillo Moreno Delgado Serrano Molina
""".split()
_CITIES = """
Riverton Eastbrook Marlow Kessin Dunmore Halbury Ostrava Velden Tarnow Brixham Caldera Lorwick
Fennick Ardmore Selby Vantor Greywater Holmfirth Kestrel Linden Mirefield Northam Oakridge
Pellham Quarry Redvale Stanton Thornbury Upwell Wexcombe Yarrow Zeller Brennick Castlow Dravik
Elmstead Farrow Glenmore Harwick Ilford Jarrow Kilbride Larchmont Millbrook Newhaven Orwell
""".split()
_COUNTRIES = """
Norland Valdoria Estmark Carpathia Lusitia Baltrova Ostland Meridia Galvania Pelagia Silvania
Tavria Ruthenia Dalmora Vesterland Arkadia
""".split()
_ORG_HEAD = """
Corvid Halden Brightwater Novis Arcturus Meridian Kestrel Ironvale Bluefin Sable Quantis
Lumen Vantage Orchard Stratus Harbor Pinecrest Granite Solstice Tidewell Copperline Northwind
""".split()
_ORG_TAIL = """
Semiconductors Logistics Energy Pharmaceuticals Telecom Motors Airlines Foods Robotics
Insurance Mining Shipping Software Steel Retail Biotech
""".split()
_OUTLETS = """
Danube-Dispatch Northline-News Central-Europe-Wire Market-Ledger Riverton-Courier
Baltic-Herald Morning-Star-Review Evening-Post Harbour-Gazette Civic-Observer Metro-Journal
Valley-Chronicle Coastal-Times Capital-Report Union-Tribune Frontier-Press
""".split()
_PROJECTS = [
    ("protected bike lanes", "kilometres"),
    ("affordable homes", "homes"),
    ("tram line extension", "kilometres"),
    ("new primary schools", "schools"),
    ("flood barriers", "metres"),
    ("public charging points", "chargers"),
    ("street trees", "trees"),
]
_PRODUCTS = """
data-centre chips, electric vans, cancer drugs, satellite links, cargo drones, heat pumps,
payment software, battery packs, wind turbines, budget flights
""".replace("\n", " ").split(", ")
_POLICIES = [
    "a tax on sugary drinks",
    "free public transport for students",
    "a four-day working week in the civil service",
    "a ban on short-haul flights",
    "higher pensions for farmers",
    "a cap on rents in large cities",
    "a new border agency",
    "compulsory military service",
]
_MINISTRIES = ["finance", "transport", "health", "defence", "labour", "energy", "interior"]
_SPORTS_TEAMS = ["United", "Rovers", "Athletic", "City", "Wanderers", "Rangers", "Albion"]
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_TOPIC_LIST = (
    "inflation",
    "housing costs",
    "tourism",
    "exports",
    "unemployment",
    "energy prices",
    "interest rates",
    "migration",
    "broadband coverage",
    "hospital waiting lists",
    "school results",
    "crime figures",
    "rail punctuality",
    "water quality",
    "air pollution",
    "farm incomes",
    "retail sales",
    "factory output",
)

# Background filler: what makes articles 300-600 words and gives BM25 realistic noise.
_FILLER = (
    "Analysts at {org} said {topic} had {moved} {pct} percent since {month}.",
    "The figures come as {country} prepares for a general election in {month}.",
    "{person}, an economist at the University of {city}, said the trend was likely to continue.",
    "Officials in {city} have been under pressure over {topic} for several years.",
    "Local businesses said they would wait for more details before making plans.",
    "A survey by {org} found that {pct} percent of residents were worried about {topic}.",
    "The opposition accused the government of ignoring {topic} in {city} and {city2}.",
    "Last year {city} recorded its highest level of {topic} in more than a decade.",
    "Critics say the plans do too little, too late, while supporters call them overdue.",
    "{person} of {org} told reporters on {weekday} that the sector faced a difficult winter.",
    "Neighbouring {city2} took similar steps in {month}, with mixed results.",
    "Campaigners gathered outside the town hall in {city} on {weekday} morning.",
    "The announcement was welcomed by trade groups but drew criticism from unions.",
    "Figures published by the statistics office showed {topic} {moved} {pct} percent.",
    "Residents who spoke to reporters were divided over what the change would mean.",
    "It was not immediately clear how the plan would be paid for.",
    "A spokesperson for {org} declined to comment on the matter.",
    "{person} said the decision had been taken after months of consultation.",
    "The debate has split opinion across {country}, polls suggest.",
    "More details are expected to be published in {month}.",
)


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened; `facts` are (question, phrase its answer contains) pairs."""

    id: int
    kind: str
    facts: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    event: Event
    headlines: tuple[str, ...]
    lead: tuple[str, ...]  # variants of the first sentence
    body: tuple[tuple[str, ...], ...]  # each fact sentence, in several wordings
    place: str
    when: datetime


def _person(rng: random.Random) -> str:
    return f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"


def _org(rng: random.Random) -> str:
    return f"{rng.choice(_ORG_HEAD)} {rng.choice(_ORG_TAIL)}"


def _council(rng: random.Random, n: int, when: datetime) -> _Plan:
    city = rng.choice(_CITIES)
    project, unit = rng.choice(_PROJECTS)
    size = rng.randint(3, 400)
    yes = rng.randint(5, 11)
    no = rng.randint(0, yes - 1)
    cost = round(rng.uniform(1.5, 90.0), 1)
    mayor = _person(rng)
    start = rng.choice(_MONTHS)
    day = _WEEKDAYS[when.weekday()]
    what = f"{size} {unit} of {project}" if unit != project.split()[-1] else f"{size} {project}"
    return _Plan(
        event=Event(
            n,
            "council",
            (
                (f"What did the {city} council approve?", str(size)),
                (f"How much will the {city} {project} cost?", f"{cost} million"),
                (f"What did Mayor {mayor} say about the {project}?", mayor.split()[1]),
            ),
        ),
        headlines=(
            f"{city} council approves {what}",
            f"{city} backs {cost} million plan for {project}",
            f"Councillors in {city} vote {yes}-{no} for {project}",
        ),
        lead=(
            f"The {city} city council voted {yes}-{no} on {day} to approve {what}.",
            f"Councillors in {city} on {day} approved a {cost} million dollar plan for {what}.",
            f"{city} will build {what} after the council backed the plan by {yes} votes to {no}.",
        ),
        body=(
            (
                f"The plan will cost {cost} million dollars, the council said.",
                f"The {project} are expected to cost {cost} million dollars.",
            ),
            (
                f"Mayor {mayor} said the {project} would make the city safer and fairer.",
                f'"This is the biggest investment in a generation," Mayor {mayor} said.',
            ),
            (
                f"Work is due to start in {start} and take about two years.",
                f"Construction will begin in {start}, officials said.",
            ),
            (
                f"{no} councillors voted against, citing the cost.",
                f"Opponents on the council, {no} in all, said the money should go elsewhere.",
            ),
        ),
        place=city,
        when=when,
    )


def _earnings(rng: random.Random, n: int, when: datetime) -> _Plan:
    org = _org(rng)
    product = rng.choice(_PRODUCTS)
    pct = rng.randint(3, 60)
    up = rng.random() < 0.6
    revenue = round(rng.uniform(0.4, 40.0), 1)
    ceo = _person(rng)
    shares = rng.randint(2, 25)
    verb, move = ("raised", "rose") if up else ("cut", "fell")
    return _Plan(
        event=Event(
            n,
            "earnings",
            (
                (f"What did {org} say about its revenue forecast?", f"{revenue} billion"),
                (f"Who is the chief executive of {org}?", ceo),
                (f"How much did {org} shares move?", f"{shares} percent"),
            ),
        ),
        headlines=(
            f"{org} {'raises' if up else 'cuts'} outlook as {product} orders "
            f"{'climb' if up else 'fall'}",
            f"{org} shares {'jump' if up else 'slide'} {shares}% on {product} demand",
            f"{org} now expects {revenue} billion in revenue",
        ),
        lead=(
            f"{org} {verb} its full-year revenue forecast after orders for its {product} "
            f"{move} {pct} percent.",
            f"Orders for {org}'s {product} {move} {pct} percent in the quarter, and the company "
            f"{verb} its outlook.",
        ),
        body=(
            (
                f"The company now expects revenue of {revenue} billion dollars for the year.",
                f"It forecast annual revenue of {revenue} billion dollars.",
            ),
            (
                f"Chief executive {ceo} said demand for {product} had surprised the company.",
                f'"Demand for {product} has been stronger than we planned for," chief '
                f"executive {ceo} said.",
            ),
            (
                f"Shares {move} {shares} percent in after-hours trading.",
                f"The stock {move} {shares} percent after the announcement.",
            ),
        ),
        place=rng.choice(_CITIES),
        when=when,
    )


def _storm(rng: random.Random, n: int, when: datetime) -> _Plan:
    city = rng.choice(_CITIES)
    country = rng.choice(_COUNTRIES)
    rain = rng.randint(40, 300)
    evacuated = rng.randint(50, 9000)
    homes = rng.randint(100, 60000)
    official = _person(rng)
    day = _WEEKDAYS[when.weekday()]
    return _Plan(
        event=Event(
            n,
            "storm",
            (
                (f"How many people were evacuated in {city}?", str(evacuated)),
                (f"How much rain fell in {city}?", f"{rain} millimetres"),
            ),
        ),
        headlines=(
            f"Storm floods {city} as {rain} mm of rain falls in a day",
            f"Thousands evacuated in {city} after record rainfall",
            f"{country} storm: {homes} homes without power in {city}",
        ),
        lead=(
            f"A storm dropped {rain} millimetres of rain on {city} on {day}, forcing "
            f"{evacuated} people from their homes.",
            f"Emergency services in {city} evacuated {evacuated} people on {day} after "
            f"{rain} millimetres of rain fell.",
        ),
        body=(
            (
                f"About {homes} homes were left without power, the grid operator said.",
                f"Power was cut to roughly {homes} homes across the region.",
            ),
            (
                f"Civil protection chief {official} said the rainfall was the heaviest on record.",
                f'"We have never seen this much rain in a single day," {official} said.',
            ),
            (
                f"Schools in {city} will stay closed until the water recedes.",
                f"Officials in {country} said schools in {city} would remain shut.",
            ),
        ),
        place=city,
        when=when,
    )


def _strike(rng: random.Random, n: int, when: datetime) -> _Plan:
    city = rng.choice(_CITIES)
    org = _org(rng)
    workers = rng.randint(300, 40000)
    raise_pct = rng.randint(4, 20)
    days = rng.randint(1, 10)
    leader = _person(rng)
    return _Plan(
        event=Event(
            n,
            "strike",
            (
                (f"How many workers are striking at {org}?", str(workers)),
                (f"What pay rise do the {org} workers want?", f"{raise_pct} percent"),
            ),
        ),
        headlines=(
            f"{workers} {org} workers strike over pay",
            f"Strike halts {org} sites in {city}",
            f"Union demands {raise_pct}% rise as {org} walkout begins",
        ),
        lead=(
            f"About {workers} workers at {org} walked out on a {days}-day strike over pay.",
            f"A {days}-day strike by {workers} {org} employees began in {city}.",
        ),
        body=(
            (
                f"The union is demanding a pay rise of {raise_pct} percent.",
                f"Workers want wages to rise by {raise_pct} percent to keep up with prices.",
            ),
            (
                f"Union leader {leader} said members had been left with no choice.",
                f'"Our members cannot pay their rent," union leader {leader} said.',
            ),
            (
                f"{org} said its offer was fair and urged staff to return to work.",
                "The company called the strike unnecessary.",
            ),
        ),
        place=city,
        when=when,
    )


def _policy(rng: random.Random, n: int, when: datetime) -> _Plan:
    country = rng.choice(_COUNTRIES)
    ministry = rng.choice(_MINISTRIES)
    minister = _person(rng)
    policy = rng.choice(_POLICIES)
    cost = rng.randint(50, 5000)
    year = rng.randint(2026, 2030)
    return _Plan(
        event=Event(
            n,
            "policy",
            (
                (f"What did {minister} announce?", policy.split()[-1]),
                (f"When will the {country} {ministry} plan take effect?", str(year)),
            ),
        ),
        headlines=(
            f"{country} to introduce {policy}",
            f"{minister} unveils plan for {policy}",
            f"{country}'s {ministry} minister promises {policy} by {year}",
        ),
        lead=(
            f"{country}'s {ministry} minister {minister} announced {policy}, to take effect "
            f"in {year}.",
            f"The government of {country} will introduce {policy} from {year}, {ministry} "
            f"minister {minister} said.",
        ),
        body=(
            (
                f"The measure is expected to cost {cost} million a year.",
                f"Officials put the annual cost at {cost} million.",
            ),
            (
                f'"This is a fair deal for everyone in {country}," {minister} said.',
                f"{minister} said the plan was fair and affordable.",
            ),
            (
                f"Opposition parties in {country} said they would vote against it.",
                f"The opposition called {policy} a gimmick.",
            ),
        ),
        place=country,
        when=when,
    )


def _match(rng: random.Random, n: int, when: datetime) -> _Plan:
    home_city, away_city = rng.sample(_CITIES, 2)
    home = f"{home_city} {rng.choice(_SPORTS_TEAMS)}"
    away = f"{away_city} {rng.choice(_SPORTS_TEAMS)}"
    a, b = rng.randint(1, 5), rng.randint(0, 3)
    scorer = _person(rng)
    crowd = rng.randint(3000, 60000)
    return _Plan(
        event=Event(
            n,
            "match",
            (
                (f"Who scored for {home}?", scorer.split()[1]),
                (f"What was the score between {home} and {away}?", f"{a}-{b}"),
            ),
        ),
        headlines=(
            f"{home} beat {away} {a}-{b}",
            f"{scorer} inspires {home} to win over {away}",
        ),
        lead=(
            f"{home} beat {away} {a}-{b} in front of {crowd} fans.",
            f"{scorer} scored twice as {home} won {a}-{b} against {away}.",
        ),
        body=(
            (
                f"{scorer} opened the scoring after 12 minutes.",
                f"The first goal came from {scorer}.",
            ),
            (
                f"The crowd of {crowd} was the largest of the season.",
                f"Some {crowd} supporters watched the game.",
            ),
        ),
        place=home_city,
        when=when,
    )


_KINDS: tuple[Callable[[random.Random, int, datetime], _Plan], ...] = (
    _council,
    _earnings,
    _storm,
    _strike,
    _policy,
    _match,
)


def _filler(rng: random.Random, place: str) -> str:
    template = rng.choice(_FILLER)
    return template.format(
        org=_org(rng),
        topic=rng.choice(_TOPIC_LIST),
        moved=rng.choice(("risen", "fallen", "grown", "dropped")),
        pct=rng.randint(1, 40),
        month=rng.choice(_MONTHS),
        country=rng.choice(_COUNTRIES),
        person=_person(rng),
        city=place if rng.random() < 0.5 else rng.choice(_CITIES),
        city2=rng.choice(_CITIES),
        weekday=rng.choice(_WEEKDAYS),
    )


def _write(rng: random.Random, plan: _Plan, outlet: str, copy: int) -> Article:
    """One outlet's report: own headline, lead and fact wording, order, filler and length."""
    target = rng.randint(300, 600)
    facts = [rng.choice(variants) for variants in plan.body]
    rng.shuffle(facts)
    sentences = [rng.choice(plan.lead), *facts]
    words = sum(len(s.split()) for s in sentences)
    while words < target:
        line = _filler(rng, plan.place)
        # Filler goes anywhere after the lead: outlets bury facts at different depths.
        sentences.insert(rng.randint(1, len(sentences)), line)
        words += len(line.split())
    paragraphs: list[str] = []
    i = 0
    while i < len(sentences):
        step = rng.randint(1, 3)
        paragraphs.append(" ".join(sentences[i : i + step]))
        i += step
    published = plan.when + timedelta(minutes=rng.randint(0, 600))
    name = outlet.replace("-", " ")
    return Article(
        url=f"https://news.example/{outlet.lower()}/e{plan.event.id}-{copy}",
        title=plan.headlines[copy % len(plan.headlines)],
        source=name,
        text="\n\n".join(paragraphs),
        published=published,
        fetched_at=published + timedelta(minutes=5),
    )


def make_reports(n: int, seed: int = 0) -> Iterator[tuple[Event, Article]]:
    """`n` articles with the event each reports; events get 2-6 reports from distinct outlets."""
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    made = 0
    event = 0
    while made < n:
        when = start + timedelta(minutes=rng.randint(0, 365 * 24 * 60))
        plan = rng.choice(_KINDS)(rng, event, when)
        for copy, outlet in enumerate(rng.sample(_OUTLETS, rng.randint(2, 6))):
            if made >= n:
                break
            yield plan.event, _write(rng, plan, outlet, copy)
            made += 1
        event += 1


def make_articles(n: int, seed: int = 0) -> Iterator[Article]:
    """`n` synthetic articles, deterministic for a `seed` (see the module docstring)."""
    for _, article in make_reports(n, seed):
        yield article


_EVENT_IN_URL = re.compile(r"/e(\d+)-\d+$")


def event_id(article: Article) -> int | None:
    """The event a synthetic article reports (same id = same story), from its URL."""
    match = _EVENT_IN_URL.search(article.url)
    return int(match.group(1)) if match else None
