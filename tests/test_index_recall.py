"""Approximate search finds what exact search finds, on real embeddings of real sentences."""

from __future__ import annotations

import random

import numpy as np

from index.ingest.articles import load_articles
from index.store import create_generation, make_client, open_index, write_pointer

DOCS, QUERIES, K = 3000, 200, 10


def word_windows(articles, n: int, seed: int = 11) -> list[str]:
    """Distinct runs of 6 to 16 consecutive words of the sample: many near neighbours."""
    words = [w for a in articles for w in f"{a.title} {a.text}".split()]
    rng = random.Random(seed)
    out: dict[str, None] = {}
    while len(out) < n:
        size = rng.randint(6, 16)
        start = rng.randrange(len(words) - size)
        out[" ".join(words[start : start + size])] = None
    return list(out)


def test_hnsw_top10_matches_brute_force(settings, sample_articles, embedder) -> None:
    texts = word_windows(load_articles([sample_articles]).articles, DOCS + QUERIES)
    vectors = embedder.embed(texts)
    docs, queries = vectors[:DOCS], vectors[DOCS:]
    client = make_client(settings.index)
    gen = f"{settings.collection}__g1"
    col = create_generation(client, gen, {"model": embedder.name})
    ids = [str(i) for i in range(DOCS)]
    for i in range(0, DOCS, 1000):
        col.upsert(ids=ids[i : i + 1000], embeddings=docs[i : i + 1000])
    write_pointer(client, settings.collection, {"active": gen})
    reader = open_index(settings.index)

    exact = np.argsort(-(queries @ docs.T), axis=1)[:, :K]
    found = [{int(p.id) for p, _ in reader.dense_search(q, K)} for q in queries]
    recall = np.mean([len(f & set(e.tolist())) / K for f, e in zip(found, exact, strict=True)])

    assert reader.count() == DOCS
    assert recall >= 0.99, f"recall@{K} {recall:.3f}"
