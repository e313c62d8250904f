"""/ask answered in a worker process, so its CPU never stalls the event loop.

Answering costs 10-20 ms of CPU at 10k articles (splitting and scoring the candidates'
sentences). Computed on a thread of the bot's process it holds the interpreter lock the event
loop needs: in a burst of 50 commands every ack waited behind it (p99 of the Slack ack 3x a
bare bolt app's, ``benches/slack_ack.py``). In a worker process, lowered in priority, the loop
only waits for the answer's few bytes.

The worker opens the same database itself (`Store.reopen_target`); a store no other process can
see (``:memory:``), a machine without processes to spare for it, or a worker that died (killed
for memory) answers on the command's thread as before, so /ask always answers. A dead worker is
replaced at the next question, `MAX_RESTARTS` times at most.

Example:
    answers = Answers(store)
    answer = await answers.answer("What did the council approve?")
    answers.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.process import BaseProcess

from bot.ask import answer_question
from bot.models import Answer
from bot.store import Store, StoreError
from bot.workers import process_pool, spare_cores

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

_store: Store | None = None  # in a worker: the database it answers from


def _open_in_worker(target: str) -> None:
    global _store
    from bot.store import is_postgres, open_store

    if is_postgres(target):
        from bot.store.postgres import PostgresStore

        _store = PostgresStore.open(target, pool_size=1)  # one question at a time
    else:
        _store = open_store(target)


def _answer_in_worker(question: str) -> Answer:
    if _store is None:  # the initializer failed, and the pool would have said so
        raise StoreError("the answering worker has no database")
    return answer_question(_store, question)


class Answers:
    """Answers questions from `store`'s articles in a worker process (see the module).

    Questions are awaited on the event loop (`answer`); the rest may be called from any
    thread.

    Args:
        store: the open database the bot uses.
        workers: worker processes; 0 answers on the calling thread.
    """

    def __init__(self, store: Store, workers: int | None = None) -> None:
        self.store = store
        self._target = store.reopen_target()
        wanted = spare_cores(WORKERS) if workers is None else workers
        self._workers = wanted if self._target is not None else 0
        self._pool: ProcessPoolExecutor | None = None
        self._restarts = 0
        self._in_flight = 0  # questions sent to the workers and not answered yet
        self._lock = threading.Lock()
        self._closed = False

    @property
    def in_workers(self) -> bool:
        """Whether questions go to worker processes (False: on the calling thread)."""
        return self._workers > 0

    def busy(self) -> bool:
        """Whether every worker has a question already: the next one waits for them."""
        return self._workers > 0 and self._in_flight >= self._workers

    def waiting(self) -> int:
        """Questions sent to the workers and not answered yet."""
        return self._in_flight

    def pids(self) -> list[int]:
        """The worker processes running now (none before the first question)."""
        return [p.pid for p in _processes(self._pool) if p.pid is not None and p.is_alive()]

    def start(self) -> None:
        """Start the worker now (it takes about half a second), so that the first question
        does not wait for it."""
        with self._lock:
            pool = self._started()
        if pool is not None:
            with contextlib.suppress(RuntimeError):  # closed meanwhile
                pool.submit(int)  # a pool starts its processes for its first task

    async def answer(self, question: str) -> Answer:
        """`bot.ask.answer_question` for `question`, in a worker when there is one: the event
        loop awaits its answer, with no thread of its own waiting for it (a thread hop and its
        interpreter-lock handovers cost the loop more than the question's bytes do). Answers on
        a thread when there is no worker, or when it died or was shut down under the
        question."""
        with self._lock:
            pool = self._started()
        if pool is None:
            return await asyncio.to_thread(answer_question, self.store, question)
        with self._lock:
            self._in_flight += 1
        try:
            future = pool.submit(_answer_in_worker, question)
            return await asyncio.wrap_future(future)
        except BrokenProcessPool as exc:
            self._lost(pool, exc)
        except RuntimeError as exc:  # the pool was shut down before it took the question
            log.info("ask: answering here, the workers are gone (%r)", exc)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the command itself was cancelled
            # the pool was shut down under the question (the bot closing)
            log.info("ask: answering here, the workers are gone (cancelled)")
        finally:
            with self._lock:
                self._in_flight -= 1
        return await asyncio.to_thread(answer_question, self.store, question)

    def close(self) -> None:
        """Stop the workers, waiting `CLOSE_WAIT` seconds at most for a question in flight (so
        that their database connections are closed when this returns)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = _processes(pool)
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + CLOSE_WAIT
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()

    def _started(self) -> ProcessPoolExecutor | None:
        """The pool, started if need be (the lock held)."""
        if self._pool is None and self._workers > 0 and not self._closed:
            assert self._target is not None
            try:
                self._pool = process_pool(
                    self._workers,
                    niceness=NICENESS,
                    initializer=_open_in_worker,
                    initargs=(self._target,),
                )
            except (OSError, RuntimeError) as exc:
                log.warning("ask: cannot start a worker process (%s); answering here", exc)
                self._workers = 0
        return self._pool

    def _lost(self, pool: ProcessPoolExecutor, exc: BaseException) -> None:
        """A worker died (or could not open the database): drop its pool; the next question
        starts another, unless too many died already."""
        with self._lock:
            if self._pool is not pool:
                return  # another thread saw it first
            self._pool = None
            self._restarts += 1
            if self._restarts > MAX_RESTARTS:
                self._workers = 0
                log.error(
                    "ask: the answering worker died %d times; answering in this process from "
                    "now on",
                    self._restarts,
                )
            else:
                log.warning("ask: the answering worker died (%s); starting another", exc)
        pool.shutdown(wait=False, cancel_futures=True)


def _processes(pool: ProcessPoolExecutor | None) -> list[BaseProcess]:
    """A pool's worker processes (the executor keeps them in a private attribute)."""
    return list((getattr(pool, "_processes", None) or {}).values())
