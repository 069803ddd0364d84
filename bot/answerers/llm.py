"""An OpenAI-compatible chat model (OpenAI, vLLM, Ollama's /v1, llama.cpp server) as answerer."""

from __future__ import annotations

import logging

import numpy as np

from bot.answer import REFUSAL_TEXT
from bot.answerers import Draft
from bot.passages import NumberedPassage
from index.errors import CitebotError

log = logging.getLogger(__name__)

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


class LLMUnavailable(CitebotError):
    """The LLM endpoint failed, timed out or answered with garbage."""


def format_passages(passages: list[NumberedPassage]) -> str:
    return "\n\n".join(
        f"[{p.number}] {p.title}" + (f" ({p.date})" if p.date else "") + f"\n{p.text}"
        for p in passages
    )


class ChatAnswerer:
    """Asks the chat model with the citation contract in the prompt."""

    name = "openai"

    def __init__(self, base_url: str | None, model: str, api_key: str, timeout: float) -> None:
        from langchain_openai import ChatOpenAI

        self.model = model
        self.llm = ChatOpenAI(
            model=model,
            base_url=base_url,
            api_key=api_key,
            timeout=timeout,
            max_retries=0,
            temperature=0,
        )

    def _complete(self, messages: list[tuple[str, str]]) -> str:
        try:
            reply = self.llm.invoke(messages)
        except Exception as exc:  # connection refused, 5xx, timeout, malformed JSON …
            raise LLMUnavailable(f"{type(exc).__name__}: {exc}".splitlines()[0][:200]) from exc
        text = reply.content if isinstance(reply.content, str) else ""
        if not text.strip():
            raise LLMUnavailable("empty reply")
        return text.strip()

    def answer(self, question: str, passages: list[NumberedPassage], qvec: np.ndarray) -> Draft:
        text = self._complete(
            [
                ("system", SYSTEM_PROMPT),
                ("human", f"Passages:\n\n{format_passages(passages)}\n\nQuestion: {question}"),
            ]
        )
        if REFUSAL_TEXT.lower().rstrip(".") in text.lower():
            return Draft(text, refused=True)
        return Draft(text)

    def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        lines = "\n".join(f"Q: {q}\nA: {a}" for q, a in history[-3:])
        text = self._complete([("human", REWRITE_PROMPT.format(history=lines, question=question))])
        return text.splitlines()[0].strip()[:500] or question
