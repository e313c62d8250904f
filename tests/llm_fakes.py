"""A loopback fake of an OpenAI-compatible Chat Completions server.

It runs in a thread of its own (its own event loop), so sync tests, async tests and the CLI
can all use it. Every request is recorded (headers and JSON body). What it answers is decided
by `answer`, a function of the request body returning a `Reply`: a JSON object for the
assistant's message (sent as its content), raw content, an HTTP error, a ``Retry-After``, a
stall, or usage figures.

Example:
    with FakeModel(lambda body: Reply(content={"headline": "...", "bullets": [...]})) as fake:
        settings = llm_settings(fake.base_url)
        ...
        assert fake.requests[0].headers["authorization"] == "Bearer sk-test"
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

API_KEY = "sk-test-do-not-log-0123456789"


@dataclass
class Reply:
    """One answer: `content` (a dict is sent as JSON text) unless `status` is not 200."""

    content: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    prompt_tokens: int = 100
    completion_tokens: int = 50
    finish_reason: str = "stop"
    body: bytes | None = None  # sent as is, instead of a Chat Completions reply


@dataclass
class Request:
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def user(self) -> str:
        """The user message's text."""
        return "\n".join(m["content"] for m in self.body["messages"] if m["role"] == "user")


class FakeModel:
    """Serves ``POST /v1/chat/completions`` on 127.0.0.1 from a thread."""

    def __init__(self, answer: Callable[[dict[str, Any]], Reply] | None = None) -> None:
        self.answer = answer or (lambda body: Reply(content={"headline": "", "bullets": []}))
        self.requests: list[Request] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def answers(self, *replies: Reply) -> None:
        """Answer the next requests with `replies` in order, then the last one again."""
        queue = list(replies)

        def next_reply(body: dict[str, Any]) -> Reply:
            with self._lock:
                return queue.pop(0) if len(queue) > 1 else queue[0]

        self.answer = next_reply

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(Request({k.lower(): v for k, v in request.headers.items()}, body))
        reply = self.answer(body)
        if reply.delay and self._stop is not None:
            # a stall ends early when the fake stops, so no handler is left pending
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), reply.delay)
        if reply.body is not None:
            return web.Response(status=reply.status, body=reply.body, headers=reply.headers)
        if reply.status != 200:
            error = {"error": {"message": f"fake error {reply.status}", "type": "fake"}}
            return web.json_response(error, status=reply.status, headers=reply.headers)
        content = reply.content
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        return web.json_response(
            {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "model": body.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": reply.finish_reason,
                    }
                ],
                "usage": {
                    "prompt_tokens": reply.prompt_tokens,
                    "completion_tokens": reply.completion_tokens,
                    "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                },
            },
            headers=reply.headers,
        )

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def main() -> None:
            self._stop = asyncio.Event()
            app = web.Application(client_max_size=8 * 1024 * 1024)
            app.router.add_post("/v1/chat/completions", self._handle)
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            self.port = runner.addresses[0][1]
            self._ready.set()
            await self._stop.wait()
            await runner.cleanup()

        loop.run_until_complete(main())
        loop.close()

    def __enter__(self) -> FakeModel:
        self._thread = threading.Thread(target=self._run, name="fake-model", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)
