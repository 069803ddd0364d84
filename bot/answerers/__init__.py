"""Answerers: turn a question and numbered passages into a draft with `[n]` markers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bot.passages import NumberedPassage


@dataclass
class Draft:
    """An answerer's text with `[n]` markers, before the citation check."""

    text: str
    note: str = ""
    refused: bool = False


class Answerer(Protocol):
    name: str

    def answer(self, question: str, passages: list[NumberedPassage], qvec: np.ndarray) -> Draft: ...
