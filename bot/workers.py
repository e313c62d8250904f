"""Worker processes for CPU-bound work (summarising at ingest, answering /ask): the cores the
event loop's thread does not use, and processes that never outlive the bot.

A thread cannot do this work: while it computes it holds the interpreter lock, and the event
loop that acks commands and keeps platform connections alive waits for it.

Example:
    pool = process_pool(spare_cores(4), initializer=open_store_here, initargs=(target,))
    result = await asyncio.get_running_loop().run_in_executor(pool, work, item)
    process = worker_process(serve, (connection,), niceness=5)
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any


def spare_cores(limit: int) -> int:
    """The cores this process may use, less the one the event loop's thread runs on, at most
    `limit`; 0 on a single core."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(0, min(limit, cores - 1))


def watch_parent() -> None:
    """In a worker: end when the process that started it is gone (killed with SIGKILL, it
    cannot say so), rather than live on as an orphan."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _start_worker(
    niceness: int, initializer: Callable[..., None] | None, args: tuple[Any, ...]
) -> None:
    watch_parent()
    if niceness and hasattr(os, "nice"):
        os.nice(niceness)
    if initializer is not None:
        initializer(*args)


def worker_process(
    main: Callable[..., None],
    args: tuple[Any, ...] = (),
    *,
    niceness: int = 0,
    name: str = "newsbrief-worker",
) -> multiprocessing.process.BaseProcess:
    """A spawned process running ``main(*args)``, started, that ends with this one (see
    `process_pool`)."""
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_start_worker, args=(niceness, main, args), name=name, daemon=True
    )
    process.start()
    return process


def process_pool(
    workers: int,
    *,
    niceness: int = 0,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> ProcessPoolExecutor:
    """A pool of `workers` spawned processes that end with this one.

    Spawned, not forked: a fork of a process with threads (the event loop's executors, a
    client library's) may inherit a lock held by one of them.

    Args:
        niceness: added to each worker's nice value, so that under load the event loop's
            process (acks, heartbeats) gets the CPU first.
        initializer: run once in each worker with `initargs` (opening a database).
    """
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(niceness, initializer, initargs),
    )
