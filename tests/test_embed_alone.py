"""How the ONNX embedder runs many texts: each distinct text once, alone, several side by side."""

from __future__ import annotations

import threading

import numpy as np
import pytest

TEXTS = [
    "Floating solar farm opens\nThe farm covers 60 hectares of the reservoir and will supply "
    "power to about 12,000 homes once the second phase is connected next spring.",
    "Wind\nTurbines rose.",
    "Port strike ends\nDock workers accepted a pay rise of 4 per cent after a week out.",
    "Budget\nThe council approved the budget.",
]


class Recording:
    """The embedder's ONNX session, counting the texts it runs; `meet` makes the first `meet`
    runs wait for each other, which only runs made side by side can do."""

    def __init__(self, session, meet: int = 0) -> None:
        self.session = session
        self.rows = 0
        self._lock = threading.Lock()
        self._barrier = threading.Barrier(meet) if meet else None
        self._waiting = meet

    def run(self, names, feed):
        with self._lock:
            self.rows += len(feed["input_ids"])
            wait = self._waiting > 0
            self._waiting -= 1
        if wait and self._barrier:
            self._barrier.wait(timeout=10)
        return self.session.run(names, feed)

    def __getattr__(self, name):
        return getattr(self.session, name)


def test_a_text_has_the_same_vector_among_others_as_alone(embedder) -> None:
    # int8 scales activations over the whole input: in a padded batch, the neighbours moved it
    together = embedder.embed(TEXTS)

    for text, vec in zip(TEXTS, together, strict=True):
        assert np.array_equal(vec, embedder.embed([text])[0])


def test_identical_texts_are_run_once_and_each_gets_its_vector(embedder, monkeypatch) -> None:
    alone = {t: embedder.embed([t])[0] for t in TEXTS[:2]}
    session = Recording(embedder._session)
    monkeypatch.setattr(embedder, "_session", session)

    vecs = embedder.embed([TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]])

    assert session.rows == 2
    for text, vec in zip([TEXTS[0], TEXTS[1], TEXTS[0], TEXTS[0]], vecs, strict=True):
        assert np.array_equal(vec, alone[text])


def test_several_texts_are_run_side_by_side(embedder, monkeypatch) -> None:
    # two runs at once or the barrier breaks: the build's speed on two cores rests on it
    monkeypatch.setattr(embedder, "_threads", 2, raising=False)
    monkeypatch.setattr(embedder, "_session", Recording(embedder._session, meet=2))

    try:
        vecs = embedder.embed(TEXTS)
    except threading.BrokenBarrierError:
        pytest.fail("the texts were run one after another")

    assert vecs.shape == (len(TEXTS), embedder.dim)
