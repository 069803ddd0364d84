"""An OpenAI-compatible chat model (OpenAI, vLLM, Ollama's /v1, llama.cpp server) as answerer."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Coroutine
from typing import Any

import numpy as np

from bot.answering.answer import REFUSAL_TEXT
from bot.answering.answerers import AnswererContext, AnswererUnavailable, Draft
from bot.answering.passages import NumberedPassage
from index.errors import ConfigError

log = logging.getLogger(__name__)

# A reply longer than this is cut after its last whole sentence before it is checked: a server
# that ignores max_tokens must not cost minutes of claim checking (three sentences need ~600).
MAX_REPLY_CHARS = 4000
# after the deadline the call is cancelled; this long is left for the cancellation to finish
_CANCEL_GRACE_SECONDS = 2.0
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*(?:\s*\[\d+\])*(?=\s)")
# what a provider's error may echo: a bearer token, an sk-… style key, an api-key field
_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[^\s'\",;}]+"), r"\1 [redacted]"),
    (re.compile(r"\b(sk|pk|rk)-[A-Za-z0-9_-]{8,}"), r"\1-[redacted]"),
    (re.compile(r"(?i)(api[-_ ]?key[\"']?\s*[:=]\s*[\"']?)[^\s'\",;}]+"), r"\1[redacted]"),
)

SYSTEM_PROMPT = f"""You answer questions about news articles using ONLY the numbered passages given.
Rules:
- Write at most three short sentences.
- After every claim, cite the passage(s) it comes from with their numbers in square brackets, \
like [1] or [2][3]. Cite only numbers that appear in the passages list.
- Use the passages' own facts and figures; never add knowledge of your own.
- If the passages do not answer the question, reply exactly: {REFUSAL_TEXT}"""

REWRITE_PROMPT = """Rewrite the last question of this conversation as one standalone question \
that can be understood without the conversation. Reply with the question only.

{history}
Last question: {question}"""


class LLMUnavailable(AnswererUnavailable):
    """The LLM endpoint failed, timed out or answered with garbage."""


def redact(text: str, *secrets: str) -> str:
    """`text` without the given secrets or anything shaped like a key or a bearer token."""
    for secret in secrets:
        if len(secret) >= 4:  # "" or a stub must not blank out ordinary words
            text = text.replace(secret, "[redacted]")
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def cut_reply(text: str, limit: int = MAX_REPLY_CHARS) -> str:
    """`text` if it fits `limit`, else cut after its last whole sentence (with its markers)."""
    if len(text) <= limit:
        return text
    head = text[: limit + 1]
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() <= limit]
    cut = ends[-1] if ends else head.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit].rstrip()


class _Deadlines:
    """One event loop on a daemon thread that runs calls with a deadline for the whole call.

    httpx's timeouts are per read, so a server sending a byte every half second would never trip
    them; an async call cancelled by `asyncio.wait_for` closes its connection and leaves nothing
    running. One loop, not one per call: the async HTTP client's connections belong to it.
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def run(self, call: Coroutine[Any, Any, Any], seconds: float) -> Any:
        """`call`'s result, or `TimeoutError` once `seconds` have passed (the call is cancelled)."""
        future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(call, seconds), self._started())
        try:
            return future.result(seconds + _CANCEL_GRACE_SECONDS)
        except TimeoutError:
            future.cancel()
            raise

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                threading.Thread(
                    target=self._loop.run_forever, name="citebot-llm", daemon=True
                ).start()
            return self._loop


def format_passages(passages: list[NumberedPassage]) -> str:
    """The passages as the prompt numbers them: `[n] title (date)`, then the text."""
    return "\n\n".join(
        f"[{p.number}] {p.title}" + (f" ({p.date})" if p.date else "") + f"\n{p.text}"
        for p in passages
    )


class ChatAnswerer:
    """Asks the chat model with the citation contract in the prompt."""

    name = "openai"

    def __init__(self, llm: Any, timeout: float, secret: str = "") -> None:
        """`llm`: any LangChain chat model; `secret`: its API key, redacted from every error."""
        self.llm = llm
        self.timeout = timeout
        self._api_key = secret
        self._deadlines = _Deadlines()

    @classmethod
    def openai(
        cls,
        base_url: str | None,
        model: str,
        api_key: str,
        timeout: float,
        max_tokens: int | None = None,
    ) -> ChatAnswerer:
        """An OpenAI-compatible endpoint (OpenAI, vLLM, Ollama's /v1, llama.cpp server)."""
        from langchain_openai import ChatOpenAI

        llm = ChatOpenAI(
            model=model,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_tokens=max_tokens,
            max_retries=0,
            temperature=0,
        )
        return cls(llm, timeout, api_key)

    def _complete(self, messages: list[tuple[str, str]]) -> str:
        # `from None`: the provider's exception may quote the key; it must not reach a traceback
        try:
            reply = self._deadlines.run(self.llm.ainvoke(messages), self.timeout)
        except TimeoutError:
            raise LLMUnavailable(f"no complete reply within {self.timeout:g} s") from None
        except Exception as exc:  # connection refused, 5xx, bad key, malformed JSON …
            message = redact(f"{type(exc).__name__}: {exc}", self._api_key)
            raise LLMUnavailable(message.splitlines()[0][:300]) from None
        text = reply.content if isinstance(reply.content, str) else ""
        if not text.strip():
            raise LLMUnavailable("empty reply")
        return text.strip()

    def answer(self, question: str, passages: list[NumberedPassage], qvec: np.ndarray) -> Draft:
        """The chat model's answer from the numbered passages."""
        text = self._complete(
            [
                ("system", SYSTEM_PROMPT),
                ("human", f"Passages:\n\n{format_passages(passages)}\n\nQuestion: {question}"),
            ]
        )
        if len(text) > MAX_REPLY_CHARS:
            log.info(
                "cut a %d-character reply to %d before checking it", len(text), MAX_REPLY_CHARS
            )
            text = cut_reply(text)
        if REFUSAL_TEXT.lower().rstrip(".") in text.lower():
            return Draft(text, refused=True)
        return Draft(text)

    def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        """A follow-up question rewritten to stand alone, from the conversation so far."""
        lines = "\n".join(f"Q: {q}\nA: {a}" for q, a in history)
        text = self._complete([("human", REWRITE_PROMPT.format(history=lines, question=question))])
        return text.splitlines()[0].strip()[:500] or question


def from_context(context: AnswererContext, model: str = "") -> ChatAnswerer:
    """The registry's maker: the injected chat model, else the configured endpoint."""
    settings = context.settings
    if context.chat_model is not None:
        return ChatAnswerer(context.chat_model, settings.llm_timeout_seconds)
    key = settings.llm_api_key.get_secret_value()
    if not settings.llm_base_url and key in ("", "not-needed"):
        raise ConfigError("LLM_PROVIDER=openai needs LLM_BASE_URL or LLM_API_KEY")
    return ChatAnswerer.openai(
        settings.llm_base_url,
        model or settings.llm_model,
        key,
        settings.llm_timeout_seconds,
        settings.llm_max_tokens,
    )
