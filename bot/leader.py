"""Which replica leads: the one process of several that runs the digest schedule.

With SQLite there is one process, and it always leads (`SoloLeadership`). With PostgreSQL
(``[store] url``) every replica runs `PgLeadership`: the leader holds a session-level advisory
lock (`LOCK_KEY`) on a connection of its own; followers try to take it every
``[replicas] lease_check`` seconds. When the leader dies, even by SIGKILL, PostgreSQL ends its
session and frees the lock, and a follower leads at its next try. The leader checks its
connection just as often and steps down at once when it is lost, then tries again like any
follower.

For a moment two replicas may both think they lead (the old leader has not yet noticed that
its session is gone); the digests they might both start are claimed in the store before they
are sent, so none is posted twice.

psycopg is imported inside the functions that use it: a bot on SQLite never loads it (it costs
about 0.1 s of a start).

Example:
    leadership = leadership_for(settings)
    leadership.add_listener(lambda leading: print("leading" if leading else "following"))
    await leadership.start()
    ...
    await leadership.aclose()
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from bot.config import Settings, is_postgres_url, redact_url

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

log = logging.getLogger(__name__)

# A fixed key of our own ("newsbrf" in ASCII): every replica on one database uses it.
LOCK_KEY = 0x6E657773627266
# How long a connection attempt or a check may take before it counts as lost.
CONNECT_TIMEOUT = 5
# pg_locks shows a bigint advisory key as two 32-bit halves, and objsubid 1.
_KEY_HIGH, _KEY_LOW = LOCK_KEY >> 32, LOCK_KEY & 0xFFFFFFFF
# TCP keepalives on the server's side (any role may set them; a Unix socket ignores them): a
# leader whose network is cut loses its session within ~11 s, so the lock is freed for the
# others even when no FIN or RST ever arrives.
_SERVER_KEEPALIVES = (
    "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2; "
    "SET tcp_keepalives_count = 3; SET tcp_user_timeout = 11000"
)

Listener = Callable[[bool], None]


def process_name() -> str:
    """``newsbrief:<hostname>:<pid>``: how this process shows in ``pg_stat_activity``."""
    name = f"newsbrief:{socket.gethostname()}:{os.getpid()}"
    if len(name) > 63:  # PostgreSQL keeps 63 bytes of an application_name: keep the pid
        pid = f":{os.getpid()}"
        name = name[: 63 - len(pid)] + pid
    return name


class Leadership(Protocol):
    """Whether this process leads, and word when that changes.

    Listeners are plain functions called with True on gaining leadership and False on losing
    it; they must not block (start a task for slow work).
    """

    @property
    def is_leader(self) -> bool: ...

    def add_listener(self, listener: Listener) -> None: ...

    async def start(self) -> None:
        """Take the lead if it is free (listeners hear of it before this returns), then keep
        trying in the background."""
        ...

    async def aclose(self) -> None:
        """Give the lead up (if held) and stop trying."""
        ...


class _Listeners:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._leading = False

    @property
    def is_leader(self) -> bool:
        return self._leading

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _set(self, leading: bool) -> None:
        if leading == self._leading:
            return
        self._leading = leading
        for listener in list(self._listeners):
            try:
                listener(leading)
            except Exception:
                # one broken listener must not keep the others from hearing it
                log.exception("leadership listener failed")


class SoloLeadership:
    """One process on its own database (SQLite): it always leads, from before `start` on."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._started = False

    @property
    def is_leader(self) -> bool:
        return True

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        """Tell the listeners, once, that this process leads."""
        if self._started:
            return
        self._started = True
        for listener in self._listeners:
            listener(True)

    async def aclose(self) -> None:
        """Nothing to give up: no other process waits for the lead."""


class PgLeadership(_Listeners):
    """Leadership among the replicas on one PostgreSQL database, by an advisory lock.

    Args:
        url: the database (``postgresql://...``); it must reach PostgreSQL directly or through
            a session-mode pooler, since the lock belongs to one session.
        check: seconds between a follower's tries and between the leader's checks.
        name: ``application_name`` of the lock's connection, so others see who leads.
    """

    def __init__(self, url: str, *, check: float = 3.0, name: str | None = None) -> None:
        super().__init__()
        self.url = url
        self.check = check
        self.name = name or process_name()
        self._conn: psycopg.AsyncConnection[TupleRow] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._stepped_down = False

    async def start(self) -> None:
        await self._step()
        self._task = asyncio.create_task(self._run(), name="newsbrief-leadership")

    async def aclose(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.is_leader:
            log.info("leadership: %s steps down (stopping)", self.name)
        self._set(False)
        await self._disconnect()  # ending the session frees the lock for the others

    async def _run(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.check)
            if self._stepped_down:
                # the followers, whose sessions are sound, get the first try at the lead
                self._stepped_down = False
                await asyncio.sleep(self.check)
            await self._step()

    async def _step(self) -> None:
        """One try to lead (a follower) or one check of the connection (the leader)."""
        import psycopg

        try:
            async with asyncio.timeout(max(self.check, CONNECT_TIMEOUT)):
                if self._conn is None or self._conn.closed:
                    self._conn = await self._connect()
                if self.is_leader:
                    await self._conn.execute("SELECT 1")
                    return
                cur = await self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,))
                row = await cur.fetchone()
            if row is not None and row[0] is True:
                log.info("leadership: %s leads", self.name)
                self._set(True)
        except (psycopg.Error, OSError, TimeoutError) as exc:
            if self.is_leader:
                log.warning("leadership: %s lost its database connection: steps down (%s)",
                            self.name, exc)  # fmt: skip
                self._stepped_down = True
            else:
                log.warning("leadership: cannot reach %s (%s)", redact_url(self.url), exc)
            self._set(False)
            await self._disconnect()

    async def _connect(self) -> psycopg.AsyncConnection[TupleRow]:
        import psycopg

        conn = await psycopg.AsyncConnection.connect(
            self.url,
            autocommit=True,
            application_name=self.name,
            connect_timeout=CONNECT_TIMEOUT,
            # libpq's TCP keepalives: a leader cut off from the network notices it soon
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=3,
        )
        try:
            await conn.execute(_SERVER_KEEPALIVES)
        except psycopg.Error:
            log.debug("leadership: the server's keepalives could not be set", exc_info=True)
        return conn

    async def _disconnect(self) -> None:
        import psycopg

        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except (psycopg.Error, OSError):
                log.debug("leadership: closing the connection failed", exc_info=True)


def leadership_for(settings: Settings) -> Leadership:
    """`PgLeadership` when the store is a PostgreSQL database, else `SoloLeadership`."""
    if is_postgres_url(settings.store.url):
        return PgLeadership(settings.store.url, check=settings.replicas.lease_check)
    return SoloLeadership()


def current_leader(url: str) -> str | None:
    """The ``application_name`` (``newsbrief:<host>:<pid>``) of the replica that leads on the
    PostgreSQL database at `url`, or None when none does.

    Raises:
        psycopg.Error: when the database cannot be asked.
    """
    import psycopg

    query = """
        SELECT a.application_name, a.pid
        FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND l.classid::bigint = %s AND l.objid::bigint = %s AND l.objsubid = 1
    """
    with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
        row = conn.execute(query, (_KEY_HIGH, _KEY_LOW)).fetchone()
    if row is None:
        return None
    name, pid = row
    return str(name) if name else f"pid {pid}"
