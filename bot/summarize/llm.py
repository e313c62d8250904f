"""Optional model-written briefings and answers, every sentence checked against its source.

Off by default (``[llm] enabled = false``): nothing here runs and briefings stay extractive.
On, one OpenAI-compatible Chat Completions endpoint (a hosted API, or the operator's own
Ollama, vLLM or llama.cpp server) writes:

- a briefing per article (feature ``briefings``) or per story (``stories``: the best report
  and what the other outlets add), asked for as ``{"headline", "bullets": [...]}`` with 3-5
  bullets of at most 30 words in the article's language;
- a direct answer to ``/ask`` (``ask``) from the retrieved sentences only, citing them as
  [1], [2].

Every sentence the model writes goes through `bot.summarize.grounding` before anyone sees it
or it is stored: what the source does not support is dropped and listed as rejected; with
fewer than three bullets left, or a reply that is malformed, late, refused or over budget, the
extractive briefing is used for that item (a log line and a counter say so). Results are
cached in the database by (model, hash of the request), requests run at most
``max_concurrency`` at once, 429 and 5xx are retried with backoff within the item's deadline,
and a digest waits for the model at most ``digest_deadline`` seconds.

The API key is sent only in the ``Authorization`` header: it is never logged, stored, or put
in an error.

Example:
    writer = ModelWriter.from_settings(settings, store)
    written = await writer.brief_article(article, summarize(article.text, article.title))
    written.origin, written.briefing, written.rejected
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hashlib
import json
import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.config import LlmSettings, Settings
from bot.errors import BriefingError, SourceError
from bot.ingest.http import FetchPolicy, make_client
from bot.models import Answer, Article, Briefing, Bullet, Digest, Story
from bot.store import Store
from bot.summarize.compress import cut_to, finish, word_count
from bot.summarize.extractive import MAX_BULLET_WORDS, MAX_HEADLINE_WORDS
from bot.summarize.grounding import CHECK_VERSION, Source, Verdict, check_sentence

__all__ = ["ChatClient", "ModelError", "ModelWriter", "Rejected", "Written"]

log = logging.getLogger(__name__)

MIN_BULLETS = 3
MAX_BULLETS = 5
# The article text sent, at most: news puts what matters first, and the check reads what was
# sent, so a longer text only costs tokens.
MAX_ARTICLE_CHARS = 12_000
# A story's best report in full (to the cap above), each other report's start.
MAX_OTHER_REPORT_CHARS = 2_500
MAX_REPLY_BYTES = 1_000_000
_BACKOFF = 0.5  # seconds before the first retry of a 5xx; doubles each time

_BRIEFING_SYSTEM = (
    "You write news briefings from one article. Use only what the article states: no "
    "names, numbers, dates or facts it does not give. Reply with one JSON object and "
    'nothing else: {"headline": "...", "bullets": ["...", "..."]} with a headline of at '
    f"most {MAX_HEADLINE_WORDS} words and 3 to 5 bullets, each one sentence of at most "
    f"{MAX_BULLET_WORDS} words that makes sense on its own, most important first, written in "
    "the language of the article."
)
_STORY_SYSTEM = (
    "You write one news briefing of an event from several outlets' reports. Start from the "
    "main report, then add what the other outlets add (a figure, a quote, a reaction). Use "
    "only what the reports state: no names, numbers, dates or facts they do not give. Reply "
    'with one JSON object and nothing else: {"headline": "...", "bullets": ["...", "..."]} '
    f"with a headline of at most {MAX_HEADLINE_WORDS} words and 3 to 5 bullets, each one "
    f"sentence of at most {MAX_BULLET_WORDS} words, written in the language of the reports."
)
_ANSWER_SYSTEM = (
    "You answer a question using only the numbered sentences given, which come from news "
    "articles. Reply with one JSON object and nothing else: "
    '{"answer": ["sentence [1]", "sentence [2]"]}: one to three short sentences, each ending '
    "with the number(s) of the sentence(s) it rests on in brackets. If the sentences do not "
    'answer the question, reply {"answer": []}. Do not add anything they do not state.'
)
_CITE = re.compile(r"\s*\[(\d{1,2})\]")


class ModelError(BriefingError):
    """A model request failed: `reason` says how (never with the key), `status` the HTTP
    status when there was one."""

    def __init__(
        self,
        reason: str,
        status: int | None = None,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
    ):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Completion:
    """One reply of the Chat Completions API."""

    content: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Rejected:
    """A sentence the model wrote that the check removed, and why."""

    text: str
    reason: str


@dataclass(frozen=True, slots=True)
class Written:
    """What came of asking the model for one briefing.

    Attributes:
        briefing: the briefing to show: the model's (checked) or the extractive fallback.
        origin: ``model`` or ``extract``: which engine `briefing` came from.
        rejected: model sentences the check removed (also when the fallback was used).
        fallback: why the extractive briefing was used ("" when it was not).
        tokens: tokens the request cost (0 for a cached result).
        cached: the result came from the cache.
    """

    briefing: Briefing
    origin: str
    rejected: tuple[Rejected, ...] = ()
    fallback: str = ""
    tokens: int = 0
    cached: bool = False


class ChatClient:
    """A client of one Chat Completions endpoint, under the feeds' address rules.

    Connections pass the same checks as feed fetches (`bot.ingest.http.make_client`): no
    private, loopback or link-local address unless ``[fetch] allow_private`` or, for this
    server only, ``[llm] allow_private``; redirects are not followed; proxies are ignored.
    """

    def __init__(
        self,
        settings: LlmSettings,
        api_key: str | None,
        *,
        allow_private: bool = False,
        user_agent: str = "newsbrief",
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._key = api_key
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        host = (urlsplit(settings.base_url).hostname or "").lower()
        self.policy = FetchPolicy(
            timeout=settings.timeout,
            allow_private=allow_private,
            user_agent=user_agent,
            allowed_hosts=frozenset({host}) if settings.allow_private and host else frozenset(),
        )
        self._sleep = sleep
        self._slots = asyncio.Semaphore(settings.max_concurrency)
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never the key
        return f"ChatClient({self._url!r}, model={self.settings.model!r})"

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def complete(self, messages: Sequence[dict[str, str]], *, deadline: float) -> Completion:
        """Send one request; retry 429 and 5xx with backoff until `deadline` (monotonic).

        Raises:
            ModelError: refused, failed, late or not a Chat Completions reply.
        """
        body = {
            "model": self.settings.model,
            "messages": list(messages),
            "max_tokens": self.settings.max_output_tokens,
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        async with self._slots:
            attempt = 0
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ModelError("no answer before the deadline")
                try:
                    async with asyncio.timeout(left):
                        return await self._post(body)
                except TimeoutError:
                    raise ModelError(f"no answer within {left:.3g} s") from None
                except ModelError as exc:
                    attempt += 1
                    if not exc.retryable or attempt > self.settings.max_retries:
                        raise
                    wait = exc.retry_after
                    if wait is None:
                        wait = _BACKOFF * 2 ** (attempt - 1) * (1 + random.random() / 4)
                    if time.monotonic() + wait >= deadline:
                        raise ModelError(
                            f"{exc.reason}; no time left to retry", exc.status
                        ) from None
                    log.info("model: %s, retry %d in %.2g s", exc.reason, attempt, wait)
                    await self._sleep(wait)

    async def _post(self, body: dict[str, Any]) -> Completion:
        if self._client is None:
            self._client = make_client(self.policy)
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        try:
            async with self._client.stream("POST", self._url, json=body, headers=headers) as reply:
                raw = await _read(reply)
                status = reply.status_code
                retry_after = _retry_after(reply.headers.get("retry-after"))
        except SourceError as exc:  # an address the policy refuses, an unknown host
            raise ModelError(exc.reason) from None
        except httpx.HTTPError as exc:
            raise ModelError(f"request failed ({type(exc).__name__})", retryable=True) from None
        if status == 429 or status >= 500:
            raise ModelError(
                f"the server answered {status}", status, retryable=True, retry_after=retry_after
            )
        if status != 200:
            raise ModelError(f"the server answered {status}: {_error_text(raw)}", status)
        return _completion(raw)


async def _read(reply: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in reply.aiter_bytes():
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise ModelError(f"reply over {MAX_REPLY_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _retry_after(value: str | None) -> float | None:
    """Seconds a 429 asks to wait: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _error_text(raw: bytes) -> str:
    try:
        data = json.loads(raw)
        message = data.get("error", {}).get("message") if isinstance(data, dict) else None
    except (ValueError, AttributeError):
        message = None
    text = str(message or raw[:200].decode("utf-8", "replace"))
    return " ".join(text.split())[:200]


def _completion(raw: bytes) -> Completion:
    try:
        data = json.loads(raw)
        choice = data["choices"][0]
        content = choice["message"]["content"]
        usage = data.get("usage") or {}
        if not isinstance(content, str):
            raise TypeError("content is not text")
        return Completion(
            content=content,
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            finish_reason=str(choice.get("finish_reason") or ""),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ModelError("not a Chat Completions reply") from None


def _day(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")


@dataclass(slots=True)
class _Tally:
    """What one batch (a digest, a /brief) cost and did, for its log line."""

    items: int = 0
    written: int = 0
    fallbacks: int = 0
    rejected: int = 0
    tokens: int = 0
    cached: int = 0

    def add(self, written: Written) -> None:
        self.items += 1
        self.written += written.origin == "model"
        self.fallbacks += written.origin != "model"
        self.rejected += len(written.rejected)
        self.tokens += written.tokens
        self.cached += written.cached


@dataclass(slots=True)
class ModelWriter:
    """Asks the model for briefings and answers, checks them, caches and counts them.

    Build it with `from_settings`; `store` holds the cache and the daily counters (None: an
    in-memory cache, for a one-off command).
    """

    client: ChatClient
    settings: LlmSettings
    store: Store | None = None
    min_bullets: int = MIN_BULLETS
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _memory: dict[str, str] = field(default_factory=dict)
    _spent: dict[str, int] = field(default_factory=dict)
    _warned: set[str] = field(default_factory=set)
    # results and counters not saved yet: a digest saves its own in one transaction at the
    # end, not one per story (see `_batch`)
    _results: list[tuple[str, str, int]] = field(default_factory=list)
    _usage: dict[str, dict[str, int]] = field(default_factory=dict)
    _batches: int = 0

    @classmethod
    def from_settings(cls, settings: Settings, store: Store | None = None) -> ModelWriter | None:
        """The writer `settings` ask for, or None when ``[llm]`` is off."""
        llm = settings.llm
        if not llm.enabled or not llm.base_url or not llm.model:
            return None
        client = ChatClient(
            llm,
            settings.secrets.llm_api_key,
            allow_private=settings.fetch.allow_private,
            user_agent=settings.fetch.user_agent,
        )
        return cls(client=client, settings=llm, store=store)

    def uses(self, feature: str) -> bool:
        return feature in self.settings.features

    async def close(self) -> None:
        await self.client.close()

    # Briefings ------------------------------------------------------------------------

    async def brief_article(
        self, article: Article, fallback: Briefing, *, deadline: float | None = None
    ) -> Written:
        """The model's briefing of `article`, checked; `fallback` when it cannot be had."""
        text = _cut(article.text, MAX_ARTICLE_CHARS)
        user = _article_prompt(article, text)

        def source() -> Source:
            return Source.of([(article.label, text)], article.language)

        urls = {article.label: article.url}
        return await self._briefing(
            _BRIEFING_SYSTEM, user, source, urls, fallback, deadline, story=False
        )

    async def brief_story(
        self, articles: Sequence[Article], fallback: Briefing, *, deadline: float | None = None
    ) -> Written:
        """The model's briefing of a story from its reports (the first is the best one)."""
        lead, *others = articles
        parts = [(lead.label, _cut(lead.text, MAX_ARTICLE_CHARS))]
        parts += [(a.label, _cut(a.text, MAX_OTHER_REPORT_CHARS)) for a in others]
        blocks = [_article_prompt(lead, parts[0][1], heading="Main report")]
        for article, (_, text) in zip(others, parts[1:], strict=True):
            blocks.append(_article_prompt(article, text, heading="Other report"))

        def source() -> Source:
            return Source.of(parts, lead.language)

        urls: dict[str, str] = {}
        for article in articles:
            urls.setdefault(article.label, article.url)
        return await self._briefing(
            _STORY_SYSTEM, "\n\n".join(blocks), source, urls, fallback, deadline, story=True
        )

    async def _briefing(
        self,
        system: str,
        user: str,
        source: Callable[[], Source],
        urls: dict[str, str],
        fallback: Briefing,
        deadline: float | None,
        *,
        story: bool,
    ) -> Written:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        key = self._key(messages, f"min{self.min_bullets}")
        cached = self._cached(key)
        if cached is not None:
            written = _from_json(cached, fallback)
            self._count(cache_hits=1, **_outcome(written))
            return written
        reply = await self._ask(messages, deadline)
        if isinstance(reply, str):
            self._count(fallbacks=1)
            log.warning("model briefing not used: %s; the extractive briefing is", reply)
            return Written(fallback, "extract", fallback=reply)
        # the source is indexed only now: a late or failed request never pays for it
        written = self._check_briefing(reply, source(), urls, fallback, story=story)
        self._count(**_outcome(written))
        if written.fallback:
            log.warning("model briefing not used: %s; the extractive briefing is", written.fallback)
        self._remember(key, _to_json(written), reply.tokens)
        return written

    def _check_briefing(
        self,
        reply: Completion,
        source: Source,
        urls: dict[str, str],
        fallback: Briefing,
        *,
        story: bool,
    ) -> Written:
        tokens = reply.tokens
        problem = _over_limit(reply, self.settings.max_output_tokens)
        if problem:
            return Written(fallback, "extract", fallback=problem, tokens=tokens)
        try:
            headline, lines = _parse_briefing(reply.content)
        except ValueError as exc:
            return Written(fallback, "extract", fallback=f"malformed reply ({exc})", tokens=tokens)
        rejected: list[Rejected] = []
        bullets: list[Bullet] = []
        seen: set[str] = set()
        for line in lines:
            text = _fit(line, MAX_BULLET_WORDS)
            if not text or text.lower() in seen:
                continue
            verdict = check_sentence(text, source)
            if not verdict.ok:
                rejected.append(Rejected(text, verdict.reason))
                continue
            seen.add(text.lower())
            bullets.append(_bullet(text, verdict, urls, story=story))
        kept_headline = fallback.headline
        if headline:
            fitted = _fit(headline, MAX_HEADLINE_WORDS, sentence=False)
            verdict = check_sentence(fitted, source)
            if verdict.ok:
                kept_headline = fitted
            else:
                rejected.append(Rejected(fitted, verdict.reason))
        if len(bullets) < self.min_bullets:
            why = f"{len(bullets)} of {len(lines)} bullets passed the check"
            return Written(fallback, "extract", tuple(rejected), why, tokens)
        briefing = Briefing(kept_headline, tuple(bullets[:MAX_BULLETS]))
        return Written(briefing, "model", tuple(rejected), tokens=tokens)

    # Digests and /brief ---------------------------------------------------------------

    async def rewrite(
        self, stories: Sequence[Story], *, within: float | None = None
    ) -> list[Story]:
        """`stories` with model briefings where the model delivers them within `within`
        seconds (``digest_deadline`` by default); the rest keep their extractive ones.

        Updates (a story sent before, with only its new bullets) keep theirs.
        """
        limit = self.settings.digest_deadline if within is None else within
        began = time.monotonic()
        deadline = began + limit
        jobs: dict[int, asyncio.Task[Written]] = {}
        for index, story in enumerate(stories):
            several = len(story.articles) > 1
            if story.update or not self.uses("stories" if several else "briefings"):
                continue
            if several:
                job = self.brief_story(story.articles, story.briefing, deadline=deadline)
            else:
                job = self.brief_article(story.lead, story.briefing, deadline=deadline)
            jobs[index] = asyncio.create_task(job)
        if not jobs:
            return list(stories)
        with self._batch():
            return self._collect(stories, jobs, await self._wait(jobs, deadline), began)

    async def _wait(self, jobs: dict[int, asyncio.Task[Written]], deadline: float) -> int:
        """Wait for `jobs` until `deadline`; cancel the late ones and count them."""
        _, late = await asyncio.wait(jobs.values(), timeout=max(0.0, deadline - time.monotonic()))
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
            self._count(fallbacks=len(late))
        return len(late)

    def _collect(
        self,
        stories: Sequence[Story],
        jobs: dict[int, asyncio.Task[Written]],
        late: int,
        began: float,
    ) -> list[Story]:
        tally = _Tally()
        out = list(stories)
        for index, task in jobs.items():
            if task.cancelled():
                tally.add(Written(out[index].briefing, "extract", fallback="late"))
                continue
            exc = task.exception()
            if exc is not None:
                log.error("model briefing failed", exc_info=exc)
                tally.add(Written(out[index].briefing, "extract", fallback=type(exc).__name__))
                continue
            written = task.result()
            tally.add(written)
            if written.origin == "model":
                out[index] = replace(out[index], briefing=written.briefing)
        log.info(
            "model briefings: %d of %d stories written by %s (%d extractive, %d late), "
            "%d sentences rejected, %d tokens, %d cache hits, %.1f s",
            tally.written,
            tally.items,
            self.settings.model,
            tally.fallbacks,
            late,
            tally.rejected,
            tally.tokens,
            tally.cached,
            time.monotonic() - began,
        )
        return out

    async def rewrite_digest(self, digest: Digest, *, within: float | None = None) -> Digest:
        """`digest` with model briefings (see `rewrite`)."""
        if digest.empty:
            return digest
        stories = await self.rewrite(digest.stories, within=within)
        return replace(digest, stories=tuple(stories))

    # Answers --------------------------------------------------------------------------

    async def answer(self, answer: Answer, *, deadline: float | None = None) -> Answer:
        """A direct answer written from `answer`'s cited sentences, each of its sentences
        checked against the sentence it cites. The quotes alone when the model fails or
        nothing it wrote passes; no citations when it says the sentences don't answer."""
        if not answer.answered or not self.uses("ask"):
            return answer
        numbered = "\n".join(
            f"[{n}] ({c.source}) {c.sentence}" for n, c in enumerate(answer.citations, start=1)
        )
        user = f"Question: {answer.question}\n\nSentences:\n{numbered}"
        messages = [
            {"role": "system", "content": _ANSWER_SYSTEM},
            {"role": "user", "content": user},
        ]
        key = self._key(messages, "answer")
        cached = self._cached(key)
        if cached is not None:
            self._count(cache_hits=1)
            return _answer_from_json(cached, answer)
        reply = await self._ask(messages, deadline)
        if isinstance(reply, str):
            self._count(fallbacks=1)
            log.warning("model answer not used: %s; the quotes are", reply)
            return answer
        result, rejected, problem = _check_answer(reply, answer, self.settings.max_output_tokens)
        self._count(rejected=len(rejected), fallbacks=int(bool(problem)), written=int(not problem))
        for item in rejected:
            log.info("model answer sentence rejected: %s", item.reason)
        if problem:
            log.warning("model answer not used: %s; the quotes are", problem)
            return answer
        self._remember(
            key, json.dumps({"text": result.text, "none": not result.answered}), reply.tokens
        )
        return result

    # Requests, budget, cache, counters ------------------------------------------------

    async def _ask(
        self, messages: list[dict[str, str]], deadline: float | None
    ) -> Completion | str:
        """The model's reply, or why there is none (over budget, failed, late)."""
        day = _day(self.clock())
        budget = self.settings.daily_token_budget
        if budget and self._tokens(day) >= budget:
            if day not in self._warned:
                self._warned.add(day)
                log.warning("model: the daily token budget (%d) is spent; extractive until "
                            "midnight UTC", budget)  # fmt: skip
            return "the daily token budget is spent"
        end = time.monotonic() + self.settings.timeout
        if deadline is not None:
            end = min(end, deadline)
        try:
            reply = await self.client.complete(messages, deadline=end)
        except ModelError as exc:
            self._count(requests=1)
            return exc.reason
        self._count(
            requests=1,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
        )
        return reply

    def _key(self, messages: list[dict[str, str]], variant: str) -> str:
        raw = json.dumps(
            [messages, self.settings.max_output_tokens, CHECK_VERSION, variant],
            ensure_ascii=False,
            sort_keys=True,
        )
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()

    def _cached(self, key: str) -> str | None:
        found = self._memory.get(key)
        if found is not None or self.store is None:
            return found
        try:
            return self.store.llm_cached(self.settings.model, key)
        except Exception:
            log.warning("model cache unreadable", exc_info=True)
            return None

    def _remember(self, key: str, result: str, tokens: int) -> None:
        self._memory[key] = result
        self._results.append((key, result, tokens))
        self._save()

    def _tokens(self, day: str) -> int:
        """Tokens spent on `day`: saved in the store (by every process) or in this one."""
        saved = 0
        if self.store is not None:
            try:
                saved = self.store.llm_tokens(day)
            except Exception:
                log.warning("model usage unreadable", exc_info=True)
        pending = self._usage.get(day, {})
        unsaved = pending.get("prompt_tokens", 0) + pending.get("completion_tokens", 0)
        return max(saved + unsaved, self._spent.get(day, 0))

    def _count(self, **counts: int) -> None:
        day = _day(self.clock())
        spent = counts.get("prompt_tokens", 0) + counts.get("completion_tokens", 0)
        self._spent[day] = self._spent.get(day, 0) + spent
        pending = self._usage.setdefault(day, {})
        for name, value in counts.items():
            pending[name] = pending.get(name, 0) + value
        self._save()

    @contextlib.contextmanager
    def _batch(self) -> Iterator[None]:
        """Save results and counters once, at the end (a digest's hundreds of stories)."""
        self._batches += 1
        try:
            yield
        finally:
            self._batches -= 1
            self._save()

    def _save(self) -> None:
        if self._batches or self.store is None or not (self._results or self._usage):
            if self.store is None:
                self._results.clear()
                self._usage.clear()
            return
        results, usage = self._results, self._usage
        self._results, self._usage = [], {}
        try:
            self.store.save_llm(self.settings.model, results, usage, self.clock())
        except Exception:
            # the briefings are still shown; only the next digest pays for them again
            log.warning("model cache and usage not saved", exc_info=True)


def _outcome(written: Written) -> dict[str, int]:
    return {
        "written": int(written.origin == "model"),
        "fallbacks": int(written.origin != "model"),
        "rejected": len(written.rejected),
    }


def _over_limit(reply: Completion, limit: int) -> str:
    if reply.finish_reason == "length":
        return f"reply cut off at the output limit ({limit} tokens)"
    if reply.completion_tokens > limit:
        return f"reply of {reply.completion_tokens} tokens, over the limit of {limit}"
    return ""


def _cut(text: str, limit: int) -> str:
    """`text` to at most `limit` characters, at a sentence end when there is one."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    end = max(head.rfind(". "), head.rfind(".\n"), head.rfind("? "), head.rfind("! "))
    return head[: end + 1] if end > limit // 2 else head


def _article_prompt(article: Article, text: str, *, heading: str = "Article") -> str:
    lines = [f"{heading} ({article.label})"]
    if article.title:
        lines.append(f"Title: {article.title}")
    lines.append("Text:")
    lines.append(text)
    return "\n".join(lines)


def _parse_briefing(content: str) -> tuple[str, list[str]]:
    """``{"headline": str, "bullets": [str, ...]}``, strictly (nothing before or after).

    Raises:
        ValueError: saying what is wrong.
    """
    try:
        data = json.loads(content)
    except ValueError:
        raise ValueError("not JSON") from None
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    headline = data.get("headline", "")
    bullets = data.get("bullets")
    if not isinstance(headline, str):
        raise ValueError('"headline" is not text')
    if not isinstance(bullets, list) or not all(isinstance(b, str) for b in bullets):
        raise ValueError('"bullets" is not a list of text')
    lines = [" ".join(b.split()) for b in bullets if b.strip()]
    if not lines:
        raise ValueError("no bullets")
    if len(lines) > 2 * MAX_BULLETS:
        raise ValueError(f"{len(lines)} bullets")
    return " ".join(headline.split()), lines


def _fit(text: str, limit: int, *, sentence: bool = True) -> str:
    """`text` without list markers, shortened at a clause boundary when over `limit` words:
    a bullet that is merely long is cut, not rejected."""
    text = re.sub(r"^(?:[-*•]|\d{1,2}[.)])\s+", "", text.strip())
    if word_count(text) > limit:
        text = cut_to(text, limit)
    return finish(text) if sentence else text.rstrip(" .")


def _bullet(text: str, verdict: Verdict, urls: dict[str, str], *, story: bool) -> Bullet:
    label = verdict.labels[0] if verdict.labels else ""
    return Bullet(
        text,
        verdict.support,
        source=label or None if story else None,
        origin="model",
        url=urls.get(label),
    )


def _to_json(written: Written) -> str:
    return json.dumps(
        {
            "origin": written.origin,
            "fallback": written.fallback,
            "headline": written.briefing.headline if written.origin == "model" else "",
            "bullets": [
                {"text": b.text, "sentences": list(b.sentences), "source": b.source, "url": b.url}
                for b in written.briefing.bullets
            ]
            if written.origin == "model"
            else [],
            "rejected": [{"text": r.text, "reason": r.reason} for r in written.rejected],
        },
        ensure_ascii=False,
    )


def _from_json(raw: str, fallback: Briefing) -> Written:
    data = json.loads(raw)
    rejected = tuple(Rejected(r["text"], r["reason"]) for r in data.get("rejected", ()))
    if data.get("origin") != "model":
        return Written(fallback, "extract", rejected, data.get("fallback") or "", cached=True)
    bullets = tuple(
        Bullet(b["text"], tuple(b["sentences"]), b.get("source"), "model", b.get("url"))
        for b in data["bullets"]
    )
    briefing = Briefing(data.get("headline") or fallback.headline, bullets)
    return Written(briefing, "model", rejected, cached=True)


def _check_answer(
    reply: Completion, answer: Answer, limit: int
) -> tuple[Answer, list[Rejected], str]:
    """The checked answer, the sentences removed, and why the quotes must do ("" if not)."""
    problem = _over_limit(reply, limit)
    if problem:
        return answer, [], problem
    try:
        data = json.loads(reply.content)
    except ValueError:
        return answer, [], "malformed reply (not JSON)"
    lines = data.get("answer") if isinstance(data, dict) else None
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        return answer, [], 'malformed reply ("answer" is not a list of text)'
    if not [x for x in lines if x.strip()]:
        return Answer(answer.question), [], ""  # the sentences do not say
    cites = answer.citations
    kept: list[str] = []
    rejected: list[Rejected] = []
    for line in lines[:3]:
        numbers = [int(n) for n in _CITE.findall(line)]
        text = _CITE.sub("", line).strip()
        marks = [n for n in dict.fromkeys(numbers) if 1 <= n <= len(cites)]
        if not text:
            continue
        if not marks:
            rejected.append(Rejected(text, "cites none of the sentences"))
            continue
        source = Source.of([(str(n), cites[n - 1].sentence) for n in marks])
        verdict = check_sentence(text, source)
        if not verdict.ok:
            rejected.append(Rejected(text, verdict.reason))
            continue
        body = text.rstrip()
        end = body[-1] if body[-1:] in ".!?" else "."
        kept.append(body.rstrip(".!?") + "".join(f" [{n}]" for n in marks) + end)
    if not kept:
        return answer, rejected, "no sentence of the answer passed the check"
    return replace(answer, text=" ".join(kept)), rejected, ""


def _answer_from_json(raw: str, answer: Answer) -> Answer:
    data = json.loads(raw)
    if data.get("none"):
        return Answer(answer.question)
    return replace(answer, text=str(data.get("text") or ""))
