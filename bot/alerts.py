"""Failures told to people: a feed that keeps failing, a channel whose digests keep failing.

After `[alerts] after_failures` consecutive failures, one notice goes to the channel concerned
(for a feed: each channel that follows it), or to `[alerts] channel` when the operator named
one: what fails, since when, and what the bot does about it. When it works again, one more
notice says so. What was told is kept in the database, so a restart neither repeats a notice
nor forgets to announce a recovery. `/sources`, `/readyz` and ``python -m bot health`` read
the same state.

Example:
    alerts = Alerts(store, settings, {"slack": slack_adapter.post_notice})
    alerts.digest_failed(channel, "HTTP 503", now)   # the delivery calls these
    await alerts.flush()                             # the scheduler, every few seconds
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot.config import Settings
from bot.models import AlertState, ChannelRef
from bot.store import Store

log = logging.getLogger(__name__)

PostNotice = Callable[[ChannelRef, str], Awaitable[None]]
FEED = "feed"
DIGEST = "digest"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _hm(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "an unknown time"


def parse_channel(text: str) -> ChannelRef | None:
    """``slack:C0123`` -> ChannelRef; None when empty."""
    platform, sep, channel = text.partition(":")
    return ChannelRef(platform, channel) if sep and platform and channel else None


class Alerts:
    """Counts consecutive failures and posts the notices when they are due."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        notices: Mapping[str, PostNotice],
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.threshold = settings.alerts.after_failures
        self.operators = parse_channel(settings.alerts.channel)
        self.grace = settings.digest.missed_grace
        self.shared = set(settings.feeds.urls)
        self.notices = dict(notices)
        self.clock = clock

    def add(self, platform: str, notice: PostNotice) -> None:
        """Post `platform`'s notices through `notice` from now on."""
        self.notices[platform] = notice

    # Counting -------------------------------------------------------------------------------

    def digest_failed(self, channel: ChannelRef, error: str, now: datetime) -> None:
        self.store.note_failure(DIGEST, str(channel), error, now)

    def digest_sent(self, channel: ChannelRef, now: datetime) -> None:
        self.store.note_success(DIGEST, str(channel), now)

    def sync_feeds(self, now: datetime | None = None) -> None:
        """Take each feed's consecutive errors from its poll state (`FeedState.error_count`)."""
        moment = now or self.clock()
        known = {a.subject: a for a in self.store.alerts(FEED)}
        for state in self.store.feed_states():
            alert = known.get(state.url)
            if state.error_count > 0:
                if alert is None or alert.failures != state.error_count:
                    since = state.last_polled if alert is None or not alert.failures else None
                    self.store.note_failure(
                        FEED,
                        state.url,
                        state.last_error or "failed",
                        since or moment,
                        failures=state.error_count,
                    )
            elif alert is not None and alert.failures:
                self.store.note_success(FEED, state.url, state.last_ok or moment)

    # Telling ----------------------------------------------------------------------------------

    async def flush(self) -> int:
        """Post every notice that is due; returns how many went out. Never raises for a
        platform failure: a notice that could not be posted is tried again next time."""
        posted = 0
        for alert in self.store.alerts():
            if alert.failures >= self.threshold and alert.notified_at is None:
                text = self._failing(alert)
                if await self._tell(alert, text):
                    self.store.mark_notified(alert.kind, alert.subject, self.clock())
                    posted += 1
            elif (
                alert.failures == 0
                and alert.notified_at
                and alert.recovered_at
                and await self._tell(alert, self._recovered(alert))
            ):
                self.store.clear_alert(alert.kind, alert.subject)
                posted += 1
        return posted

    def targets(self, alert: AlertState) -> list[ChannelRef]:
        """Who is told: the operators' channel, else the channel (or the feed's channels)."""
        if self.operators is not None:
            return [self.operators]
        if alert.kind == DIGEST:
            channel = parse_channel(alert.subject)
            return [channel] if channel else []
        return self.store.subscribed_channels(alert.subject)

    async def _tell(self, alert: AlertState, text: str) -> bool:
        targets = [t for t in self.targets(alert) if t.platform in self.notices]
        if not targets:
            log.warning("%s %s: %s (no channel to tell)", alert.kind, alert.subject, text)
            return True
        told = True
        for target in targets:
            try:
                await self.notices[target.platform](target, text)
                log.info("notice posted to %s: %s", target, text)
            except Exception as exc:
                log.warning("notice to %s failed, tried again later: %s", target, exc)
                told = False
        return told

    def _failing(self, alert: AlertState) -> str:
        if alert.kind == FEED:
            state = self.store.get_feed_state(alert.subject)
            next_poll = state.next_poll if state else None
            return (
                f"newsbrief cannot read the feed {alert.subject}: {alert.last_error} "
                f"({alert.failures} failed polls since {_hm(alert.since)}). It tries again at "
                f"{_hm(next_poll)}, then less and less often (at most every 6 hours); its "
                "stories arrive once it works. /sources shows its state."
            )
        channel = parse_channel(alert.subject)
        where = "this channel's digest" if self.operators is None else f"the digest of {channel}"
        return (
            f"newsbrief could not post {where}: {alert.last_error} ({alert.failures} failed "
            f"attempts since {_hm(alert.since)}). {self._plan(channel)}"
        )

    def _plan(self, channel: ChannelRef | None) -> str:
        """What the bot does next about a channel's failing digest."""
        if channel is None:
            return ""
        settings = self.store.get_channel(channel)
        if not settings.enabled:
            return (
                "Its daily digest is paused until that is fixed and it is set again with /digest."
            )
        runs = [r for r in self.store.open_runs() if r.channel == channel]
        if any(r.status == "claimed" for r in runs):
            return "It is trying again now; nothing already posted is posted twice."
        waiting = [r for r in runs if r.next_attempt is not None]
        if not waiting:
            return "It gave up on that digest: its stories come in the next one."
        run = waiting[0]
        deadline = (run.due_at or run.claimed_at) + timedelta(seconds=self.grace)
        return (
            f"It tries again at {_hm(run.next_attempt)}, and keeps trying until "
            f"{_hm(deadline)}; nothing already posted is posted twice."
        )

    def _recovered(self, alert: AlertState) -> str:
        if alert.kind == FEED:
            return (
                f"newsbrief reads the feed {alert.subject} again (since "
                f"{_hm(alert.recovered_at)}, after failing since {_hm(alert.since)})."
            )
        channel = parse_channel(alert.subject)
        where = "this channel" if self.operators is None else str(channel)
        return (
            f"newsbrief posts digests to {where} again: the digest went out at "
            f"{_hm(alert.recovered_at)} (failing since {_hm(alert.since)})."
        )
