"""/ask answered in a worker process, so its CPU never stalls the event loop.

Answering costs 10-20 ms of CPU at 10k articles (splitting and scoring the candidates'
sentences). Computed on a thread of the bot's process it holds the interpreter lock the event
loop needs: in a burst of 50 commands every ack waited behind it (p99 of the Slack ack 3x a
bare bolt app's, ``benches/slack_ack.py``). In a worker process, lowered in priority, the loop
only waits for the answer's few bytes.

The loop talks to the worker over a pipe it reads itself (`asyncio` ``add_reader``): a question
costs the bot's process about 0.03 ms, where a process pool's feeder and manager threads cost
0.2 ms and a handover of the interpreter lock each way. At most `IN_PIPE` questions are in the
pipe at a time, the rest wait here in order, so writing one never blocks the loop however long
the worker stalls.

The worker opens the same database itself (`Store.reopen_target`); a store no other process can
see (``:memory:``), a machine without processes to spare for it, or a worker that died (killed
for memory) answers on a thread as before, so /ask always answers. A dead worker is replaced at
the next question, `MAX_RESTARTS` times at most.

Example:
    answers = Answers(store)
    answer = await answers.answer("What did the council approve?")
    answers.close()
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from bot.ask import answer_question
from bot.models import Answer
from bot.store import Store, StoreError
from bot.workers import spare_cores, worker_process

log = logging.getLogger(__name__)

WORKERS = 1
"""Processes answering: one, first come first served (so the first questions of a burst answer
inside the platform's ack, instead of all of them sharing the CPU and none doing so); one more
is no faster on the two cores a small host has."""

NICENESS = 5
"""Added to the workers' nice value: under load the bot's own process (acks, gateway heartbeats,
digests) gets the CPU first."""

MAX_RESTARTS = 3
"""Workers replaced after dying before /ask is answered on the command threads for good."""

CLOSE_WAIT = 5.0
"""Seconds `Answers.close` waits for the workers to end before killing them."""

IN_PIPE = 4
"""Questions written to the worker's pipe and not answered yet, at most: a few hundred bytes
each, far below what a pipe holds, so a write never waits for a stalled worker."""

FIRST_COST = 0.010
"""Seconds a question is taken to cost before the worker has answered any (then, a running
average of what they took: `Answers.expected_wait`)."""

OVERRUN = 3.0
"""A question the worker has been on for this many times its usual cost makes the wait for
those behind it unknown."""

STALL = 0.1
"""Seconds on one question that are a stall whatever the usual cost (a pause of the machine of
a few milliseconds is not)."""

_COST_WEIGHT = 0.2  # weight of the newest answer's time in the running average

_GONE = object()  # what a question's future gets when its worker ended without answering it


Answerer = Callable[[Store, str], Answer]
"""What answers a question from a store: `answer_question`, or a stand-in (a benchmark's); a
module-level function, so that a spawned worker can be given it."""


def _serve(connection: Connection, target: str, answerer: Answerer) -> None:
    """The worker: open the database at `target`, then answer each (key, question) read from
    `connection` with (key, True, `answerer`'s answer), or (key, False, error), until None or
    the end."""
    store = _open(target)
    while True:
        try:
            message = connection.recv()
        except (EOFError, OSError):
            return  # the bot is gone
        if message is None:
            return
        key, question = message
        try:
            reply: tuple[int, bool, Any] = (key, True, answerer(store, question))
        except Exception as exc:  # raised in the bot, as if it had been raised there
            reply = (key, False, exc)
        try:
            connection.send(reply)
        except Exception as exc:  # an error that does not pickle
            connection.send((key, False, StoreError(f"the answering worker failed: {exc!r}")))


def _open(target: str) -> Store:
    from bot.store import is_postgres, open_store

    if is_postgres(target):
        from bot.store.postgres import PostgresStore

        return PostgresStore.open(target, pool_size=1)  # one question at a time
    return open_store(target)


@dataclass(eq=False)
class _Worker:
    """One answering process and its pipe, read by the event loop `loop` once a question
    was asked on it."""

    process: BaseProcess
    pipe: Connection
    loop: asyncio.AbstractEventLoop | None = None
    # in the pipe, oldest first: each question's future and when it was written (loop time)
    sent: dict[int, tuple[asyncio.Future[Any], float]] = field(default_factory=dict)
    last_answer: float = 0.0  # when the last answer was read (loop time)
    queued: collections.deque[tuple[int, str, asyncio.Future[Any]]] = field(
        default_factory=collections.deque
    )
    ended: bool = False


class Answers:
    """Answers questions from `store`'s articles in a worker process (see the module).

    Questions are awaited on the event loop (`answer`); the rest may be called from any
    thread.

    Args:
        store: the open database the bot uses.
        workers: 1 answers in a worker process; 0 on a thread of this one.
        answerer: what answers; `answer_question` but in a benchmark of the pipeline itself.
    """

    def __init__(
        self, store: Store, workers: int | None = None, *, answerer: Answerer = answer_question
    ) -> None:
        self.store = store
        self._answerer = answerer
        self._target = store.reopen_target()
        wanted = spare_cores(WORKERS) if workers is None else min(workers, 1)
        self._workers = wanted if self._target is not None else 0
        self._worker: _Worker | None = None
        self._restarts = 0
        self._keys = itertools.count()
        self._cost = FIRST_COST
        self._lock = threading.Lock()
        self._closed = False

    @property
    def in_workers(self) -> bool:
        """Whether questions go to worker processes (False: on the calling thread)."""
        return self._workers > 0

    def expected_wait(self) -> float:
        """Seconds a question asked now is expected to wait for its answer: what is left of
        the one the worker is on, then those queued and itself, each at what the worker's
        recent answers took (as the loop read them back). Unbounded when the one it is on has
        taken `OVERRUN` times that already, and `STALL` at least: a stalled or unusually slow
        worker says nothing of when it will be done."""
        cost, worker = self._cost, self._worker
        if worker is None or worker.loop is None or not worker.sent:
            return cost
        _, written = next(iter(worker.sent.values()))  # the one the worker is on
        began = max(written, worker.last_answer)
        spent = worker.loop.time() - began
        if spent > max(OVERRUN * cost, STALL):
            return math.inf
        return max(cost - spent, 0.0) + self.waiting() * cost

    def waiting(self) -> int:
        """Questions sent to the workers and not answered yet."""
        worker = self._worker
        return 0 if worker is None else len(worker.sent) + len(worker.queued)

    def pids(self) -> list[int]:
        """The worker processes running now (none before the first question)."""
        worker = self._worker
        if worker is None or worker.process.pid is None or not worker.process.is_alive():
            return []
        return [worker.process.pid]

    def start(self) -> None:
        """Start the worker now (it takes about half a second), so that the first question
        does not wait for it."""
        with self._lock:
            self._started()

    async def answer(self, question: str) -> Answer:
        """The answer to `question` (`bot.ask.answer_question`'s), from the worker when there
        is one: the event loop reads it from the pipe itself, with no thread waiting for it.
        Answers on a thread when there is no worker, or when it ended (killed, or shut down)
        before it answered."""
        loop = asyncio.get_running_loop()
        with self._lock:
            worker = self._started()
            if worker is not None and worker.loop is not loop:
                worker = self._attach(worker, loop)
        if worker is not None:
            future: asyncio.Future[Any] = loop.create_future()
            worker.queued.append((next(self._keys), question, future))
            self._send(worker)
            try:
                found = await future
            finally:
                future.cancel()  # the command cancelled: its answer, if any, is dropped
            if found is not _GONE:
                ok, value = found
                if not ok:
                    raise value
                return value  # type: ignore[no-any-return]
            log.info("ask: answering here, the worker is gone")
        return await asyncio.to_thread(self._answerer, self.store, question)

    def close(self) -> None:
        """Stop the worker, waiting `CLOSE_WAIT` seconds at most for a question in flight (so
        that its database connection is closed when this returns); questions it had not
        answered are answered here."""
        with self._lock:
            self._closed = True
            worker, self._worker = self._worker, None
        if worker is None:
            return
        self._end_soon(worker)
        with contextlib.suppress(OSError, ValueError):  # it is gone already
            worker.pipe.send(None)  # room for it: `IN_PIPE`
        worker.process.join(CLOSE_WAIT)
        if worker.process.is_alive():
            worker.process.kill()
            worker.process.join(CLOSE_WAIT)
        worker.pipe.close()

    # The worker, on the loop ---------------------------------------------------------

    def _started(self) -> _Worker | None:
        """The worker, started if need be (the lock held)."""
        if self._worker is None and self._workers > 0 and not self._closed:
            assert self._target is not None
            try:
                from multiprocessing import Pipe

                here, there = Pipe()
                process = worker_process(
                    _serve,
                    (there, self._target, self._answerer),
                    niceness=NICENESS,
                    name="newsbrief-ask",
                )
                there.close()
                self._worker = _Worker(process, here)
            except (OSError, RuntimeError) as exc:
                log.warning("ask: cannot start a worker process (%s); answering here", exc)
                self._workers = 0
        return self._worker

    def _attach(self, worker: _Worker, loop: asyncio.AbstractEventLoop) -> _Worker | None:
        """Read `worker`'s pipe on `loop` (the lock held): the first question's, or a new
        loop's once the one before it closed (then its questions are gone with it)."""
        old = worker.loop
        if old is not None and not old.is_closed():
            return None  # answered on a thread: another loop reads this worker
        worker.loop = loop
        worker.sent.clear()
        worker.queued.clear()
        loop.add_reader(worker.pipe.fileno(), self._read, worker)
        return worker

    def _send(self, worker: _Worker) -> None:
        """Write queued questions to the pipe while fewer than `IN_PIPE` are in it."""
        while worker.queued and len(worker.sent) < IN_PIPE and not worker.ended:
            key, question, future = worker.queued.popleft()
            if future.done():
                continue  # its command was cancelled
            try:
                worker.pipe.send((key, question))
            except (OSError, ValueError) as exc:
                future.set_result(_GONE)
                self._lost(worker, exc)
                return
            worker.sent[key] = (future, future.get_loop().time())

    def _read(self, worker: _Worker) -> None:
        """Answers from the pipe, to the questions that wait for them."""
        try:
            while worker.pipe.poll():
                key, ok, value = worker.pipe.recv()
                entry = worker.sent.pop(key, None)
                if entry is None:
                    continue  # asked on a loop before this one
                future, written = entry
                now = future.get_loop().time()
                if worker.last_answer:  # a worker's first answer waited for it to start
                    # it answers in turn: this one had it from when it was written, or from
                    # the answer before it
                    began = max(written, worker.last_answer)
                    self._cost += _COST_WEIGHT * (now - began - self._cost)
                worker.last_answer = now
                if not future.done():
                    future.set_result((ok, value))
        except (EOFError, OSError) as exc:  # the worker ended: killed, or failed to start
            self._lost(worker, exc)
            return
        self._send(worker)

    def _lost(self, worker: _Worker, exc: BaseException) -> None:
        """The worker died (or could not open the database): its questions are answered
        here, and the next one starts another, unless too many died already."""
        with self._lock:
            if self._worker is worker:
                self._worker = None
                self._restarts += 1
                if self._restarts > MAX_RESTARTS:
                    self._workers = 0
                    log.error(
                        "ask: the answering worker died %d times; answering in this process "
                        "from now on",
                        self._restarts,
                    )
                else:
                    log.warning("ask: the answering worker died (%r); starting another", exc)
        self._end(worker)
        worker.process.join(0)  # reaped, if it is gone
        worker.pipe.close()

    def _end(self, worker: _Worker) -> None:
        """Stop reading `worker`, and answer its questions here (on its loop)."""
        if worker.ended:
            return
        worker.ended = True
        if worker.loop is not None:
            worker.loop.remove_reader(worker.pipe.fileno())
        waiting = [
            *(future for future, _ in worker.sent.values()),
            *(future for _, _, future in worker.queued),
        ]
        worker.sent.clear()
        worker.queued.clear()
        for future in waiting:
            if not future.done():
                future.set_result(_GONE)

    def _end_soon(self, worker: _Worker) -> None:
        """`_end` from any thread: on `worker`'s loop, waited for (`CLOSE_WAIT` at most, for
        a loop that does not run); at once when that loop is this thread's, and only marked
        when it is gone (its reader went with it)."""
        loop = worker.loop
        if loop is None or loop.is_closed():
            worker.ended = True
            return
        try:
            here = asyncio.get_running_loop() is loop
        except RuntimeError:
            here = False
        if here:
            self._end(worker)
            return
        done = threading.Event()

        def end() -> None:
            try:
                self._end(worker)
            finally:
                done.set()

        try:
            loop.call_soon_threadsafe(end)
        except RuntimeError:  # closed meanwhile
            return
        done.wait(CLOSE_WAIT)
