"""PostgreSQL against SQLite at 100k articles, and replicas sharing one PostgreSQL (issue 16).

Run: ``.venv/bin/python benches/replicas.py [--articles 100000] [--keep DIR]
[--parts ask,digest,replicas] [--replicas 1,2,3]``

``--keep DIR`` keeps the SQLite file and the PostgreSQL data folder (a server from `pgserver`)
in DIR and reuses them on the next run with the same ``--articles`` and ``--seed``: loading
100k articles takes minutes, and the load time is printed when it happens.

1. /ask at N stored articles: the same synthetic articles and seeds (`benches/ask_latency.py`)
   in an SQLite file and a PostgreSQL database, loaded in one pass of 2,000-row transactions
   (then ``VACUUM ANALYZE``, as autovacuum would); the same ~200 questions asked on both,
   backends alternating question by question, a cold round (right after opening; with
   ``--keep``, the OS page cache may be warm) and a warm one. Printed: p50/p95/max per backend
   and PostgreSQL/SQLite. Must: p95 < 200 ms on both.
2. Digest build at N stored: `build_digest` for a channel with every article new and in its
   window (`benches.bulk_store.whole_window`: the `CANDIDATE_LIMIT` fetched last are
   candidates; an event's reports share a story, as `bot.cluster` would group them), one
   untimed build each first (it stores the briefings it makes), then
   `ROUNDS` alternating rounds; medians and the ratio. Goal: PostgreSQL within 1.5x SQLite.
3. Replicas: 1, 2 and 3 real ``python -m bot run`` processes on one fresh PostgreSQL
   database, polling `FEEDS` loopback feeds that answer each request after `FEED_LATENCY` and
   hold no entries (so waiting on feeds, not storing articles, is the work; one poller alone
   could do 200 a minute), with a `POLL_INTERVAL` of 60 s: more due than 3 replicas can poll.
   Digests: `CHANNELS` channels scheduled a minute in the past before start (the leader
   sends them as missed) and `CHANNELS` ``/digest now`` spread over the replicas' Slack
   ports, to a loopback Slack. Printed per replica count: feed polls a minute (all, useful,
   and repeats of a feed another replica had just polled), digests a minute, duplicated and
   lost digests (Must: 0 and 0 in every run), and the 3-vs-1 ratio of useful polls (Goal
   >= 2.5x). Before feeds were claimed per replica (`Store.claim_feeds`), every replica
   polled every feed: the repeat column showed it.

This is a noisy 2-core machine: read medians, and the ratio beside its baseline of the same
run, not single figures.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from benches.ask_latency import ask_all, load, percentile, questions
from benches.bulk_store import whole_window
from bot.digest import build_digest
from bot.models import ChannelRef
from bot.store import Store, open_store

GOAL_P95_MS = 200.0
GOAL_DIGEST_RATIO = 1.5
GOAL_POLL_RATIO = 2.5
ROUNDS = 5
DIGEST_NOW = datetime(2026, 1, 2, tzinfo=UTC)  # after every synthetic article (2025)
BENCH_DB = "newsbrief_bench"


# Servers and stores ---------------------------------------------------------------------------


def start_postgres(folder: Path) -> Any:
    """A PostgreSQL server (`pgserver`) with its data in `folder`, started if not running."""
    import pgserver

    logging.getLogger("pgserver").setLevel(logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    return pgserver.get_server(folder, cleanup_mode="stop")


def database_url(server: Any, name: str, *, fresh: bool = False) -> str:
    """The URL of database `name` on `server`, created if missing (emptied first if `fresh`)."""
    admin = server.get_uri()
    with psycopg.connect(admin, autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if found is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return str(server.get_uri(name))


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline > 0 else "-"


def alternate(calls: Sequence[Callable[[], object]], rounds: int) -> list[list[float]]:
    """Seconds of each call per round, the order of calls flipped every round."""
    times: list[list[float]] = [[] for _ in calls]
    for r in range(rounds):
        order = list(range(len(calls)))
        if r % 2:
            order.reverse()
        for index in order:
            start = time.perf_counter()
            calls[index]()
            times[index].append(time.perf_counter() - start)
    return times


# 1 and 2: one store of each kind --------------------------------------------------------------


def open_pair(root: Path, n: int, seed: int) -> tuple[Store, Store, list[Any], Any]:
    """The SQLite and PostgreSQL stores with `n` articles (loaded now, or kept from before),
    the sampled events, and the PostgreSQL server."""
    server = start_postgres(root / "pg")
    marker = root / f"loaded-{n}-{seed}"
    fresh = not marker.exists()
    lite_path = root / "ask.db"
    if fresh:
        for leftover in root.glob("ask.db*"):
            leftover.unlink()
    url = database_url(server, BENCH_DB, fresh=fresh)
    lite, pg = open_store(lite_path), open_store(url)
    if not fresh:
        events, _ = load([], n, seed, write=False)
        print(f"reusing {root}: {lite.count_articles():,} articles in each store")
        return lite, pg, events, server
    start = time.perf_counter()
    events, spent = load([lite, pg], n, seed)
    total = time.perf_counter() - start
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        vacuum = time.perf_counter() - t0
    t0 = time.perf_counter()
    lite.db.execute("ANALYZE")
    analyze = time.perf_counter() - t0
    print(
        f"loaded {lite.count_articles():,} articles in {total:.0f} s: generating "
        f"{total - sum(spent):.0f} s, storing in SQLite {spent[0]:.0f} s (+ ANALYZE "
        f"{analyze:.0f} s), in PostgreSQL {spent[1]:.0f} s (tokenizing included;"
        f" + VACUUM ANALYZE {vacuum:.0f} s)"
    )
    marker.touch()
    return lite, pg, events, server


def bench_ask(lite: Store, pg: Store, events: list[Any], seed: int) -> bool:
    asked, answerable = questions(events, seed)
    met = True
    print(f"\n/ask: {len(asked)} questions, backends alternating question by question")
    for label in ("cold", "warm"):
        times: dict[str, list[float]] = {"sqlite": [], "postgres": []}
        answers: dict[str, list[Any]] = {"sqlite": [], "postgres": []}
        for index, item in enumerate(asked):
            pair = [("sqlite", lite), ("postgres", pg)]
            if index % 2:
                pair.reverse()
            for name, store in pair:
                spent, answer = ask_all(store, [item])
                times[name] += spent
                answers[name] += answer
        p95s = {}
        for name in ("sqlite", "postgres"):
            t = times[name]
            p95s[name] = percentile(t, 95)
            print(
                f"  {label} {name:8}  p50 {statistics.median(t):6.1f} ms  p95 {p95s[name]:6.1f}"
                f" ms  max {max(t):6.1f} ms"
            )
            met = met and p95s[name] < GOAL_P95_MS
        print(f"  {label} PostgreSQL/SQLite p95: {ratio(p95s['postgres'], p95s['sqlite'])}")
        if label == "cold":
            same = sum(
                [c.url for c in a.citations] == [c.url for c in b.citations]
                for a, b in zip(answers["sqlite"], answers["postgres"], strict=True)
            )
            answered = [sum(x.answered for x in answers[k][:answerable]) for k in answers]
            print(
                f"  same citations on both: {same}/{len(asked)}; answerable answered:"
                f" SQLite {answered[0]}, PostgreSQL {answered[1]} of {answerable}"
            )
    print(f"  Must p95 < {GOAL_P95_MS:.0f} ms on both: {'met' if met else 'NOT met'}")
    return met


def bench_digest(lite: Store, pg: Store) -> None:
    channel = ChannelRef("bench", "digest")
    stores = [lite, pg]
    sizes = []
    for store in stores:
        whole_window(store, channel)
        start = time.perf_counter()
        digest = build_digest(store, channel, max_stories=10, now=DIGEST_NOW)
        sizes.append((time.perf_counter() - start, len(digest.stories)))
    calls = [
        lambda s=store: build_digest(s, channel, max_stories=10, now=DIGEST_NOW) for store in stores
    ]
    times = alternate(calls, ROUNDS)
    lite_s, pg_s = (statistics.median(t) for t in times)
    print(
        f"\ndigest build, all {lite.count_articles():,} articles new, {ROUNDS} alternating rounds"
    )
    print(
        f"  first build (makes briefings): SQLite {sizes[0][0] * 1000:.0f} ms,"
        f" PostgreSQL {sizes[1][0] * 1000:.0f} ms ({sizes[0][1]} and {sizes[1][1]} stories)"
    )
    met = pg_s <= GOAL_DIGEST_RATIO * lite_s
    print(
        f"  median: SQLite {lite_s * 1000:.0f} ms, PostgreSQL {pg_s * 1000:.0f} ms"
        f" -> PostgreSQL/SQLite {ratio(pg_s, lite_s)}"
        f" (goal <= {GOAL_DIGEST_RATIO}x: {'met' if met else 'NOT met'})"
    )


# 3. Replicas ------------------------------------------------------------------------------------

FEEDS = 1000
FEED_LATENCY = 0.3  # seconds before each feed response: 200 polls a minute for one poller
POLL_INTERVAL = 60  # the smallest the settings allow
CHANNELS = 30  # scheduled digests (the leader's), and as many /digest now across the replicas
WINDOW = 120.0  # seconds of polling counted
DIGEST_TIMEOUT = 180.0
ROOT = Path(__file__).resolve().parents[1]


def _rss(index: int, base: str) -> bytes:
    """A feed with no entries: a poll is then fetch, parse and the feed's state, and what is
    measured is polling capacity, not storing and grouping new articles."""
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel>'
        f"<title>Feed {index}</title><link>{base}/</link><description>bench</description>"
        "</channel></rss>"
    ).encode()


class FeedServer:
    """`FEEDS` loopback feeds, each answering after `FEED_LATENCY` (304 when the ETag
    matches); every request is recorded as (monotonic time, feed)."""

    def __init__(self, latency: float = FEED_LATENCY) -> None:
        self.latency = latency
        self.polls: list[tuple[float, int]] = []
        self.base = ""
        self._runner: Any = None

    def urls(self, count: int) -> list[str]:
        return [f"{self.base}/feed/{i}.xml" for i in range(count)]

    async def _feed(self, request: Any) -> Any:
        from aiohttp import web

        index = int(request.match_info["index"])
        self.polls.append((time.monotonic(), index))
        await asyncio.sleep(self.latency)
        etag = f'"v{index}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        return web.Response(
            body=_rss(index, self.base), content_type="application/rss+xml", headers={"ETag": etag}
        )

    async def __aenter__(self) -> FeedServer:
        from aiohttp import web

        app = web.Application()
        app.router.add_get("/feed/{index}.xml", self._feed)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._runner.cleanup()


def count_polls(
    polls: Sequence[tuple[float, int]], start: float, end: float, interval: float
) -> tuple[int, int]:
    """Polls in [start, end), and how many of them repeat a poll of the same feed made less
    than half the poll interval before (by any replica): work another replica had done."""
    last: dict[int, float] = {}
    total = repeated = 0
    for at, feed in sorted(polls):
        before = last.get(feed)
        last[feed] = at
        if not start <= at < end:
            continue
        total += 1
        if before is not None and at - before < interval / 2:
            repeated += 1
    return total, repeated


def digest_outcome(runs_per_channel: dict[str, list[tuple[str, int]]]) -> tuple[int, int, int]:
    """Delivered, duplicated and lost digests, from the (run, part) pairs each channel kept:
    a channel should hold exactly one run, each part once."""
    delivered = duplicated = lost = 0
    for parts in runs_per_channel.values():
        runs = {run for run, _ in parts}
        if not runs:
            lost += 1
            continue
        delivered += 1
        duplicated += len(runs) - 1 + (len(parts) - len(set(parts)))
    return delivered, duplicated, lost


async def _replica(
    index: int, folder: Path, url: str, feeds: list[str], slack_api: str
) -> tuple[Any, int, int]:
    """Start one ``python -m bot run``; returns it, its Slack port and its health port."""
    from benches.chaos import free_port
    from tests.slack_fakes import SIGNING_SECRET

    slack_port, health_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
    env.update(
        {
            "SLACK_BOT_TOKEN": "xoxb-bench",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "NEWSBRIEF_SLACK_MODE": "http",
            "NEWSBRIEF_SLACK_PORT": str(slack_port),
            "NEWSBRIEF_SLACK_API_BASE_URL": slack_api,
            "NEWSBRIEF_HEALTH_PORT": str(health_port),
            "NEWSBRIEF_STORE_URL": url,
            "NEWSBRIEF_FEEDS_URLS": ",".join(feeds),
            "NEWSBRIEF_FEEDS_POLL_INTERVAL": str(POLL_INTERVAL),
            "NEWSBRIEF_FETCH_ALLOW_PRIVATE": "true",
            "NEWSBRIEF_RUN_SHUTDOWN_TIMEOUT": "5",
            "NEWSBRIEF_LOG_LEVEL": "INFO",
        }
    )
    with open(folder / f"bot-{index}.log", "wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=ROOT, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
    return proc, slack_port, health_port


async def _ready(proc: Any, health_port: int, within: float = 60.0) -> None:
    import aiohttp

    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"a replica exited ({proc.returncode}): see its log")
            try:
                async with session.get(f"http://127.0.0.1:{health_port}/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"a replica was not ready within {within:.0f} s")


async def _digest_now(slack_port: int, channel: str, response_url: str) -> bool:
    import aiohttp

    from tests.slack_fakes import signed_headers, slash_body

    body = slash_body("/digest", "now", response_url=response_url, channel=channel)
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(10)) as session,
            session.post(
                f"http://127.0.0.1:{slack_port}/slack/events",
                data=body,
                headers=signed_headers(body),
            ) as r,
        ):
            return r.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def _prepare(url: str, channels: int) -> tuple[list[str], list[str]]:
    """Stories to send, `channels` digests due a minute ago; their and the on-demand
    channels' names."""
    from bot.models import ChannelSettings
    from tests.stories import add_stories

    due = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M")
    scheduled = [f"CS{i:03d}" for i in range(channels)]
    on_demand = [f"CN{i:03d}" for i in range(channels)]
    with open_store(url) as store:
        add_stories(store, 100)
        for name in scheduled:
            ref = ChannelRef("slack", name)
            store.put_channel(ChannelSettings(ref, digest_time=due, timezone="UTC"))
    return scheduled, on_demand


async def run_replicas(server: Any, count: int, folder: Path, window: float) -> dict[str, float]:
    """`count` replicas on a fresh database for `window` seconds of polling; the figures."""
    from tests.slack_fakes import FakeSlack

    folder.mkdir(parents=True, exist_ok=True)
    url = database_url(server, f"newsbrief_replicas_{count}", fresh=True)
    scheduled, on_demand = _prepare(url, CHANNELS)
    async with FeedServer() as feeds, FakeSlack() as slack:
        began, began_at = time.monotonic(), time.perf_counter()
        started = [
            await _replica(i, folder, url, feeds.urls(FEEDS), slack.api_url) for i in range(count)
        ]
        procs = [p for p, _, _ in started]
        try:
            await asyncio.gather(*(_ready(p, h) for p, _, h in started))
            ready = time.monotonic()
            asked = await asyncio.gather(
                *(
                    _digest_now(started[i % count][1], channel, slack.response_url)
                    for i, channel in enumerate(on_demand)
                )
            )
            expected = scheduled + [c for c, ok in zip(on_demand, asked, strict=True) if ok]
            # digests: until every expected channel holds a digest (or the timeout)
            deadline = began + DIGEST_TIMEOUT
            while time.monotonic() < deadline and not all(slack.parts(c) for c in expected):
                await asyncio.sleep(0.25)
            kept_last = max((slack.kept_at[m["ts"]] for m in slack.kept()), default=0.0)
            digest_span = kept_last - began_at
            await asyncio.sleep(max(0.0, ready + window - time.monotonic()))
        finally:
            for proc in procs:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            await asyncio.gather(*(asyncio.wait_for(p.wait(), 30) for p in procs))
        total, repeated = count_polls(feeds.polls, ready, ready + window, POLL_INTERVAL)
        delivered, duplicated, lost = digest_outcome({c: slack.parts(c) for c in expected})
    minutes = window / 60
    return {
        "replicas": count,
        "start_s": ready - began,
        "polls_min": total / minutes,
        "useful_min": (total - repeated) / minutes,
        "repeated_min": repeated / minutes,
        "digests": delivered,
        "expected": len(expected),
        "unacked": len(on_demand) - sum(asked),
        "digests_min": delivered / (digest_span / 60) if digest_span > 0 else 0.0,
        "duplicated": duplicated,
        "lost": lost,
    }


def bench_replicas(root: Path, counts: list[int], window: float) -> bool:
    server = start_postgres(root / "pg")
    print(
        f"\nreplicas: {FEEDS} feeds answering after {FEED_LATENCY * 1000:.0f} ms, poll interval"
        f" {POLL_INTERVAL} s, {window:.0f} s counted from all replicas ready; {CHANNELS}"
        f" scheduled digests (missed at start) + {CHANNELS} /digest now spread over the replicas"
    )
    print(
        f"  {'replicas':>8} {'start':>6} {'polls/min':>9} {'useful/min':>10} {'repeat/min':>10}"
        f" {'digests':>8} {'digests/min':>11} {'dup':>4} {'lost':>4} {'unacked':>7}"
    )
    results = []
    ok = True
    for count in counts:
        r = asyncio.run(run_replicas(server, count, root / f"replicas-{count}", window))
        results.append(r)
        ok = ok and r["duplicated"] == 0 and r["lost"] == 0
        print(
            f"  {count:8d} {r['start_s']:5.1f}s {r['polls_min']:9.0f} {r['useful_min']:10.0f}"
            f" {r['repeated_min']:10.0f} {r['digests']:4.0f}/{r['expected']:<3.0f}"
            f" {r['digests_min']:11.0f} {r['duplicated']:4.0f} {r['lost']:4.0f}"
            f" {r['unacked']:7.0f}",
            flush=True,
        )
    print(
        "  useful = polls not repeating a poll of the same feed less than half an interval"
        " before; digests/min from the first replica's start to the last part kept"
    )
    by_count = {int(r["replicas"]): r for r in results}
    if 1 in by_count and 3 in by_count and by_count[1]["useful_min"] > 0:
        three = by_count[3]["useful_min"] / by_count[1]["useful_min"]
        print(
            f"  3 vs 1 replica, useful polls/min: {three:.2f}x"
            f" (goal >= {GOAL_POLL_RATIO}x: {'met' if three >= GOAL_POLL_RATIO else 'NOT met'})"
        )
    print(f"  Must 0 duplicated and 0 lost digests in every run: {'met' if ok else 'NOT met'}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="keep (and reuse) the databases here")
    parser.add_argument("--parts", default="ask,digest,replicas")
    parser.add_argument("--replicas", default="1,2,3")
    parser.add_argument("--window", type=float, default=WINDOW, help="seconds of polling counted")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    with tempfile.TemporaryDirectory(prefix="replicas-") as tmp:
        root: Path = args.keep or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        if parts & {"ask", "digest"}:
            lite, pg, events, _server = open_pair(root, args.articles, args.seed)
            if "ask" in parts:
                bench_ask(lite, pg, events, args.seed)
            if "digest" in parts:
                bench_digest(lite, pg)
            lite.close()
            pg.close()
        if "replicas" in parts:
            counts = [int(c) for c in args.replicas.split(",")]
            if not bench_replicas(root, counts, args.window):
                raise SystemExit(1)


if __name__ == "__main__":
    main()
