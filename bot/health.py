"""A tiny HTTP server for orchestrators: ``/healthz`` (alive) and ``/readyz`` (serving).

``/readyz`` answers 200 only when the database takes a committed write (its file is the one
the bot opened, writable, with room on the disk), every chat platform is connected and the
scheduler runs; its JSON names each check, and reports every feed's last poll and every
failing feed and channel digest (what `/sources` and the notices say), and, with several
replicas on PostgreSQL, which of them leads, for ``python -m bot health`` and for people.
Feed and digest errors never make it 503: a broken feed is not a reason to restart the bot,
and neither is following another replica.

Example:
    server = HealthServer(store, settings)
    await server.start()           # binds health.host:health.port
    server.components = adapters   # anything with `name` and, optionally, a bool `ready`
    server.scheduler = scheduler
    ...
    await server.close()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from aiohttp import web

from bot.alerts import DIGEST, FEED
from bot.config import Settings
from bot.leader import Leadership, PgLeadership, current_leader
from bot.store import Store, database_errors
from bot.store.sqlite import probe_file

log = logging.getLogger(__name__)

# How long the database probe waits for another writer before calling the database unwritable.
DB_PROBE_TIMEOUT = 2.0


class Component(Protocol):
    """A platform adapter as health sees it; `ready` is read with getattr (default True)."""

    name: str


class Running(Protocol):
    @property
    def running(self) -> bool: ...


def probe_database(path: str, timeout: float = DB_PROBE_TIMEOUT) -> str | None:
    """Commit a one-row write to the SQLite file at `path` on a connection of its own.

    Returns:
        None when the database is writable, else why not.
    """
    return probe_file(path, timeout)


def database_problem(store: Store) -> str | None:
    """Why the bot's database cannot be written, or None: its file is gone or replaced, or a
    probe write fails (a full disk, a read-only file, a server that is down or read-only)."""
    return store.write_problem()


class HealthServer:
    """Serves ``/healthz`` and ``/readyz`` on ``[health] host:port``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.components: Sequence[Component] = ()
        self.scheduler: Running | None = None
        self.leadership: Leadership | None = None
        # platforms that were stopped for good (a refused token), and why
        self.failed: dict[str, str] = {}
        # set while shutting down, so an orchestrator stops routing to us before we exit
        self.stopping = False
        self.port: int | None = None
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on the configured address only (127.0.0.1 unless configured otherwise).

        Raises:
            OSError: the address is taken or cannot be bound.
        """
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.settings.health.host, self.settings.health.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        log.info("health: serving on %s:%s", self.settings.health.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        ready, body = await self.readiness()
        return web.json_response(body, status=200 if ready else 503)

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Run every check.

        Returns:
            Whether the bot is ready, and the JSON body naming each check's result.
        """
        checks: dict[str, Any] = {}
        # in a thread: a busy database must not stall the event loop for the lock timeout
        db_error = await asyncio.to_thread(database_problem, self.store)
        checks["database"] = {"ok": db_error is None, **({"error": db_error} if db_error else {})}
        for component in self.components:
            checks[component.name] = {"ok": bool(getattr(component, "ready", True))}
        for name, reason in self.failed.items():
            checks[name] = {"ok": False, "error": f"stopped: {reason}"}
        running = self.scheduler is not None and self.scheduler.running
        checks["scheduler"] = {"ok": running}
        ready = not self.stopping and all(c["ok"] for c in checks.values())
        body: dict[str, Any] = {
            "status": "stopping" if self.stopping else "ok" if ready else "unavailable",
            "checks": checks,
            "feeds": self._feeds(),
            "digests": self._digests(),
        }
        if isinstance(self.leadership, PgLeadership):
            body["leader"] = await self._leader(self.leadership)
        return ready, body

    async def _leader(self, leadership: PgLeadership) -> dict[str, Any]:
        """Which replica leads (runs the daily digests), and whether it is this one."""
        leader: dict[str, Any] = {"this_replica": leadership.is_leader, "name": None}
        try:
            leader["name"] = await asyncio.to_thread(current_leader, leadership.url)
        except Exception as exc:
            # the database check says what is wrong with the database; this only names it
            leader["error"] = type(exc).__name__
        return leader

    def _feeds(self) -> dict[str, dict[str, Any]]:
        """Every configured or subscribed feed: when it was last polled and how it went."""
        feeds: dict[str, dict[str, Any]] = {}
        try:
            urls = list(
                dict.fromkeys([*self.settings.feeds.urls, *self.store.subscribed_sources()])
            )
            alerts = {a.subject: a for a in self.store.alerts(FEED)}
            claims = self.store.feed_claims()
            states = self.store.get_feed_states(urls)
            for url in urls:
                state = states.get(url)
                feeds[url] = {
                    "last_polled": _iso(state.last_polled) if state else None,
                    "last_ok": _iso(state.last_ok) if state else None,
                    "error_count": state.error_count if state else 0,
                    "last_error": state.last_error if state else None,
                }
                if url in claims:
                    # with replicas: which process polled it last (or polls it now), and
                    # until when nobody else will
                    owner, until = claims[url]
                    feeds[url]["polled_by"] = owner
                    feeds[url]["claimed_until"] = _iso(until)
                alert = alerts.get(url)
                if state and state.error_count and alert is not None:
                    feeds[url]["failing_since"] = _iso(alert.since)
                    feeds[url]["next_poll"] = _iso(state.next_poll)
                    feeds[url]["notified"] = alert.notified_at is not None
        except database_errors() as exc:
            log.warning("health: cannot read feed states: %s", exc)
        return feeds

    def _digests(self) -> dict[str, dict[str, Any]]:
        """Every channel whose digests fail, or wait for a retry: since when, why, and what
        comes next."""
        digests: dict[str, dict[str, Any]] = {}
        try:
            for alert in self.store.alerts(DIGEST):
                if alert.failures:
                    digests[alert.subject] = {
                        "failures": alert.failures,
                        "failing_since": _iso(alert.since),
                        "last_error": alert.last_error,
                        "notified": alert.notified_at is not None,
                    }
            for run in self.store.open_runs():
                entry = digests.setdefault(str(run.channel), {})
                entry.setdefault("runs", []).append(
                    {
                        "slot": run.slot,
                        "status": run.status,
                        "parts_sent": run.parts_sent,
                        "parts": run.parts,
                        "next_attempt": _iso(run.next_attempt),
                        "error": run.error,
                    }
                )
        except database_errors() as exc:
            log.warning("health: cannot read digest states: %s", exc)
        return digests


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
