"""Wires APScheduler triggers to the core's jobs: daily digests per channel and feed polling.

Jobs live in memory and are rebuilt from our database at every start; exactly-once delivery
comes from the store's digest claims (see `bot.delivery`), never from the scheduler.

Example:
    scheduler = Scheduler(store, settings, {"console": console.post_digest})
    await scheduler.start()
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import Settings
from bot.delivery import Outcome, PostDigest, retry_unsent, send_digest, slot_key
from bot.ingest.feeds import is_due
from bot.ingest.http import FetchPolicy
from bot.ingest.outlets import OutletNames
from bot.ingest.pipeline import IngestResult, ingest
from bot.models import ChannelRef, ChannelSettings
from bot.store import Store

log = logging.getLogger(__name__)

POLL_JOB = "poll-feeds"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def job_id(channel: ChannelRef) -> str:
    return f"digest:{channel.platform}:{channel.channel}"


def parse_hhmm(value: str) -> time:
    hour, _, minute = value.partition(":")
    return time(int(hour), int(minute))


def previous_slot(settings: ChannelSettings, now: datetime) -> datetime | None:
    """The latest time at or before `now` when this channel's daily digest was due."""
    if settings.digest_time is None:
        return None
    zone = ZoneInfo(settings.timezone)
    local = now.astimezone(zone)
    at = parse_hhmm(settings.digest_time)
    due = datetime.combine(local.date(), at, tzinfo=zone)
    if due > local:
        due = datetime.combine(local.date() - timedelta(days=1), at, tzinfo=zone)
    return due.astimezone(UTC)


class Scheduler:
    """Daily digests for every scheduled channel, and feed polls on an interval."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        posters: Mapping[str, PostDigest],
        *,
        policy: FetchPolicy,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.settings = settings
        self.posters = dict(posters)
        self.policy = policy
        self.clock = clock
        self._aps = AsyncIOScheduler(timezone=UTC)

    @property
    def running(self) -> bool:
        return bool(self._aps.running)

    async def start(self, *, poll: bool = True) -> None:
        """Schedule every stored channel, start, then send what was missed while down."""
        if poll:
            self._aps.add_job(
                self.poll_feeds,
                IntervalTrigger(seconds=self.settings.feeds.poll_interval, timezone=UTC),
                id=POLL_JOB,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                next_run_time=self.clock(),
            )
        for channel in self.store.scheduled_channels():
            self.schedule(channel)
        self._aps.start()
        await self.catch_up()

    def shutdown(self) -> None:
        if self._aps.running:
            self._aps.shutdown(wait=False)

    def schedule(self, settings: ChannelSettings) -> None:
        """Add, move or remove a channel's daily digest job to match its settings."""
        jid = job_id(settings.channel)
        wanted = (
            settings.enabled
            and settings.digest_time is not None
            and settings.channel.platform in self.posters
        )
        if not wanted or settings.digest_time is None:
            if self._aps.get_job(jid) is not None:
                self._aps.remove_job(jid)
            return
        at = parse_hhmm(settings.digest_time)
        self._aps.add_job(
            self.run_digest,
            CronTrigger(hour=at.hour, minute=at.minute, timezone=ZoneInfo(settings.timezone)),
            id=jid,
            kwargs={"platform": settings.channel.platform, "channel": settings.channel.channel},
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            # a digest a little late beats none; catch_up covers longer outages
            misfire_grace_time=max(60, self.settings.digest.missed_grace),
        )

    def next_run(self, channel: ChannelRef) -> datetime | None:
        job = self._aps.get_job(job_id(channel))
        return job.next_run_time if job is not None else None

    async def run_digest(self, platform: str, channel: str) -> Outcome | None:
        """The cron job: send this slot's digest once. Never raises."""
        ref = ChannelRef(platform, channel)
        try:
            settings = self.store.get_channel(ref)
            slot = previous_slot(settings, self.clock())
            post = self.posters.get(platform)
            if slot is None or post is None or not settings.enabled:
                return None
            return await send_digest(
                self.store,
                ref,
                post,
                slot=slot_key(slot),
                now=self.clock(),
                max_stories=self.settings.digest.max_stories,
                shared=self.settings.feeds.urls,
            )
        except Exception:
            # a failed run must never kill the scheduler; the traceback goes to the log
            log.exception("digest job for %s failed", ref)
            return None

    async def catch_up(self) -> list[Outcome]:
        """Retry claimed-but-unsent digests, and send slots missed within the grace period."""
        now = self.clock()
        outcomes: list[Outcome] = []
        try:
            outcomes += await retry_unsent(self.store, self.posters, now=now)
            grace = timedelta(seconds=self.settings.digest.missed_grace)
            for settings in self.store.scheduled_channels():
                post = self.posters.get(settings.channel.platform)
                due = previous_slot(settings, now)
                if post is None or due is None or now - due > grace:
                    continue
                if self.store.digest_run(settings.channel, slot_key(due)) is not None:
                    continue
                log.info("sending missed digest %s to %s", slot_key(due), settings.channel)
                outcomes.append(
                    await send_digest(
                        self.store,
                        settings.channel,
                        post,
                        slot=slot_key(due),
                        now=now,
                        max_stories=self.settings.digest.max_stories,
                        shared=self.settings.feeds.urls,
                    )
                )
        except Exception:
            log.exception("catching up on missed digests failed")
        return outcomes

    def feeds_to_poll(self, now: datetime) -> list[str]:
        """Configured and subscribed feeds whose interval has passed and that are not backing
        off after errors."""
        interval = timedelta(seconds=self.settings.feeds.poll_interval)
        due = []
        for url in dict.fromkeys([*self.settings.feeds.urls, *self.store.subscribed_sources()]):
            state = self.store.get_feed_state(url)
            if not is_due(state, now):
                continue
            if state and state.last_polled and now - state.last_polled < interval:
                continue
            due.append(url)
        return due

    async def poll_feeds(self) -> IngestResult | None:
        """The interval job: poll every due feed once. Never raises."""
        try:
            urls = self.feeds_to_poll(self.clock())
            if not urls:
                return None
            names = OutletNames.from_settings(self.settings.feeds.names)
            result = await ingest(
                urls, self.store, self.policy, now=self.clock, feeds_only=True, names=names
            )
            log.info("polled %d feeds: %s", len(urls), result.summary())
            return result
        except Exception:
            log.exception("feed poll failed")
            return None
