"""Soak: ingest -> digest -> deliver to a fake platform, many cycles, watching memory and delivery.

Run: ``.venv/bin/python benches/soak.py [--cycles 1000] [--per-cycle 3]``

Each cycle writes a few new generated article files (some near-duplicates of earlier ones, which
the store must drop as duplicates or group into a known story), ingests them through
`bot.ingest.pipeline.ingest` into a temporary SQLite store, then sends the channel's digest
through `bot.delivery.send_digest` to an in-process poster that records every article it was
given, with a new slot per cycle. Every 10th cycle also repeats the previous slot (it must be
skipped); every 7th cycle the poster fails once, and `retry_unsent` (run every cycle, an hour
later, within the claim's grace period) must deliver that claim later, once.

Printed: RSS (VmRSS from /proc/self/status) at the start, every 100 cycles and at the end, the
growth, duplicate deliveries (a story posted again with no article the channel had not been
sent), lost ones (ingested but never posted after a final retry) and cycles per second. Goals:
flat RSS, no duplicate, no loss. A digest story carries all its reports, so when a new report
joins a story that was already posted, the earlier reports go out again with it; those
re-posted articles are counted and printed apart, not as duplicates.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.delivery import retry_unsent, send_digest, slot_key
from bot.errors import DeliveryError
from bot.ingest.http import FetchPolicy
from bot.ingest.pipeline import ingest
from bot.models import ChannelRef, Digest, Receipt
from bot.store import Store

CHANNEL = ChannelRef("fake", "soak")
START = datetime(2026, 1, 1, tzinfo=UTC)
# enough stories per digest that a cycle's new articles never wait for a later digest
MAX_STORIES = 50

_PLACES = "Harbour Vale Mirren Ostby Calder Dunmore Elsfield Tarrow Keswin Brackley".split()
_THINGS = "ferry bridge school clinic library market tramline reservoir stadium museum".split()
_VERBS = "opens closes expands delays funds repairs reopens upgrades relocates audits".split()
_PEOPLE = "Ana Novak|Bram Ostrowski|Cleo Farran|Dev Marsh|Elin Quist|Femi Adeyemi".split("|")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def article_text(rng: random.Random, n: int) -> tuple[str, str]:
    place, thing, verb = rng.choice(_PLACES), rng.choice(_THINGS), rng.choice(_VERBS)
    person, amount = rng.choice(_PEOPLE), rng.randint(2, 900)
    title = f"{place} {verb} its {thing} (report {n})"
    body = (
        f"The town of {place} {verb} its {thing} after a council vote on Monday, officials said. "
        f"The project will cost {amount} thousand euros and take {amount % 11 + 2} months. "
        f'"We heard the residents clearly," said {person}, who chairs the works committee. '
        f"Opponents argued that the {thing} budget should go to housing instead. "
        f"Work is due to start in spring, with a public meeting on report {n} next week."
    )
    return title, body


def write_cycle(rng: random.Random, folder: Path, cycle: int, per_cycle: int, last: str) -> str:
    """Write this cycle's files; returns the body of the last one (for near-duplicates)."""
    for k in range(per_cycle):
        n = cycle * per_cycle + k
        if k == 0 and cycle % 5 == 4 and last:
            # a near-duplicate: an outlet rewording the previous cycle's last story slightly
            title, body = f"Update: {n}", last.replace("officials said", "a spokesperson said")
        else:
            title, body = article_text(rng, n)
        last = body
        when = (START + timedelta(minutes=10 * n)).isoformat()
        (folder / f"c{cycle:05d}_{k}.txt").write_text(
            f"# {title}\nSource: Outlet {n % 7}\nDate: {when}\n\n{body}\n", encoding="utf-8"
        )
    return last


class FakePlatform:
    """Records every article id posted to a channel; fails the next post when told to."""

    def __init__(self) -> None:
        self.posted: Counter[int] = Counter()
        self.messages = 0
        self.fail_next = False
        self.failures = 0
        # stories posted again with no article the channel had not had: true duplicates
        self.stale_stories = 0

    async def post(self, channel: ChannelRef, digest: Digest) -> Receipt:
        if self.fail_next:
            self.fail_next = False
            self.failures += 1
            raise DeliveryError(channel.platform, channel.channel, "503 from the fake platform")
        for story in digest.stories:
            ids = [a.id for a in story.articles if a.id is not None]
            if all(i in self.posted for i in ids):
                self.stale_stories += 1
            self.posted.update(ids)
        self.messages += 1
        return Receipt(channel, (f"m{self.messages}",))


async def soak(cycles: int, per_cycle: int, seed: int) -> int:
    logging.basicConfig(level=logging.ERROR)
    rng = random.Random(seed)
    platform = FakePlatform()
    posters = {CHANNEL.platform: platform.post}
    statuses: Counter[str] = Counter()
    ingested: set[int] = set()
    policy = FetchPolicy()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        root = Path(tmp)
        inbox = root / "inbox"
        inbox.mkdir()
        with Store.open(root / "soak.db") as store:
            start_rss = rss_mb()
            print(f"cycles={cycles} per_cycle={per_cycle} seed={seed}")
            print(f"RSS start: {start_rss:.1f} MB")
            started = time.monotonic()
            last = ""
            for cycle in range(cycles):
                now = START + timedelta(hours=cycle)
                for old in inbox.iterdir():
                    old.unlink()
                last = write_cycle(rng, inbox, cycle, per_cycle, last)
                report = await ingest([str(inbox)], store, policy, now=lambda t=now: t)
                if report.failures:
                    raise SystemExit(f"cycle {cycle}: ingest failed: {report.failures}")
                ingested.update(a.id for a in report.added if a.id is not None)
                # earlier failed claims are stale by now: retried before the new digest
                for outcome in await retry_unsent(store, posters, now=now):
                    statuses["retry-" + outcome.status] += 1
                platform.fail_next = cycle % 7 == 3
                outcome = await send_digest(
                    store, CHANNEL, platform.post, slot=slot_key(now), now=now,
                    max_stories=MAX_STORIES,
                )  # fmt: skip
                statuses[outcome.status] += 1
                if cycle % 10 == 9:
                    again = await send_digest(
                        store, CHANNEL, platform.post, slot=slot_key(now), now=now,
                        max_stories=MAX_STORIES,
                    )  # fmt: skip
                    statuses["repeat-" + again.status] += 1
                if (cycle + 1) % 100 == 0:
                    print(f"  cycle {cycle + 1:5d}: RSS {rss_mb():.1f} MB")
            final = START + timedelta(hours=cycles - 1, minutes=10)
            for outcome in await retry_unsent(store, posters, now=final):
                statuses["retry-" + outcome.status] += 1
            elapsed = time.monotonic() - started
            end_rss = rss_mb()
            articles = store.count_articles()
    # a story that gains a report is posted again with its earlier reports: those repeat
    reposted = sorted(i for i, n in platform.posted.items() if n > 1)
    lost = sorted(ingested - set(platform.posted))
    print(f"RSS end: {end_rss:.1f} MB (growth {end_rss - start_rss:+.1f} MB)")
    print(
        f"articles stored: {articles}, posted: {len(platform.posted)}, "
        f"messages: {platform.messages}, failed posts: {platform.failures}"
    )
    print("outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(statuses.items())))
    print(f"duplicate deliveries (a story with nothing new posted again): {platform.stale_stories}")
    print(
        f"articles posted more than once, as earlier reports of a story with a new one: "
        f"{len(reposted)} ({sum(platform.posted[i] - 1 for i in reposted)} repeats)"
    )
    print(f"lost deliveries: {len(lost)} {lost[:10]}")
    print(f"{cycles / elapsed:.1f} cycles/s ({elapsed:.1f} s)")
    bad_repeat = statuses["repeat-sent"]
    if bad_repeat:
        print(f"repeated slots sent again: {bad_repeat}")
    return 1 if platform.stale_stories or lost or bad_repeat else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--per-cycle", type=int, default=3, help="new article files per cycle")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    raise SystemExit(asyncio.run(soak(args.cycles, args.per_cycle, args.seed)))


if __name__ == "__main__":
    main()
