"""Exactly-once digest delivery, message by message: claim, plan, send each part, record it.

A digest is claimed first: a row with a unique (channel, slot) key in our own database, so two
processes, a restart or a retried job never post one slot twice. The platform's adapter then
renders it into parts (Slack: a message and its thread replies; Discord: messages of up to 10
embeds), which are stored as planned. Each part is marked ``sending`` before it goes out and
recorded with the platform's message id once accepted, in the transaction that also moves the
claim's progress. A resumed run (after a failure, a crash or a shutdown) continues at the first
part not recorded, with the stored payload: never part 1 again. A part left ``sending`` may have
landed: the adapter makes sure before posting it again (Discord by an idempotent `nonce`, Slack
by looking for the message's metadata in the channel).

Claims are leased: the sending process renews its lease while it sends (`Delivery.heartbeat`),
and a claim whose process died is taken over once its lease runs out, or at once when the
process is known to be gone (same machine and pid namespace, no such process). Failed runs are
retried with backoff (`digest.retry_delays`) until `digest.missed_grace` after they were due.

Example:
    delivery = Delivery(store, {"slack": slack_adapter})
    outcome = await delivery.send(channel, slot_key(when))
    ...
    await delivery.retry_due()     # the scheduler calls this every few seconds
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot.digest import build_digest, digest_article_ids, digest_of
from bot.errors import DeliveryError, StoreFaultError
from bot.memory import release_memory
from bot.models import ChannelRef, Digest, DigestRun, Receipt
from bot.store import Store
from bot.updates import views_of

if TYPE_CHECKING:
    from bot.alerts import Alerts
    from bot.config import Settings
    from bot.summarize.llm import ModelWriter

log = logging.getLogger(__name__)

PostDigest = Callable[[ChannelRef, Digest], Awaitable[Receipt]]
# The error a clean shutdown records on a send it had to cut off; the next start resumes it.
INTERRUPTED = "interrupted by shutdown"
# How often a platform whose digests fail is tried again early, with its oldest failed run, so
# a recovery is noticed within this long even when the backoff has grown to minutes.
PROBE_EVERY = timedelta(seconds=60)
RETRY_DELAYS = (30, 120, 600)
CLAIM_LEASE = 60
NONCE_CHARS = 25  # Discord's longest nonce


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class OutgoingPart:
    """One message of a digest run, for a platform to send.

    Attributes:
        key: the run's key, the same in every process and attempt (platform, channel, slot).
        index: 0 for the first message.
        count: how many messages the run has.
        payload: the message as the adapter rendered it (`Courier.render_parts`).
        previous: message ids of the parts before it, in order (a Slack thread's parent is
            ``previous[0]``).
        since: when the run was first claimed: nothing of it can have been posted before.
        unsure: an earlier attempt may have landed; the adapter must not post it twice.
        digest: the digest, when this attempt built it (None when a resumed run keeps its plan).
    """

    key: str
    index: int
    count: int
    payload: Mapping[str, Any]
    previous: tuple[str, ...] = ()
    since: datetime | None = None
    unsure: bool = False
    digest: Digest | None = None

    @property
    def nonce(self) -> str:
        """A short id of this part, the same on every attempt: an idempotency key."""
        raw = hashlib.sha256(f"{self.key}#{self.index}".encode()).hexdigest()
        return raw[:NONCE_CHARS]


@runtime_checkable
class Courier(Protocol):
    """A platform that posts a digest part by part, so that a retry resumes where it stopped.

    `render_parts` returns the messages as JSON-serialisable payloads (stored with the claim);
    `send_part` posts one and returns its message id. It raises `DeliveryError` with `landed`
    False when the platform refused the message, None when it cannot tell; when
    `OutgoingPart.unsure`, it must find out whether the message landed before posting it.
    """

    def render_parts(self, channel: ChannelRef, digest: Digest) -> list[dict[str, Any]]: ...

    async def send_part(self, channel: ChannelRef, part: OutgoingPart) -> str: ...


Poster = Courier | PostDigest


class _WholeDigest:
    """A poster that takes a whole digest at once (the console's, a test's): one part, built
    afresh on every attempt, since nothing can be looked up afterwards."""

    def __init__(self, post: PostDigest) -> None:
        self.post = post

    def render_parts(self, channel: ChannelRef, digest: Digest) -> list[dict[str, Any]]:
        return [{}]

    async def send_part(self, channel: ChannelRef, part: OutgoingPart) -> str:
        assert part.digest is not None  # a whole digest is always planned afresh
        receipt = await self.post(channel, part.digest)
        return ",".join(receipt.message_ids)


def as_courier(poster: Poster) -> Courier:
    return poster if isinstance(poster, Courier) else _WholeDigest(poster)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one delivery attempt: ``sent``, ``skipped`` (claimed elsewhere or sent
    already), ``failed`` (will be retried), ``abandoned`` (retried past its grace period) or
    ``disabled`` (the platform refused the channel)."""

    status: str
    digest: Digest | None = None
    detail: str = ""
    next_attempt: datetime | None = None


def slot_key(when: datetime) -> str:
    """The name of a scheduled digest slot: its UTC time to the minute."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def now_slot(when: datetime) -> str:
    """A slot for an on-demand digest (``/digest now``, a start-up digest): one per request."""
    return "now:" + when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def run_key(run: DigestRun) -> str:
    return f"{run.channel.platform}:{run.channel.channel}:{run.slot}"


# Owners ---------------------------------------------------------------------------------------


def _read(path: str) -> str | None:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return None


def _process(pid: int) -> tuple[str, str] | None:
    """A process's state letter and start time (clock ticks after boot), or None if none."""
    stat = _read(f"/proc/{pid}/stat")
    if not stat:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the name in brackets may hold spaces
    return fields[0], fields[19]


def _namespace() -> str:
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return "-"


_BOOT = _read("/proc/sys/kernel/random/boot_id") or "-"


def owner_id() -> str:
    """A name for this process (and sender) as the holder of a claim.

    Made of the machine's boot id, the pid namespace, the pid and the process's start time,
    so another process on this machine can tell for sure that the holder is gone; and a
    random part, one per `Delivery`.
    """
    me = _process(os.getpid())
    start = me[1] if me else "-"
    return f"{_BOOT}/{_namespace()}/{os.getpid()}/{start}/{secrets.token_hex(4)}"


def owner_gone(owner: str | None) -> bool:
    """Whether the process holding a claim is known to have ended.

    Only a process on this machine (same boot) and in our pid namespace can be checked: no
    process with its pid and start time (or a zombie) means it ended. Anything else may be
    alive, and its claim is left to its lease.
    """
    if not owner:
        return True
    parts = owner.split("/")
    if len(parts) != 5 or "-" in (parts[0], parts[1], parts[3]) or not parts[2].isdigit():
        return False
    boot, namespace, pid, start, _ = parts
    if boot != _BOOT or namespace != _namespace():
        return False
    now = _process(int(pid))
    return now is None or now[1] != start or now[0] == "Z"


# Delivery -------------------------------------------------------------------------------------


class Delivery:
    """Sends digests exactly once through each platform's courier, and retries failed ones.

    One per process (its `owner` name holds its claims). It knows which runs it is sending
    and from which task (`sending`), so a shutdown can wait for every kind of send and mark
    the ones it cuts off.
    """

    def __init__(
        self,
        store: Store,
        posters: Mapping[str, Poster],
        *,
        max_stories: int = 10,
        shared: Sequence[str] = (),
        retry_delays: Sequence[int] = RETRY_DELAYS,
        grace: int = 3600,
        lease: int = CLAIM_LEASE,
        alerts: Alerts | None = None,
        clock: Callable[[], datetime] = _utcnow,
        post_empty: bool = False,
    ) -> None:
        self.store = store
        self.post_empty = post_empty
        self.couriers = {name: as_courier(p) for name, p in posters.items()}
        self.max_stories = max_stories
        self.shared = tuple(shared)
        self.delays = tuple(retry_delays) or RETRY_DELAYS
        self.grace = timedelta(seconds=grace)
        self.lease = timedelta(seconds=lease)
        self.alerts = alerts
        self.clock = clock
        self.owner = owner_id()
        self.stopping = False
        self._sending: dict[asyncio.Task[Any], set[int]] = {}
        self._tried: dict[str, datetime] = {}
        self._heart: asyncio.Task[None] | None = None
        self.writer: ModelWriter | None = None
        """Rewrites a digest's briefings with the optional model before it is planned
        (within ``[llm] digest_deadline``); None: extractive briefings."""

    @classmethod
    def from_settings(
        cls,
        store: Store,
        settings: Settings,
        posters: Mapping[str, Poster],
        *,
        alerts: Alerts | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> Delivery:
        d = settings.digest
        return cls(
            store,
            posters,
            max_stories=d.max_stories,
            shared=settings.feeds.urls,
            retry_delays=d.retry_delays,
            grace=d.missed_grace,
            lease=d.claim_lease,
            alerts=alerts,
            clock=clock,
            post_empty=d.post_empty,
        )

    def add(self, platform: str, poster: Poster) -> None:
        """Send `platform`'s digests through `poster` from now on (adapters join as they are
        built, after the engine)."""
        self.couriers[platform] = as_courier(poster)

    # What is in flight ----------------------------------------------------------------------

    def sending(self) -> dict[asyncio.Task[Any], set[int]]:
        """The tasks sending right now, and the runs each is sending."""
        return {task: set(runs) for task, runs in self._sending.items() if runs}

    def start(self) -> None:
        """Start renewing this process's leases (on the running event loop)."""
        if self._heart is None:
            self._heart = asyncio.create_task(self.heartbeat(), name="newsbrief-leases")

    def stop(self) -> None:
        """Stop renewing leases (without waiting for the renewing task to end)."""
        if self._heart is not None:
            self._heart.cancel()

    async def close(self) -> None:
        """Stop renewing leases, and wait for the renewing task to end."""
        if self._heart is not None:
            self._heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heart
            self._heart = None

    async def heartbeat(self) -> None:
        """Renew every claim this process holds, four times a lease, until cancelled; a send
        waiting out a long rate limit keeps its claim."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            if not self._sending:
                continue
            try:
                self.store.renew_leases(self.owner, self.clock() + self.lease)
            except Exception:
                # a database fault is reported by the store and health; the send goes on
                log.warning("cannot renew the claims of %s", self.owner, exc_info=True)

    def interrupt(self, now: datetime | None = None) -> list[DigestRun]:
        """Release every claim this process still holds, marked `INTERRUPTED`: the next start
        resumes them at once (a shutdown calls it after cutting its sends off)."""
        moment = now or self.clock()
        cut = []
        for run in self.store.open_runs(owner=self.owner):
            if self.store.fail_run(run.id, self.owner, INTERRUPTED, moment, next_attempt=moment):
                cut.append(run)
                log.warning(
                    "digest %s for %s cut off by shutdown after %d of %d parts: resumed at the "
                    "next start",
                    run.slot,
                    run.channel,
                    run.parts_sent,
                    run.parts,
                )
        return cut

    # Sending ----------------------------------------------------------------------------------

    async def send(
        self,
        channel: ChannelRef,
        slot: str,
        *,
        now: datetime | None = None,
        due: datetime | None = None,
    ) -> Outcome:
        """Build `channel`'s digest and post it once for `slot`.

        Returns:
            The outcome; a platform failure is recorded and retried later, never raised.

        Raises:
            StoreFaultError: the database cannot be written, so nothing can be claimed.
        """
        moment = now or self.clock()
        courier = self.couriers.get(channel.platform)
        if courier is None:
            return Outcome("skipped", detail=f"no {channel.platform} adapter in this process")
        if self.stopping:
            return Outcome("skipped", detail="shutting down")
        if self.store.digest_run(channel, slot) is not None:
            return Outcome("skipped", detail="claimed already")
        # claimed before anything else, even before the digest is built: from now on the
        # request survives a crash (a run without a plan is built afresh when resumed)
        run = self.store.claim_digest(
            channel, slot, [], moment, owner=self.owner, lease_until=moment + self.lease, due=due
        )
        if run is None:
            return Outcome("skipped", detail="claimed by another sender")
        outcome = await self._deliver(run, courier, self._build(channel, moment), moment)
        # what building it took is garbage now: give it back, so an idle bot is not as large
        # as its biggest digest made it (the start-up digest over a full store)
        release_memory(self.store)
        return outcome

    def _build(self, channel: ChannelRef, now: datetime) -> Digest:
        # articles a failed or unfinished digest of this channel still carries are its to
        # post: a second digest showing them would repeat them when that one goes out
        pending = {
            i for run in self.store.open_runs() if run.channel == channel for i in run.article_ids
        }
        return build_digest(
            self.store,
            channel,
            max_stories=self.max_stories,
            now=now,
            shared=self.shared,
            exclude=pending,
        )

    async def retry_due(self, now: datetime | None = None) -> list[Outcome]:
        """Resume every open run that is due, one platform beside the other.

        Due: a failed run whose retry time came (an interrupted one at once), or the oldest
        failed run of a platform not tried for `PROBE_EVERY`; a claim whose process is gone or
        whose lease ran out. A run still failing `digest.missed_grace` after it was due is
        abandoned: its articles stay undelivered, for the channel's next digest.
        """
        moment = now or self.clock()
        if self.stopping:
            return []
        active = {run_id for runs in self._sending.values() for run_id in runs}
        by_platform: dict[str, list[DigestRun]] = {}
        for run in self.store.open_runs():
            if run.id in active or run.channel.platform not in self.couriers:
                continue
            by_platform.setdefault(run.channel.platform, []).append(run)
        results = await asyncio.gather(
            *(self._retry(runs, moment) for runs in by_platform.values())
        )
        return [outcome for outcomes in results for outcome in outcomes]

    async def _retry(self, runs: list[DigestRun], now: datetime) -> list[Outcome]:
        platform = runs[0].channel.platform
        courier = self.couriers[platform]
        due: list[DigestRun] = []
        waiting: list[DigestRun] = []
        for run in runs:
            if now > (run.due_at or run.claimed_at) + self.grace and run.status == "failed":
                self._abandon(run, now)
            elif run.status == "failed":
                (due if run.next_attempt is None or run.next_attempt <= now else waiting).append(
                    run
                )
            elif (
                run.owner == self.owner  # ours, but no task sends it (a database fault cut it)
                or run.lease_until is None
                or run.lease_until <= now
                or owner_gone(run.owner)
            ):
                due.append(run)
        last = self._tried.setdefault(platform, now)  # a probe waits its turn after a start
        if not due and waiting and now - last >= PROBE_EVERY:
            # the platform may be back: one run finds out for all (they follow if it works)
            due.append(waiting[0])
        outcomes = []
        began = time.monotonic()
        for run in due:
            if self.stopping:
                break
            # the caller's time, moved on by the sends before this one (leases must not lag)
            at = now + timedelta(seconds=time.monotonic() - began)
            taken = self.store.take_run(run, self.owner, lease_until=at + self.lease)
            if taken is None:
                continue  # another process took it first
            how = "resuming" if run.status == "claimed" else "retrying"
            log.info(
                "%s digest %s for %s at part %d of %d (attempt %d)",
                how,
                run.slot,
                run.channel,
                taken.parts_sent + 1,
                max(taken.parts, 1),
                taken.attempts,
            )
            outcomes.append(await self._deliver(taken, courier, None, at))
        return outcomes

    def _abandon(self, run: DigestRun, now: datetime) -> None:
        error = run.error or "not sent"
        if self.store.abandon_run(run, error, now):
            log.error(
                "digest %s for %s abandoned: still failing %s after it was due (%s); its "
                "stories come in the next digest",
                run.slot,
                run.channel,
                self.grace,
                error,
            )

    async def _deliver(
        self, run: DigestRun, courier: Courier, digest: Digest | None, now: datetime
    ) -> Outcome:
        task = asyncio.current_task()
        if task is not None:
            self._sending.setdefault(task, set()).add(run.id)
        began = time.monotonic()

        def clock() -> datetime:
            # the caller's time (a test's, a job's), moved on by the time this send has taken
            return now + timedelta(seconds=time.monotonic() - began)

        try:
            return await self._parts(run, courier, digest, clock)
        finally:
            if task is not None:
                runs = self._sending.get(task, set())
                runs.discard(run.id)
                if not runs:
                    self._sending.pop(task, None)

    async def _parts(
        self,
        run: DigestRun,
        courier: Courier,
        digest: Digest | None,
        clock: Callable[[], datetime],
    ) -> Outcome:
        channel, store = run.channel, self.store
        now = clock()
        whole = isinstance(courier, _WholeDigest)
        parts = store.run_parts(run.id)
        if whole or all(p.status == "planned" for p in parts):
            # nothing of it can have landed: (re)plan from the claimed articles, so a retry
            # also shows the reports that joined their stories since
            if digest is None and not run.article_ids and not parts:
                digest = self._build(channel, now)  # claimed, then cut off before its plan
            elif digest is None:
                digest = digest_of(store, run.article_ids, now=now, channel=channel)
            if self.writer is not None:
                # inside the send, so the claim's lease is renewed while the model writes
                digest = await self.writer.rewrite_digest(digest)
            try:
                # nothing new: the run is recorded as sent without a message (the reports it
                # settles are still recorded), unless the operator wants a line in the channel
                wanted = self.post_empty or not digest.empty
                payloads = courier.render_parts(channel, digest) if wanted else []
            except Exception as exc:
                log.exception("digest %s for %s cannot be rendered", run.slot, channel)
                error = DeliveryError(channel.platform, channel.channel, type(exc).__name__)
                return self._failed(run, error, digest, now)
            shown = _shown(store, digest, run.article_ids)
            plan = [json.dumps(p, ensure_ascii=False) for p in payloads]
            ids = run.article_ids or tuple(digest_article_ids(digest))
            if not store.plan_parts(
                run.id, self.owner, plan, shown, article_ids=ids, keep_unsure=not whole
            ):
                return Outcome("skipped", digest, "claim lost")
            parts = store.run_parts(run.id)
        else:
            digest = None  # resumed: the stored plan is what the channel gets
        self._tried[channel.platform] = now
        sent: list[str] = []
        for part in parts:
            if part.status == "sent":
                sent.append(part.message_id or "")
                continue
            moment = clock()
            lease = moment + self.lease
            if not store.start_part(run.id, part.index, self.owner, moment, lease_until=lease):
                return Outcome("skipped", digest, "claim lost")
            outgoing = OutgoingPart(
                key=run_key(run),
                index=part.index,
                count=len(parts),
                payload=json.loads(part.payload or "{}"),
                previous=tuple(sent),
                since=run.claimed_at,
                unsure=part.status == "sending",
                digest=digest,
            )
            try:
                message_id = await courier.send_part(channel, outgoing)
            except DeliveryError as exc:
                if exc.landed is False:
                    store.unsend_part(run.id, part.index)
                return self._failed(run, exc, digest, clock(), part=part.index)
            except (StoreFaultError, asyncio.CancelledError):
                raise
            except Exception as exc:
                # one broken channel must not stop the others; the traceback goes to the log
                log.exception(
                    "digest %s for %s failed at part %d", run.slot, channel, part.index + 1
                )
                error = DeliveryError(channel.platform, channel.channel, type(exc).__name__)
                return self._failed(run, error, digest, clock(), part=part.index)
            moment = clock()
            lease = moment + self.lease
            if not store.record_part(
                run.id, part.index, message_id, self.owner, moment, lease_until=lease
            ):
                # the lease ran out and another process took the run over: it finishes it
                log.warning(
                    "digest %s for %s: claim lost after part %d", run.slot, channel, part.index + 1
                )
                return Outcome("skipped", digest, "claim lost")
            sent.append(message_id)
        if not store.finish_run(run.id, self.owner, clock()):
            return Outcome("skipped", digest, "claim lost")
        stories = len(digest.stories) if digest is not None else None
        log.info(
            "digest %s sent to %s: %d parts%s",
            run.slot,
            channel,
            len(parts),
            f", {stories} stories" if stories is not None else " (resumed)",
        )
        if self.alerts is not None:
            self.alerts.digest_sent(channel, clock())
        # the platform works: its other failed runs need not wait out their backoff
        store.hasten_runs(channel.platform, clock())
        return Outcome("sent", digest)

    def next_attempt(self, since: datetime, now: datetime) -> datetime:
        """The retry after `now` of a run failing since `since`: `retry_delays` after its first
        failure, one after the other (30 s, then 2 min later, then every 10 min).

        The schedule counts from the first failure, not from the last attempt, so an early
        attempt (another digest showed the platform works, or a probe) that fails too does not
        push the next one further away.
        """
        moment = since
        for step in range(10_000):
            moment += timedelta(seconds=self.delays[min(step, len(self.delays) - 1)])
            if moment > now:
                break
        return moment

    def _failed(
        self,
        run: DigestRun,
        exc: DeliveryError,
        digest: Digest | None,
        now: datetime,
        *,
        part: int = 0,
    ) -> Outcome:
        channel = run.channel
        reason = exc.reason
        if exc.permanent:
            self.store.fail_run(run.id, self.owner, reason, now, next_attempt=None)
            settings = self.store.get_channel(channel)
            self.store.put_channel(replace(settings, enabled=False, disabled_reason=reason))
            log.warning("digest for %s disabled: %s", channel, reason)
            if self.alerts is not None:
                self.alerts.digest_failed(channel, reason, now)
            return Outcome("disabled", digest, reason)
        next_attempt: datetime | None = self.next_attempt(run.failed_since or now, now)
        if exc.retry_after and next_attempt is not None:
            next_attempt = max(next_attempt, now + timedelta(seconds=exc.retry_after))
        deadline = (run.due_at or run.claimed_at) + self.grace
        if next_attempt is not None and next_attempt > deadline:
            next_attempt = None
        self.store.fail_run(run.id, self.owner, reason, now, next_attempt=next_attempt)
        if self.alerts is not None:
            self.alerts.digest_failed(channel, reason, now)
        if next_attempt is None:
            log.error(
                "digest %s for %s abandoned at part %d: %s (past its grace period); its stories "
                "come in the next digest",
                run.slot,
                channel,
                part + 1,
                reason,
            )
            return Outcome("abandoned", digest, reason)
        log.warning(
            "digest %s for %s failed at part %d, retried at %s: %s",
            run.slot,
            channel,
            part + 1,
            next_attempt.strftime("%H:%M:%S"),
            reason,
        )
        return Outcome("failed", digest, reason, next_attempt)


def _shown(store: Store, digest: Digest, claimed: Sequence[int]) -> dict[str, Any]:
    """What to record once the run is sent: its articles as delivered (a retried digest is
    rebuilt from its claimed articles and may show reports that joined their stories since),
    and what the channel was shown of each story."""
    views = views_of(store, digest, also=claimed)
    return {
        "articles": sorted({*claimed, *digest_article_ids(digest)}),
        "views": [
            {
                "story": v.story_id,
                "articles": [list(pair) for pair in v.articles],
                "outlets": list(v.outlets),
                "bullets": list(v.bullets),
            }
            for v in views
        ],
    }


async def send_digest(
    store: Store,
    channel: ChannelRef,
    post: Poster,
    *,
    slot: str,
    now: datetime | None = None,
    max_stories: int = 10,
    shared: Sequence[str] = (),
    post_empty: bool = False,
) -> Outcome:
    """Build `channel`'s digest and post it once for `slot` (a one-off `Delivery`).

    `shared` lists the operator's feeds that every channel gets (see `build_digest`); with
    `post_empty`, a digest with nothing new is posted too.
    """
    delivery = Delivery(
        store,
        {channel.platform: post},
        max_stories=max_stories,
        shared=shared,
        post_empty=post_empty,
    )
    return await delivery.send(channel, slot, now=now)


async def retry_unsent(
    store: Store, posters: Mapping[str, Poster], *, now: datetime | None = None
) -> list[Outcome]:
    """Resume every open run that is due (a one-off `Delivery`; see `Delivery.retry_due`)."""
    return await Delivery(store, posters).retry_due(now)
