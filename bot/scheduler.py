"""Wires APScheduler triggers to the core's jobs: daily digests per channel, feed polling,
retries of failed digests and the notices about failures.

Jobs live in memory and are rebuilt from our database at every start; exactly-once delivery
comes from the store's digest claims (see `bot.delivery`), never from the scheduler.

Of several replicas on one database only the leader (`bot.leader`) runs the daily digests and
the catch-up at start: it schedules every stored channel when it gains the lead, rereads the
stored schedules every ``[replicas] schedule_refresh`` seconds (a ``/digest`` change made on a
follower is only stored), and drops the digest jobs when it loses the lead. Feed polls and
retries run on every replica. With SQLite the one process always leads.

APScheduler is imported when the first job is added (about 25 ms of a start): a command that
builds the engine only to print a digest never loads it.

Example:
    scheduler = Scheduler(store, settings, {"console": console}, policy=FetchPolicy())
    await scheduler.start()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.alerts import Alerts
from bot.config import Settings
from bot.delivery import Delivery, Outcome, Poster, owner_gone, slot_key
from bot.ingest.feeds import is_due
from bot.ingest.http import FetchPolicy
from bot.ingest.outlets import OutletNames
from bot.ingest.pipeline import IngestResult, ingest
from bot.ingest.prepare import default_workers
from bot.leader import Leadership, SoloLeadership
from bot.models import ChannelRef, ChannelSettings
from bot.store import Store

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)

POLL_JOB = "poll-feeds"
RETRY_JOB = "retry-digests"
REFRESH_JOB = "refresh-schedules"
DIGEST_JOB_PREFIX = "digest:"
# How often failed, interrupted and abandoned-by-a-dead-process digests are looked at; their
# own backoff decides when each is tried.
RETRY_TICK = 5.0
POLL_TICK = 60
"""Seconds between looks for due feeds (at most; the feed interval when shorter): each feed's
own claim in the store says when it is due, so a replica that just started or took over polls
what is due within a minute."""
POLL_BATCH = 4
"""Feeds claimed at a time: small, so replicas polling at once share the due feeds."""
POLL_LEASE_MARGIN = 60.0
"""Seconds a claim outlasts its batch's longest possible fetches."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def job_id(channel: ChannelRef) -> str:
    return f"{DIGEST_JOB_PREFIX}{channel.platform}:{channel.channel}"


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
    """Daily digests for every scheduled channel, feed polls on an interval, and retries.

    Args:
        posters: each platform's courier (or whole-digest poster), for a `Delivery` built
            here when none is given.
        delivery: the process's delivery, shared with `/digest now` so a shutdown sees every
            send.
        alerts: counts failures and posts the notices (None: no notices).
        leadership: whether this process runs the daily digests (default: it always does);
            `close` gives it up.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        posters: Mapping[str, Poster],
        *,
        policy: FetchPolicy,
        clock: Callable[[], datetime] = _utcnow,
        delivery: Delivery | None = None,
        alerts: Alerts | None = None,
        leadership: Leadership | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.posters = dict(posters)
        self.policy = policy
        self.clock = clock
        self.alerts = alerts
        self.delivery = delivery or Delivery.from_settings(
            store, settings, posters, alerts=alerts, clock=clock
        )
        self._apscheduler: AsyncIOScheduler | None = None  # made by `_aps` on first use
        self.leadership: Leadership = leadership or SoloLeadership()
        self.leadership.add_listener(self._on_leadership)
        # what each digest job was made from, to see what a refresh changes
        self._scheduled: dict[ChannelRef, tuple[str, str]] = {}
        self._taking_over: asyncio.Task[list[Outcome]] | None = None
        self._paused = False
        self._starting = False
        self._catch_up_at_start = False

    @property
    def _aps(self) -> AsyncIOScheduler:
        """The APScheduler that runs the jobs, made on first use."""
        if self._apscheduler is None:
            from apscheduler.schedulers.asyncio import AsyncIOScheduler

            self._apscheduler = AsyncIOScheduler(timezone=UTC)
        return self._apscheduler

    @property
    def running(self) -> bool:
        return self._apscheduler is not None and bool(self._apscheduler.running)

    async def start(self, *, poll: bool = True, retry: bool = True) -> None:
        """Start; when this process leads, schedule every stored channel and send what was
        missed while down (before returning), else follow until it leads.

        Args:
            poll: poll the feeds on their interval.
            retry: look for due retries every `RETRY_TICK` seconds, and renew leases.
        """
        from apscheduler.triggers.interval import IntervalTrigger

        if retry:
            self._aps.add_job(
                self.retry_failed,
                IntervalTrigger(seconds=RETRY_TICK, timezone=UTC),
                id=RETRY_JOB,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
            )
            self.delivery.start()
        if poll:
            self._aps.add_job(
                self.poll_feeds,
                IntervalTrigger(
                    seconds=min(self.settings.feeds.poll_interval, POLL_TICK), timezone=UTC
                ),
                id=POLL_JOB,
                replace_existing=True,
                max_instances=1,
                coalesce=True,
                next_run_time=self.clock(),
            )
        self._aps.start()
        self._starting = True
        try:
            await self.leadership.start()
        finally:
            self._starting = False
        if self._catch_up_at_start:
            # in the caller's task, as a start-up's sends are (a shutdown waits for them)
            self._catch_up_at_start = False
            await self.catch_up()

    def _on_leadership(self, leading: bool) -> None:
        """Take the daily digests over on gaining the lead; drop them on losing it."""
        if leading and not self._paused:
            log.info("leading: scheduling every channel's digest and catching up")
            solo = isinstance(self.leadership, SoloLeadership)
            if not solo:
                from apscheduler.triggers.interval import IntervalTrigger

                self._aps.add_job(
                    self.refresh_schedules,
                    IntervalTrigger(seconds=self.settings.replicas.schedule_refresh, timezone=UTC),
                    id=REFRESH_JOB,
                    replace_existing=True,
                    max_instances=1,
                    coalesce=True,
                )
            try:
                self._schedule_all()
            except Exception:
                if solo:
                    raise  # at start, as before there were replicas: the start fails
                log.exception("scheduling the digests failed: the next refresh tries again")
            if self._starting:
                self._catch_up_at_start = True
            elif self._taking_over is None or self._taking_over.done():
                self._taking_over = asyncio.get_running_loop().create_task(
                    self.catch_up(), name="newsbrief-catch-up"
                )
        elif not leading:
            if self._scheduled:
                log.info("no longer leading: the daily digests are left to the leader")
            for job in self._aps.get_jobs():
                if job.id == REFRESH_JOB or job.id.startswith(DIGEST_JOB_PREFIX):
                    job.remove()
            self._scheduled.clear()

    def _schedule_all(self) -> None:
        for settings in self.store.scheduled_channels():
            self.schedule(settings)

    async def refresh_schedules(self) -> None:
        """The leader's refresh job: follow the schedules changed on other replicas (added,
        moved, turned off). Never raises."""
        try:
            if not self.leadership.is_leader:
                return
            stored = {s.channel: s for s in self.store.scheduled_channels()}
            for channel, settings in stored.items():
                if self._scheduled.get(channel) != (settings.digest_time, settings.timezone):
                    self.schedule(settings)
            for channel in set(self._scheduled) - set(stored):
                self.schedule(ChannelSettings(channel, digest_time=None))
        except Exception:
            log.exception("rereading the digest schedules failed")

    def pause(self) -> None:
        """Start no new job, and leave running ones alone.

        `shutdown` cannot be used for this: APScheduler's asyncio executor cancels the jobs
        still running when it shuts down, which would cut a digest off mid-send.
        """
        self._paused = True
        if self._apscheduler is not None and self._apscheduler.running:
            self._apscheduler.pause()

    def shutdown(self) -> None:
        if self._apscheduler is not None and self._apscheduler.running:
            self._apscheduler.shutdown(wait=False)
        self.delivery.stop()

    async def close(self) -> None:
        """Stop the jobs, give the lead up, and stop the lease renewals."""
        self.shutdown()
        if self._taking_over is not None and not self._taking_over.done():
            self._taking_over.cancel()
            await asyncio.gather(self._taking_over, return_exceptions=True)
        await self.leadership.aclose()
        await self.delivery.close()

    def schedule(self, settings: ChannelSettings) -> None:
        """Add, move or remove a channel's daily digest job to match its settings.

        A follower adds none: the leader reads the stored settings at its next refresh.
        """
        jid = job_id(settings.channel)
        wanted = (
            self.leadership.is_leader
            and settings.enabled
            and settings.digest_time is not None
            and settings.channel.platform in self.delivery.couriers
        )
        if not wanted or settings.digest_time is None:
            if self._aps.get_job(jid) is not None:
                self._aps.remove_job(jid)
            self._scheduled.pop(settings.channel, None)
            return
        from apscheduler.triggers.cron import CronTrigger

        at = parse_hhmm(settings.digest_time)
        self._scheduled[settings.channel] = (settings.digest_time, settings.timezone)
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
            if slot is None or platform not in self.delivery.couriers or not settings.enabled:
                return None
            if not self.leadership.is_leader:
                return None  # lost the lead a moment ago: the new leader sends it
            return await self.delivery.send(ref, slot_key(slot), now=self.clock(), due=slot)
        except Exception:
            # a failed run must never kill the scheduler; the traceback goes to the log
            log.exception("digest job for %s failed", ref)
            return None

    async def catch_up(self) -> list[Outcome]:
        """Resume interrupted and failed digests that are due, and claims whose process is
        gone; then send the slots missed within the grace period."""
        now = self.clock()
        outcomes: list[Outcome] = []
        try:
            outcomes += await self.delivery.retry_due(now)
            grace = timedelta(seconds=self.settings.digest.missed_grace)
            for settings in self.store.scheduled_channels():
                if not self.leadership.is_leader:
                    break  # the new leader catches up in its turn
                due = previous_slot(settings, now)
                if settings.channel.platform not in self.delivery.couriers:
                    continue
                if due is None or now - due > grace:
                    continue
                if self.store.digest_run(settings.channel, slot_key(due)) is not None:
                    continue
                log.info("sending missed digest %s to %s", slot_key(due), settings.channel)
                outcomes.append(
                    await self.delivery.send(settings.channel, slot_key(due), now=now, due=due)
                )
        except Exception:
            log.exception("catching up on missed digests failed")
        await self._tell()
        return outcomes

    async def retry_failed(self) -> list[Outcome]:
        """The retry job: resume the runs that are due, then post due notices. Never raises."""
        outcomes: list[Outcome] = []
        try:
            outcomes = await self.delivery.retry_due(self.clock())
        except Exception:
            log.exception("retrying digests failed")
        await self._tell()
        return outcomes

    async def _tell(self) -> None:
        if self.alerts is None:
            return
        try:
            await self.alerts.flush()
        except Exception:
            log.exception("posting notices failed")

    def feeds_to_poll(self, now: datetime) -> list[str]:
        """Configured and subscribed feeds whose interval has passed and that are not backing
        off after errors."""
        interval = timedelta(seconds=self.settings.feeds.poll_interval)
        due = []
        urls = list(dict.fromkeys([*self.settings.feeds.urls, *self.store.subscribed_sources()]))
        states = self.store.get_feed_states(urls)
        for url in urls:
            state = states.get(url)
            if not is_due(state, now):
                continue
            if state and state.last_polled and now - state.last_polled < interval:
                continue
            due.append(url)
        return due

    def _free_claims_of_the_dead(self, due: list[str], me: str, now: datetime) -> None:
        """End the claims on `due` feeds of processes known to have died (killed on this
        machine mid-poll), so their feeds are polled now rather than when the claims run
        out; a process elsewhere is left to its claim's lease."""
        held: dict[str, list[str]] = {}
        for url, (owner, until) in self.store.feed_claims().items():
            if url in due and owner != me and until is not None and until > now:
                held.setdefault(owner, []).append(url)
        for owner, urls in held.items():
            if owner_gone(owner):
                log.info("taking over %d feed(s) claimed by %s, which has ended", len(urls), owner)
                self.store.release_feeds(urls, owner, now)

    async def poll_feeds(self) -> IngestResult | None:
        """The polling job: poll every due feed that no other replica polls, in claimed
        batches, until none is left. Never raises.

        Each batch is claimed in the store (`Store.claim_feeds`) for as long as its fetches
        may take; when it is done the claims last until the feeds are due again, so replicas
        on one database poll each due feed once between them and share the work, and the
        feeds of a replica that died are polled by another once their claims run out.
        """
        try:
            interval = timedelta(seconds=self.settings.feeds.poll_interval)
            names = OutletNames.from_settings(self.settings.feeds.names)
            owner = self.delivery.owner
            total: IngestResult | None = None
            while True:
                now = self.clock()
                due = self.feeds_to_poll(now)
                if not due:
                    break
                self._free_claims_of_the_dead(due, owner, now)
                lease = timedelta(seconds=POLL_BATCH * self.policy.timeout + POLL_LEASE_MARGIN)
                urls = self.store.claim_feeds(due, owner, now, now + lease, POLL_BATCH)
                if not urls:
                    break  # the rest are being polled by other replicas
                try:
                    result = await ingest(
                        urls,
                        self.store,
                        self.policy,
                        now=self.clock,
                        feeds_only=True,
                        names=names,
                        workers=default_workers(),
                    )
                except BaseException:
                    # cut short (shutdown): free them now; those polled already are not due
                    self.store.release_feeds(urls, owner, self.clock())
                    raise
                self.store.release_feeds(urls, owner, self.clock() + interval)
                log.info("polled %d feeds: %s", len(urls), result.summary())
                total = result if total is None else _merged(total, result)
            if total is not None and self.alerts is not None:
                self.alerts.sync_feeds(self.clock())
                await self._tell()
            return total
        except asyncio.CancelledError:
            log.info("feed poll stopped: shutting down")
            return None
        except Exception:
            log.exception("feed poll failed")
            return None


def _merged(first: IngestResult, second: IngestResult) -> IngestResult:
    """One job's batches as one result."""
    return IngestResult(
        added=first.added + second.added,
        revised=first.revised + second.revised,
        duplicates=first.duplicates + second.duplicates,
        failures=first.failures + second.failures,
        unchanged=first.unchanged + second.unchanged,
        notes=first.notes + second.notes,
    )
