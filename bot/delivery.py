"""Exactly-once digest delivery: claim the (channel, slot) row, send, then mark it sent.

The claim is a row with a unique key in our own database, written before anything is sent, so
two processes, a restart or a retried job never post one slot twice. A send that failed, or a
process that died between claim and send, leaves the claim unsent; `retry_unsent` takes such
claims over once they are stale and sends the same articles again.

Example:
    outcome = await send_digest(store, channel, console.post_digest, slot=slot_key(when))
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from bot.digest import build_digest, digest_article_ids, digest_of
from bot.errors import DeliveryError
from bot.models import ChannelRef, Digest, Receipt
from bot.store import Store
from bot.updates import views_of

log = logging.getLogger(__name__)

PostDigest = Callable[[ChannelRef, Digest], Awaitable[Receipt]]
# A claim this old that was never marked sent is taken to be abandoned (its process died).
STALE_CLAIM = timedelta(minutes=5)
# The error a clean shutdown records on a send it had to cut off; the next start resends it.
INTERRUPTED = "interrupted by shutdown"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one delivery attempt: ``sent``, ``skipped`` (claimed elsewhere or sent
    already), ``failed`` (will be retried) or ``disabled`` (the platform refused the channel)."""

    status: str
    digest: Digest | None = None
    detail: str = ""


def slot_key(when: datetime) -> str:
    """The name of a scheduled digest slot: its UTC time to the minute."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def now_slot(when: datetime) -> str:
    """A slot for an on-demand digest (``/digest now``, a start-up digest): one per request."""
    return "now:" + when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def send_digest(
    store: Store,
    channel: ChannelRef,
    post: PostDigest,
    *,
    slot: str,
    now: datetime | None = None,
    max_stories: int = 10,
    shared: Sequence[str] = (),
) -> Outcome:
    """Build `channel`'s digest and post it once for `slot`.

    `shared` lists the operator's feeds that every channel gets (see `build_digest`).

    Returns:
        The outcome; never raises for a platform failure (it is recorded and retried later).
    """
    moment = now or datetime.now(UTC)
    if store.digest_run(channel, slot) is not None:
        return Outcome("skipped", detail="claimed already")
    digest = build_digest(store, channel, max_stories=max_stories, now=moment, shared=shared)
    ids = digest_article_ids(digest)
    if not store.claim_digest(channel, slot, ids, moment):
        return Outcome("skipped", detail="claimed by another sender")
    return await _post(store, channel, post, slot, digest, ids, moment)


async def retry_unsent(
    store: Store,
    posters: Mapping[str, PostDigest],
    *,
    now: datetime | None = None,
    stale_after: timedelta = STALE_CLAIM,
    interrupted_only: bool = False,
) -> list[Outcome]:
    """Send again every claimed digest that was never marked sent and is stale by now.

    Args:
        interrupted_only: only the claims a clean shutdown marked `INTERRUPTED`, at once
            (other unsent claims may belong to a process that is still sending them).
    """
    moment = now or datetime.now(UTC)
    outcomes = []
    for run in store.unsent_digests():
        post = posters.get(run.channel.platform)
        if post is None:
            continue
        stale_before = moment - stale_after
        if interrupted_only:
            if run.status != "failed" or run.error != INTERRUPTED:
                continue
            # just past its own claim time: the first process to reclaim it renews claimed_at,
            # so a second one starting at the same moment finds it fresh and leaves it alone
            stale_before = run.claimed_at + timedelta(seconds=1)
        claimed = store.reclaim_digest(run.channel, run.slot, moment, stale_before=stale_before)
        if claimed is None:
            continue
        log.info("retrying digest %s for %s (attempt %d)", run.slot, run.channel, claimed.attempts)
        digest = digest_of(store, claimed.article_ids, now=moment, channel=run.channel)
        outcomes.append(
            await _post(store, run.channel, post, run.slot, digest, claimed.article_ids, moment)
        )
    return outcomes


async def _post(
    store: Store,
    channel: ChannelRef,
    post: PostDigest,
    slot: str,
    digest: Digest,
    ids: tuple[int, ...] | list[int],
    moment: datetime,
) -> Outcome:
    try:
        await post(channel, digest)
    except DeliveryError as exc:
        store.fail_digest(channel, slot, exc.reason)
        if exc.permanent:
            settings = store.get_channel(channel)
            store.put_channel(replace(settings, enabled=False, disabled_reason=exc.reason))
            log.warning("digest for %s disabled: %s", channel, exc.reason)
            return Outcome("disabled", digest, exc.reason)
        log.warning("digest %s for %s failed, will retry: %s", slot, channel, exc.reason)
        return Outcome("failed", digest, exc.reason)
    except Exception as exc:
        # one broken channel must not stop the others; the traceback goes to the log
        log.exception("digest %s for %s failed", slot, channel)
        store.fail_digest(channel, slot, f"{type(exc).__name__}: {exc}")
        return Outcome("failed", digest, type(exc).__name__)
    # everything the message showed counts as sent: a retried digest is rebuilt from its
    # claimed articles and may show reports that joined their stories since the claim
    store.finish_digest(
        channel,
        slot,
        moment,
        sorted({*ids, *digest_article_ids(digest)}),
        views=views_of(store, digest, also=ids),
    )
    log.info("digest %s sent to %s: %d stories", slot, channel, len(digest.stories))
    return Outcome("sent", digest)
