"""Print how long a 200-story digest takes with model briefings, beside the extractive one.

A real SQLite store holds 200 distinct stories (`tests.stories.add_stories`); each digest is
claimed, built, rewritten and posted through the real `Delivery` to a poster that keeps it.
In the same run:

- extractive: no model (the default);
- model, answering at once: a loopback fake OpenAI-compatible server writes every story's
  briefing from the text in its prompt, at ``max_concurrency = 8``, nothing cached;
- model, stalling: the fake takes 30 s a request; the digest must still be posted within
  ``[llm] digest_deadline`` (here 2 s) of the extractive time, all of it extractive.

Targets (issue 15): the model digest within 2x the extractive digest's time; with the model
stalling, posted on time with extractive briefings.

Run: ``.venv/bin/python benches/llm_digest.py``
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.config import LlmSettings, Secrets, Settings
from bot.delivery import Delivery
from bot.models import ChannelRef, Digest, Receipt
from bot.store import Store
from bot.summarize.llm import ModelWriter
from bot.summarize.sentences import split_sentences
from tests.llm_fakes import FakeModel, Reply
from tests.stories import add_stories

STORIES = 200
CONCURRENCY = 8
DEADLINE = 2.0
NOW = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)


def _write(body: dict[str, Any]) -> Reply:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    text = user.split("Text:\n", 1)[1]
    return Reply(content={"headline": "", "bullets": split_sentences(text)[:3]})


def _stall(body: dict[str, Any]) -> Reply:
    return Reply(content={"headline": "", "bullets": []}, delay=30.0)


async def _digest(store: Store, channel: str, writer: ModelWriter | None) -> tuple[float, Digest]:
    posted: list[Digest] = []

    async def post(ref: ChannelRef, digest: Digest) -> Receipt:
        posted.append(digest)
        return Receipt(ref, ("m1",))

    delivery = Delivery(store, {"bench": post}, max_stories=STORIES)
    delivery.writer = writer
    started = time.perf_counter()
    outcome = await delivery.send(ChannelRef("bench", channel), "s1", now=NOW)
    took = time.perf_counter() - started
    assert outcome.status == "sent", outcome.detail
    return took, posted[-1]


def _writer(store: Store, base_url: str, model: str) -> ModelWriter:
    settings = Settings(
        llm=LlmSettings(
            enabled=True,
            base_url=base_url,
            model=model,
            max_concurrency=CONCURRENCY,
            allow_private=True,
            digest_deadline=DEADLINE,
            timeout=60.0,
            daily_token_budget=0,
        ),
        secrets=Secrets(llm_api_key="sk-bench"),
    )
    writer = ModelWriter.from_settings(settings, store)
    assert writer is not None
    return writer


def _written(digest: Digest) -> int:
    return sum(all(b.written for b in s.briefing.bullets) for s in digest.stories)


async def main() -> int:
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as folder, Store.open(Path(folder) / "bench.db") as store:
        add_stories(store, STORIES, now=NOW)
        plain, digest = await _digest(store, "extractive", None)
        print(f"{len(digest.stories)}-story digest, each story one report; concurrency "
              f"{CONCURRENCY}, digest_deadline {DEADLINE:g} s")  # fmt: skip
        print(f"extractive (baseline)        {plain:6.2f} s")
        with FakeModel(_write) as fake:
            writer = _writer(store, fake.base_url, "fast-model")
            try:
                fast, digest = await _digest(store, "model", writer)
            finally:
                await writer.close()
            ratio = fast / plain
            print(f"model answering at once      {fast:6.2f} s  ({ratio:.2f}x the extractive "
                  f"digest; {_written(digest)} of {len(digest.stories)} stories written by the "
                  f"model, {len(fake.requests)} requests)")  # fmt: skip
        with FakeModel(_stall) as fake:
            writer = _writer(store, fake.base_url, "stalled-model")
            try:
                slow, digest = await _digest(store, "stall", writer)
            finally:
                await writer.close()
            late = slow - plain
            print(f"model stalling (30 s/request){slow:6.2f} s  ({late:.2f} s after the extractive "
                  f"digest; {_written(digest)} stories written by the model)")  # fmt: skip
        print(f"target: model digest within 2x the extractive time: "
              f"{'met' if ratio <= 2 else 'NOT met'}")  # fmt: skip
        on_time = late <= DEADLINE + 1.0 and _written(digest) == 0
        print(f"target: stalled model, digest posted on time with extractive briefings: "
              f"{'met' if on_time else 'NOT met'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
