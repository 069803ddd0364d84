"""Smoke test of the scale benchmark (benchmarks/scale_bench.py) on a tiny library: no timings."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data" / "eval"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location(
        "scale_bench", ROOT / "benchmarks" / "scale_bench.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["scale_bench"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def test_a_synthetic_library_is_written_as_a_build_writes_it_and_answers(
    bench, embedder, model_cache: Path, tmp_path: Path
) -> None:
    settings = bench.make_settings(tmp_path, model_cache).index
    real = bench.real_chunks(DATA / "corpus.jsonl", embedder, settings, 20, seed=1)
    assert len(real.texts) == len(real.vectors) > 0

    bench.FILE_LINES = 128  # several files, as a big library is written
    origin = bench.write_corpus(real, 300, settings.articles_dir, seed=2)
    files = sorted(settings.articles_dir.glob("*.jsonl"))
    assert len(files) == 3
    lines = [json.loads(x) for f in files for x in f.open()]
    assert len(lines) == 300 and len({x["doc_id"] for x in lines}) == 300
    assert lines[0]["text"] != real.texts[origin[0]]  # perturbed, not copied
    vectors = bench.replica_vectors(real, origin, 0.01, seed=3)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ real.vectors[origin[0]]) > 0.9  # near its real chunk

    from index.build.builder import index_signature
    from index.store import open_index

    signature = index_signature(settings, embedder)
    _, chunks = bench.write_library(settings, signature, vectors, real, origin, 0.01)
    assert chunks == 300
    # as a build keeps them: most replicas split into their real chunk's sentences
    files = open_index(settings).live.files()
    assert sum(bool(files.sentence_vectors(row)) for row in range(300)) > 250
    # a real build over the same articles finds nothing to do (it exits otherwise)
    bench.no_change_rebuilds(settings, embedder)

    args = argparse.Namespace(model_cache=model_cache, questions=DATA / "questions.jsonl", asks=2)
    served = bench.answering_process(tmp_path, args, tmp_path / "answering.log")
    assert served["asks"] == 2 and served["ready_s"] > 0 and served["rss_mib"] > 0


def test_extrapolation_names_the_resource_that_gives_out_first(bench) -> None:
    rows = [
        {"chunks": 10_000, "ready_s": 8.0, "rss_mib": 400, "p95_ms": 100.0, "rebuild_s": 1.0},
        {"chunks": 50_000, "ready_s": 40.0, "rss_mib": 1200, "p95_ms": 120.0, "rebuild_s": 3.0},
    ]
    ext = bench.extrapolate(rows, ref_p95=100.0)
    assert ext["first"] == "ready_s"
    assert ext["limit"]["ready_s"] == pytest.approx(12_500, abs=1)
    assert ext["at"]["rss_mib"]["1000000"] == pytest.approx(20_200.0)
