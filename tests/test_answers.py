"""/ask answered in a worker process (`bot.commands.answers`), so its CPU never stalls the event
loop: the same answers as on the command's thread, from SQLite and from PostgreSQL; a worker
killed with SIGKILL costs no answer and is replaced; the worker ends with the bot, however the
bot ends; a stalled worker holds up no other command, nor the event loop however many questions
wait for it; questions a quick worker answers within the platform's budget ride in its first
response, however many are asked together; a command that knows it will be late (a
question queued behind a stalled worker) is deferred at once, not when the budget runs out; and
the worker runs the answerer it is given (a benchmark's stand-in) on the same store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ask import answer_question
from bot.commands import Reply, from_line, respond_in_time
from bot.commands.answers import STALL, Answers
from bot.commands.dispatch import LATE
from bot.config import Settings
from bot.engine import Engine
from bot.models import Answer, ChannelRef
from bot.store import Store
from tests.conftest import add_seeds
from tests.processes import all_gone, children

ROOT = Path(__file__).resolve().parents[1]
CHANNEL = ChannelRef("console", "t")
QUESTIONS = (
    "What does Zelenskyy say security guarantees are?",
    "What did the Riverton council approve?",
    "How much will the Riverton bike lanes cost?",
    "Where is the zebracorn sanctuary?",  # nothing stored answers it
)


@pytest.fixture
def store(any_store: Store) -> Store:
    """The seeds, on SQLite and on PostgreSQL."""
    return add_seeds(any_store)


@contextlib.contextmanager
def _on_seeds(tmp_path: Path) -> Iterator[tuple[Store, Engine]]:
    """The seeds in an SQLite file, and an engine on them (closed, with its worker, on exit)."""
    with Store.open(tmp_path / "bot.db") as store:
        add_seeds(store)
        engine = Engine(store, Settings())
        try:
            yield store, engine
        finally:
            engine.close()


def _where(store: Store, question: str) -> Answer:
    """A stand-in answerer (as ``benches/slack_ack.py --answer-cost`` gives): says which
    process answered and how many articles it saw."""
    return Answer(f"{question} @{os.getpid()} of {store.count_articles()}")


async def _ask(engine: Engine, question: str) -> Answer:
    reply = await engine.commands.dispatch(from_line(CHANNEL, f"/ask {question}"))
    assert reply.ok and reply.answer is not None, reply.text
    return reply.answer


async def test_ask_is_answered_in_a_worker_process_with_the_same_answers(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.commands.answers")
    engine = Engine(store, Settings())
    try:
        answers = [await _ask(engine, q) for q in QUESTIONS]
        workers = engine.answers.pids()
    finally:
        engine.close()
    assert answers == [answer_question(store, q) for q in QUESTIONS]
    assert sum(a.answered for a in answers) == 3
    # a process of its own, started by the bot, and none of the answers came from elsewhere
    assert len(workers) == 1 and workers[0] != os.getpid()
    assert not caplog.records, caplog.text
    assert all_gone(workers), "the worker outlived engine.close()"


async def test_the_worker_runs_the_answerer_it_is_given_on_the_same_store(
    tmp_path: Path,
) -> None:
    with _on_seeds(tmp_path) as (store, _):
        answers = Answers(store, answerer=_where)
        try:
            answer = await answers.answer("who?")
            (worker,) = answers.pids()
        finally:
            answers.close()
        here = await Answers(store, workers=0, answerer=_where).answer("who?")
        stored = store.count_articles()
    assert answer.question == f"who? @{worker} of {stored}"
    assert worker != os.getpid() and stored > 0
    assert here.question == f"who? @{os.getpid()} of {stored}"


async def test_a_worker_killed_with_sigkill_costs_no_answer_and_is_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with _on_seeds(tmp_path) as (store, engine):
        engine.answers.start()
        deadline = time.monotonic() + 60
        while not engine.answers.pids():
            assert time.monotonic() < deadline, "the worker never started"
            await asyncio.sleep(0.05)
        (killed,) = engine.answers.pids()
        os.kill(killed, signal.SIGKILL)
        # a burst on both command threads while the pool finds out its worker is dead
        burst = await asyncio.gather(*(_ask(engine, q) for q in QUESTIONS[:3]))
        later = await _ask(engine, QUESTIONS[3] + " ")  # not kept: asked afresh
        replaced = engine.answers.pids()
        assert burst == [answer_question(store, q) for q in QUESTIONS[:3]]
        assert all(a.answered for a in burst)
        assert later == answer_question(store, QUESTIONS[3])
        assert replaced and killed not in replaced
        assert "the answering worker died" in caplog.text


async def _stall_with_questions(engine: Engine) -> tuple[int, list[asyncio.Future[Answer]]]:
    """Stop the worker (SIGSTOP) once it answered one question, then ask the rest of
    `QUESTIONS`; returns the worker's pid and the questions, once all are with the worker."""
    assert (await _ask(engine, QUESTIONS[0])).answered
    (worker,) = engine.answers.pids()
    os.kill(worker, signal.SIGSTOP)  # stalled: swapped out, or stopped by a debugger
    asked = [asyncio.ensure_future(_ask(engine, q)) for q in QUESTIONS[1:]]
    deadline = time.monotonic() + 20
    while engine.answers.waiting() < len(asked):
        assert time.monotonic() < deadline, "questions never reached the worker"
        await asyncio.sleep(0.02)
    return worker, asked


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
async def test_a_stalled_worker_holds_up_no_other_command(tmp_path: Path) -> None:
    with _on_seeds(tmp_path) as (store, engine):
        # more questions than the bot has threads for commands, all awaiting the worker
        worker, asked = await _stall_with_questions(engine)
        try:
            # a /brief nothing kept is computed meanwhile, on the threads for commands
            brief = await asyncio.wait_for(
                engine.commands.dispatch(from_line(CHANNEL, "/brief riverton")), timeout=20
            )
            assert brief.digest is not None and brief.digest.stories
            # and once the worker has been on one question for several times its usual
            # time (and over `STALL`), one more question says at once that it will be
            # late: however long the platform waits, no one can tell when it is answered
            await asyncio.sleep(2 * STALL)
            platform = _Recorder()
            late = asyncio.ensure_future(
                respond_in_time(
                    engine.commands.dispatch,
                    from_line(CHANNEL, "/ask Who is the mayor of Riverton?"),
                    platform,
                    budget=60.0,
                )
            )
            await asyncio.wait_for(platform.deferred.wait(), timeout=20)
            assert not any(task.done() for task in asked)
        finally:
            os.kill(worker, signal.SIGCONT)
        answers = await asyncio.gather(*asked)
        mayor = await asyncio.wait_for(late, timeout=60)
        assert answers == [answer_question(store, q) for q in QUESTIONS[1:]]
        assert platform.events == ["defer", "follow-up: From 1 article:"]
        assert mayor.answer == answer_question(store, "Who is the mayor of Riverton?")
        assert "Whitfield" in mayor.answer.citations[0].sentence


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
async def test_questions_in_flight_when_the_worker_is_shut_down_are_answered_here(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.commands.answers")
    with _on_seeds(tmp_path) as (store, engine):
        worker, asked = await _stall_with_questions(engine)
        # the bot closing: the pool cancels the questions it had not handed to the worker
        # yet, and the stopped worker is killed after `CLOSE_WAIT`
        await asyncio.to_thread(engine.answers.close)
        answers = await asyncio.wait_for(asyncio.gather(*asked), timeout=60)
        assert answers == [answer_question(store, q) for q in QUESTIONS[1:]]
        assert "answering here" in caplog.text
        assert all_gone([worker])


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="needs SIGSTOP")
async def test_more_questions_than_a_pipe_holds_never_block_the_event_loop(
    tmp_path: Path,
) -> None:
    loop = asyncio.get_running_loop()
    stalled: list[str] = []
    with _on_seeds(tmp_path) as (store, engine):
        worker, asked = await _stall_with_questions(engine)
        # 400 questions of 480 characters, about 200 KB: more than the pipe (a socket
        # pair) holds, about 90 KB
        many = ["Who approved the Riverton lanes? " + "x" * 447] * 400
        more = [asyncio.ensure_future(engine.answers.answer(q)) for q in many]

        def watch() -> None:
            # the loop must keep running every callback it is given; a write to the
            # stopped worker's full pipe would hold it for good (once the worker goes on,
            # its answers fill the pipe back, which the loop no longer reads): the worker
            # is then killed, which ends the write
            for _ in range(20):
                try:
                    asyncio.run_coroutine_threadsafe(asyncio.sleep(0), loop).result(5)
                except TimeoutError:
                    stalled.append("the event loop stopped for 5 s")
                    os.kill(worker, signal.SIGKILL)
                    return
                time.sleep(0.05)

        await asyncio.to_thread(watch)
        waiting = engine.answers.waiting()
        with contextlib.suppress(ProcessLookupError):  # killed by the watch
            os.kill(worker, signal.SIGCONT)
        answers = await asyncio.wait_for(asyncio.gather(*asked, *more), timeout=120)
        assert not stalled
        assert waiting == len(asked) + len(many)
        expected = [answer_question(store, q) for q in (*QUESTIONS[1:], many[0])]
        assert answers == expected[:-1] + expected[-1:] * len(many)


def test_an_in_memory_store_is_answered_on_the_command_thread() -> None:
    with Store.open(":memory:") as store:
        add_seeds(store)
        engine = Engine(store, Settings())
        try:
            assert not engine.answers.in_workers
            answer = asyncio.run(_ask(engine, QUESTIONS[0]))
            assert answer == answer_question(store, QUESTIONS[0])
            assert answer.answered
            assert engine.answers.pids() == []
        finally:
            engine.close()


BOT = """
import asyncio, sys, time
from bot.config import Settings
from bot.engine import Engine
from bot.store import Store
store = Store.open(sys.argv[1])
engine = Engine(store, Settings())
assert asyncio.run(engine.answers.answer(sys.argv[2])).answered
print(*engine.answers.pids(), flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_worker_ends_when_the_bot_is_killed(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    with Store.open(db) as store:
        add_seeds(store)
    bot = subprocess.Popen(
        [sys.executable, "-c", BOT, str(db), QUESTIONS[0]],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert bot.stdout is not None
        workers = [int(pid) for pid in bot.stdout.readline().split()]
        assert workers and set(workers) <= set(children(bot.pid))
        bot.send_signal(signal.SIGKILL)
        bot.wait(timeout=30)
    finally:
        bot.kill()
        bot.wait(timeout=30)
    assert all_gone(workers), "the /ask worker outlived the killed bot"


async def test_questions_a_quick_worker_answers_within_the_budget_ride_in_the_first_response(
    tmp_path: Path,
) -> None:
    with _on_seeds(tmp_path) as (store, engine):
        await _ask(engine, "Who is the mayor of Riverton?")  # the worker is up
        platforms = [_Recorder() for _ in QUESTIONS]
        # asked together, each queued behind the others: in milliseconds, well within a
        # budget of seconds, so none is deferred (it was, behind any other question)
        await asyncio.gather(
            *(
                respond_in_time(
                    engine.commands.dispatch,
                    from_line(CHANNEL, f"/ask {question}"),
                    platform,
                    budget=30.0,
                )
                for question, platform in zip(QUESTIONS, platforms, strict=True)
            )
        )
        expected = [answer_question(store, q).answered for q in QUESTIONS]
    assert [p.events[0].split(":")[0] for p in platforms] == ["answer"] * len(QUESTIONS)
    # and each is the answer itself (three of the four questions are answered)
    assert [p.events[0].startswith("answer: From ") for p in platforms] == expected


class _Recorder:
    """A platform's side of one command: what it was told, in order."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.deferred = asyncio.Event()

    async def answer(self, reply: Reply, *, private: bool) -> None:
        self.events.append(f"answer: {reply.text}")

    async def defer(self, *, private: bool) -> None:
        self.events.append("defer")
        self.deferred.set()

    async def follow_up(self, reply: Reply, *, private: bool) -> None:
        self.events.append(f"follow-up: {reply.text}")


async def test_a_command_that_says_it_will_be_late_is_deferred_at_once() -> None:
    platform = _Recorder()

    async def slow(request: object) -> Reply:
        late = LATE.get()
        assert late is not None
        late()
        # the reply is only ready once the platform heard "working on it": with the budget
        # of a minute below, that is at once or the command fails
        await asyncio.wait_for(platform.deferred.wait(), timeout=10)
        return Reply("the answer")

    reply = await respond_in_time(slow, from_line(CHANNEL, "/ask anything"), platform, budget=60.0)
    assert reply.text == "the answer"
    assert platform.events == ["defer", "follow-up: the answer"]


async def test_a_command_ready_in_time_is_answered_in_the_first_response() -> None:
    platform = _Recorder()

    async def quick(request: object) -> Reply:
        return Reply("the answer")

    await respond_in_time(quick, from_line(CHANNEL, "/brief"), platform, budget=60.0)
    assert platform.events == ["answer: the answer"]
    assert LATE.get() is None  # the signal belonged to that command only
