"""Chaos: the real `python -m bot run` against loopback Slack and Discord, failed, killed and
stopped at random moments; counts what the channels would have seen.

Run: ``.venv/bin/python benches/chaos.py [--trials 50] [--seed 1] [--keep DIR]``

One bot process serves Slack (HTTP mode) and Discord at once, on a database of 100 stories;
every digest below is a whole 100-story digest: 7 Slack messages (a top message and its
thread), 10 Discord messages. Each digest goes to a channel of its own.

1. faults, in one process that survives them: per platform a 429 storm longer than the
   client's own retries (12 s), a 5xx burst (8 s), a part accepted then answered 503, and a
   part accepted then its connection dropped. Each digest must arrive whole, once, and
   within 2 minutes of the platform's recovery, with no restart.
2. kill -9: `--trials` times, start the bot, ask for ``/digest now`` in a Slack and a Discord
   channel, SIGKILL the process 0-3.2 s later; the next start resumes what it left.
3. SIGTERM during ``/digest now`` (5 times), and during scheduled digests (sent at start as
   missed ones); shutdown_timeout is 1 s, so most are cut off.
Then a last start lets everything finish, and the fakes are read. Printed per platform and
fault kind: digests expected, delivered (every part there), lost, duplicated parts; parts the
platform kept but the dead or failed process had not recorded, found again instead of being
posted twice; and the slowest delivery after a recovery. A digest whose command the process
died on before it acknowledged it is not expected (the user saw the command fail), and is
counted apart. Exit code 1 if a digest was lost or a part duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.store import Store  # noqa: E402
from tests.discord_fakes import MANAGE_CHANNELS, MEMBER_PERMISSIONS, FakeDiscord  # noqa: E402
from tests.slack_fakes import SIGNING_SECRET, FakeSlack, signed_headers, slash_body  # noqa: E402
from tests.stories import add_stories  # noqa: E402

STORIES = 100
SLACK_PARTS, DISCORD_PARTS = 7, 10
RECOVERY_GOAL = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Digest:
    """One digest asked for: where, in which phase, and what became of it."""

    platform: str
    channel: str
    kind: str
    acked: bool = True
    recovered_at: float | None = None  # perf_counter() when its platform worked again


@dataclass
class Chaos:
    root: Path
    rng: random.Random
    slack: FakeSlack
    discord: FakeDiscord
    digests: list[Digest] = field(default_factory=list)
    starts: int = 0
    proc: asyncio.subprocess.Process | None = None
    slack_port: int = field(default_factory=free_port)
    health_port: int = field(default_factory=free_port)
    discord_ids: Any = field(default_factory=lambda: iter(range(100_001, 999_999)))

    @property
    def db(self) -> Path:
        return self.root / "bot.db"

    def env(self) -> dict[str, str]:
        urls = self.discord.urls()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBRIEF_", "SLACK_"))}
        env.update(
            {
                "SLACK_BOT_TOKEN": "xoxb-chaos",
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "DISCORD_BOT_TOKEN": "chaos-token",
                "NEWSBRIEF_SLACK_MODE": "http",
                "NEWSBRIEF_SLACK_PORT": str(self.slack_port),
                "NEWSBRIEF_SLACK_API_BASE_URL": self.slack.api_url,
                "NEWSBRIEF_DISCORD_API_BASE_URL": urls["api_base_url"],
                "NEWSBRIEF_DISCORD_GATEWAY_URL": urls["gateway_url"],
                "NEWSBRIEF_DISCORD_GUILD_IDS": "42",
                "NEWSBRIEF_HEALTH_PORT": str(self.health_port),
                "NEWSBRIEF_STORE_PATH": str(self.db),
                "NEWSBRIEF_DIGEST_MAX_STORIES": str(STORIES),
                "NEWSBRIEF_RUN_SHUTDOWN_TIMEOUT": "1",
                "NEWSBRIEF_LOG_LEVEL": "INFO",
            }
        )
        return env

    # The process ------------------------------------------------------------------------------

    async def start(self) -> None:
        self.starts += 1
        log = open(self.root / f"bot-{self.starts:03d}.log", "wb")  # noqa: SIM115
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run",
            cwd=ROOT, env=self.env(), stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL, stderr=log,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.proc.returncode is None, f"the bot exited: see bot-{self.starts}.log"
                try:
                    url = f"http://127.0.0.1:{self.health_port}/readyz"
                    async with session.get(url) as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError("the bot did not get ready in 60 s")

    async def kill(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        await asyncio.wait_for(self.proc.wait(), 60)

    # Asking for digests -------------------------------------------------------------------------

    async def slack_command(self, channel: str, text: str) -> bool:
        """POST a signed /digest command; whether the bot acknowledged it."""
        body = slash_body("/digest", text, response_url=self.slack.response_url, channel=channel)
        url = f"http://127.0.0.1:{self.slack_port}/slack/events"
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(5)) as session,
                session.post(url, data=body, headers=signed_headers(body)) as r,
            ):
                return r.status == 200
        except (aiohttp.ClientError, TimeoutError):
            return False

    async def discord_command(self, channel: str, options: dict[str, str]) -> bool:
        """Push a /digest interaction; whether the bot answered or deferred it (in 3.5 s)."""
        sent = await self.discord.push_command(
            "digest", options, channel_id=channel, permissions=MEMBER_PERMISSIONS | MANAGE_CHANNELS
        )
        try:
            await self.discord.wait_callback(sent, timeout=3.5)
            return True
        except TimeoutError:
            return False

    def new_channel(self, platform: str, kind: str) -> Digest:
        if platform == "slack":
            channel = f"C{kind}{len(self.digests)}"
        else:
            channel = str(next(self.discord_ids))
        digest = Digest(platform, channel, kind)
        self.digests.append(digest)
        return digest

    async def ask_now(self, digest: Digest) -> None:
        if digest.platform == "slack":
            digest.acked = await self.slack_command(digest.channel, "now")
        else:
            digest.acked = await self.discord_command(digest.channel, {"when": "now"})

    # What the channels saw ---------------------------------------------------------------------

    def seen(self, digest: Digest) -> tuple[int, int, float | None]:
        """Distinct parts, duplicated parts, and when the last part arrived."""
        if digest.platform == "slack":
            kept = self.slack.kept(digest.channel)
            parts = Counter(self.slack.parts(digest.channel))
            last = max((self.slack.kept_at[m["ts"]] for m in kept), default=None)
        else:
            made = self.discord.messages_in(digest.channel)
            parts = Counter(
                (m["content"], tuple((e.get("title"), e.get("description")) for e in m["embeds"]))
                for m in made
            )
            last = max((m["_kept_at"] for m in made), default=None)
        return len(parts), sum(n - 1 for n in parts.values()), last

    def expected_parts(self, digest: Digest) -> int:
        return SLACK_PARTS if digest.platform == "slack" else DISCORD_PARTS

    def complete(self, digest: Digest) -> bool:
        return self.seen(digest)[0] >= self.expected_parts(digest)

    def claimed(self, digest: Digest) -> bool:
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            row = conn.execute(
                "SELECT 1 FROM digest_runs WHERE platform = ? AND channel = ?",
                (digest.platform, digest.channel),
            ).fetchone()
        finally:
            conn.close()
        return row is not None

    async def until_complete(self, digests: list[Digest], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.complete(d) for d in digests if d.acked or self.claimed(d)):
                return
            await asyncio.sleep(0.25)


# Phases -------------------------------------------------------------------------------------------


async def faults(chaos: Chaos) -> None:
    """One process, eight faulty digests at once; it must deliver them all by itself."""
    await chaos.start()
    now = time.perf_counter()
    asked = []
    for platform in ("slack", "discord"):
        fake: Any = chaos.slack if platform == "slack" else chaos.discord
        storm = chaos.new_channel(platform, "429-storm")
        fake.outages[storm.channel] = (now + 12, 429)
        storm.recovered_at = now + 12
        burst = chaos.new_channel(platform, "5xx-burst")
        fake.outages[burst.channel] = (now + 8, 503)
        burst.recovered_at = now + 8
        accepted = chaos.new_channel(platform, "accept-then-503")
        fake.accept_then_in[accepted.channel] = ["", "503"]
        dropped = chaos.new_channel(platform, "accept-then-drop")
        fake.accept_then_in[dropped.channel] = ["", "", "drop"]
        asked += [storm, burst, accepted, dropped]
    await asyncio.gather(*(chaos.ask_now(d) for d in asked))
    for digest in asked:
        digest.recovered_at = digest.recovered_at or time.perf_counter()
    await chaos.until_complete(asked, timeout=180)
    await chaos.kill(signal.SIGTERM)


async def kills(chaos: Chaos, trials: int) -> None:
    """Start, ask on both platforms, SIGKILL at a random moment; the next start resumes."""
    for n in range(trials):
        await chaos.start()
        asked = [chaos.new_channel("slack", "kill-9"), chaos.new_channel("discord", "kill-9")]
        began = time.perf_counter()
        asking = asyncio.gather(*(chaos.ask_now(d) for d in asked))
        await asyncio.sleep(max(0.0, began + chaos.rng.uniform(0, 3.2) - time.perf_counter()))
        await chaos.kill(signal.SIGKILL)
        await asking
        if (n + 1) % 10 == 0:
            print(f"  kill -9: {n + 1}/{trials}", flush=True)


async def sigterms(chaos: Chaos, trials: int) -> None:
    """SIGTERM 0.3-2.5 s after /digest now on both platforms (shutdown_timeout 1 s)."""
    for _ in range(trials):
        await chaos.start()
        asked = [chaos.new_channel(p, "sigterm-now") for p in ("slack", "discord")]
        asking = asyncio.gather(*(chaos.ask_now(d) for d in asked))
        await asyncio.sleep(chaos.rng.uniform(0.3, 2.5))
        await chaos.kill(signal.SIGTERM)
        await asking


async def scheduled(chaos: Chaos, channels: int) -> None:
    """Schedule digests a minute ago, restart (they go out at start, as missed), SIGTERM."""
    await chaos.start()
    due = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%H:%M")
    for _ in range(channels):
        for platform in ("slack", "discord"):
            digest = chaos.new_channel(platform, "sigterm-scheduled")
            if platform == "slack":
                ok = await chaos.slack_command(digest.channel, f"{due} UTC")
            else:
                ok = await chaos.discord_command(digest.channel, {"when": due, "timezone": "UTC"})
            assert ok, "the schedule was not set"
    await chaos.kill(signal.SIGTERM)
    await chaos.start()
    await asyncio.sleep(chaos.rng.uniform(0.3, 2.0))
    await chaos.kill(signal.SIGTERM)


# Report ----------------------------------------------------------------------------------------

_FOUND = re.compile(r"(slack|discord): part \d+ of \S+ (had landed|landed despite)")


def found_again(root: Path) -> Counter[str]:
    """Parts a platform had kept that the bot found again instead of posting twice."""
    found: Counter[str] = Counter()
    for log in sorted(root.glob("bot-*.log")):
        for match in _FOUND.finditer(log.read_text("utf-8", "replace")):
            found[match.group(1)] += 1
    return found


def report(chaos: Chaos, elapsed: float) -> int:
    kinds = list(dict.fromkeys(d.kind for d in chaos.digests))
    bad = 0
    print()
    header = f"{'platform':8} {'fault':18} {'expected':>8} {'delivered':>9} {'lost':>5}"
    header += f" {'dup parts':>9} {'unacked':>7} {'worst delay':>11}"
    print(header)
    for platform in ("slack", "discord"):
        totals = Counter[str]()
        for kind in kinds:
            group = [d for d in chaos.digests if d.platform == platform and d.kind == kind]
            expected = [d for d in group if d.acked or chaos.claimed(d)]
            unacked = len(group) - len(expected)
            delivered = [d for d in expected if chaos.complete(d)]
            dup = sum(chaos.seen(d)[1] for d in group)
            delays = [
                (chaos.seen(d)[2] or 0) - d.recovered_at
                for d in delivered
                if d.recovered_at is not None
            ]
            worst = f"{max(delays):.1f} s" if delays else "-"
            lost = len(expected) - len(delivered)
            bad += lost + dup
            totals.update(
                expected=len(expected), delivered=len(delivered), lost=lost, dup=dup,
                unacked=unacked,
            )  # fmt: skip
            print(
                f"{platform:8} {kind:18} {len(expected):8d} {len(delivered):9d} {lost:5d}"
                f" {dup:9d} {unacked:7d} {worst:>11}"
            )
        print(
            f"{platform:8} {'all':18} {totals['expected']:8d} {totals['delivered']:9d}"
            f" {totals['lost']:5d} {totals['dup']:9d} {totals['unacked']:7d}"
        )
    found = found_again(chaos.root)
    print(
        "\nparts the platform had kept but the bot had not recorded (killed, cut off, or its "
        f"answer lost), found again instead of posted twice: slack {found['slack']}, "
        f"discord {found['discord']}"
    )
    print(
        "duplicated parts in the window Slack accepted a part and the process died before "
        "recording it and before it could reconcile: "
        f"{sum(chaos.seen(d)[1] for d in chaos.digests if d.platform == 'slack')}"
    )
    print(f"{chaos.starts} process starts, {elapsed:.0f} s")
    return 1 if bad else 0


async def main(trials: int, seed: int, keep: Path | None) -> int:
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="chaos-"))
    root.mkdir(parents=True, exist_ok=True)
    with Store.open(root / "bot.db") as store:
        add_stories(store, STORIES)
    started = time.monotonic()
    async with FakeSlack() as slack, FakeDiscord() as discord:
        slack.post_delay = 0.25
        discord.post_delay = 0.2
        chaos = Chaos(root, random.Random(seed), slack, discord)
        print(f"chaos: {trials} kill -9 trials, seed {seed}, files in {root}", flush=True)
        print("faults (one process)...", flush=True)
        await faults(chaos)
        print("kill -9...", flush=True)
        await kills(chaos, trials)
        print("SIGTERM during /digest now...", flush=True)
        await sigterms(chaos, 5)
        print("SIGTERM during scheduled digests...", flush=True)
        await scheduled(chaos, 3)
        print("last start: letting everything finish...", flush=True)
        await chaos.start()
        await chaos.until_complete(chaos.digests, timeout=180)
        await chaos.kill(signal.SIGTERM)
        return report(chaos, time.monotonic() - started)


def _parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=50, help="kill -9 trials (default 50)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="folder for the database and the bot's logs")
    return parser.parse_args()


if __name__ == "__main__":
    args = _parse()
    raise SystemExit(asyncio.run(main(args.trials, args.seed, args.keep)))
