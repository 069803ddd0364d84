"""The index on a Chroma server: a real `chroma run` on loopback, started and stopped here."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.build.builder import build_index, index_stats
from index.errors import BuildConflictError
from index.store import IndexStore, acquire_lease, make_client, open_index
from tests.conftest import make_settings

pytestmark = pytest.mark.server
QUESTION = "How large is the yearly trade between Russia and China?"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_heartbeat(proc: subprocess.Popen, port: int, log: Path, timeout: float = 60) -> None:
    url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chroma run exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with opener.open(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"chroma run gave no heartbeat in {timeout:.0f} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """`chroma run` (the venv's own CLI) on 127.0.0.1 and a free port, stopped afterwards."""
    chroma = Path(sys.executable).with_name("chroma")
    assert chroma.exists(), f"the chroma CLI is missing from {chroma.parent}"
    data = tmp_path_factory.mktemp("chroma-server")
    log = data.parent / f"{data.name}.log"
    port = free_port()
    cmd = [str(chroma), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_heartbeat(proc, port, log)
        yield "127.0.0.1", port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def server_settings(tmp_path: Path, model_cache: Path, chroma_server, sample_articles):
    """This test's own collection on the shared server, with the sample articles to index."""
    host, port = chroma_server
    return make_settings(
        tmp_path, model_cache, CHROMA_HOST=host, CHROMA_PORT=port, COLLECTION=tmp_path.name
    )


def test_build_on_the_server_answers_from_the_server(server_settings, embedder) -> None:
    report = build_index(server_settings.index, embedder)

    reader = open_index(server_settings.index)
    top = reader.dense_search(embedder.embed([QUESTION])[0], 3)
    assert report.switched and report.embedded == report.chunks
    assert reader.count() == report.chunks
    # any of the top 3: the "$240 billion" passage is a near-tie that int8 kernels order differently
    assert any("$200 billion per year" in p.text for p, _ in top)
    assert not server_settings.chroma_path.exists()  # nothing was written to an embedded store


def test_the_bot_pipeline_answers_from_the_server(server_settings, embedder) -> None:
    from bot.answering.pipeline import build_pipeline

    build_index(server_settings.index, embedder)
    pipeline = build_pipeline(server_settings.index, server_settings.answering, embedder)

    answer = pipeline.ask("How much was trade between Russia and China last year?")
    assert any("$240 billion" in c.quote for c in answer.citations)
    assert not server_settings.chroma_path.exists()


def test_bots_share_the_keyword_index_the_build_wrote(
    server_settings, embedder, tmp_path, monkeypatch, caplog
) -> None:
    """Bots beside the build map its files; a bot on another machine writes them once, and is
    told that the sentence vectors stayed with the build's files."""
    from bot.answering.retrieval import SearchIndex
    from index.store.files import files_folder
    from index.store.reader import GenerationReader

    report = build_index(server_settings.index, embedder)
    assert SearchIndex(open_index(server_settings.index)).snapshot().keyword.files.has_sentences
    assert "sentence vectors" not in caplog.text
    elsewhere = server_settings.index.model_copy(update={"index_files_path": tmp_path / "other"})
    SearchIndex(open_index(elsewhere))  # the first bot of another machine reads the server once
    assert (tmp_path / "other" / report.collection / "meta.json").exists()
    assert "answers embed their sentences" in caplog.text

    def no_store_reads(self):
        raise AssertionError("read every record from the server")

    monkeypatch.setattr(GenerationReader, "records", no_store_reads)
    for settings in (server_settings.index, elsewhere):  # bots of both machines
        hits = SearchIndex(open_index(settings)).snapshot().keyword.search("Russia China", 3)
        assert hits and hits[0][0].metadata["title"]
    assert (files_folder(server_settings.index) / report.collection / "meta.json").exists()


def test_server_keeps_the_index_for_a_new_client(server_settings, embedder) -> None:
    report = build_index(server_settings.index, embedder)

    names = {c.name for c in make_client(server_settings.index).list_collections()}

    assert report.collection in names
    assert f"{server_settings.collection}__pointer" in names


def test_second_build_on_the_server_embeds_nothing(server_settings, embedder) -> None:
    first = build_index(server_settings.index, embedder)

    report = build_index(server_settings.index, embedder)

    assert (report.embedded, report.unchanged, report.removed) == (0, first.chunks, 0)
    assert not report.switched


def test_deleted_article_is_pruned_on_the_server(server_settings, embedder) -> None:
    build_index(server_settings.index, embedder)
    path = server_settings.articles_dir / "articles-sample.txt"
    path.write_text(path.read_text().split("+++++")[0])

    report = build_index(server_settings.index, embedder)

    titles = {p.metadata["title"] for p in open_index(server_settings.index).passages()}
    assert report.removed >= 1 and report.embedded == 0
    assert titles == {"Vladimir Putin Celebrates Record Trade Between Russia and China"}


def test_interrupted_build_on_the_server_leaves_the_old_index(server_settings, embedder) -> None:
    build_index(server_settings.index, embedder)
    reader = open_index(server_settings.index)
    before = reader.generation, sorted(p.id for p in reader.passages())
    path = server_settings.articles_dir / "articles-sample.txt"
    path.write_text(path.read_text().replace("$200 billion", "$240 billion"))

    def ctrl_c(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(server_settings.index, embedder, progress=ctrl_c)

    reader = open_index(server_settings.index)
    assert (reader.generation, sorted(p.id for p in reader.passages())) == before
    assert build_index(server_settings.index, embedder).switched


def test_stats_describe_the_server_index(server_settings, embedder) -> None:
    report = build_index(server_settings.index, embedder)

    stats = index_stats(server_settings.index)

    host, port = server_settings.chroma_host, server_settings.chroma_port
    assert stats["where"] == f"chroma server http://{host}:{port}"
    assert (stats["articles"], stats["chunks"]) == (2, report.chunks)


# ---- builds on two hosts against one server ------------------------------------------------


def lease_from_another_host(settings, seconds: float):
    """The build lease as a builder on another machine holds it (held, if `seconds` < 0)."""
    lease = acquire_lease(make_client(settings.index), settings.collection, seconds)
    lease.collection.modify(
        metadata={**lease.meta, "host": "builder-2", "machine": "builder-2/0", "pid": 4242}
    )
    return lease


def test_builds_racing_for_the_server_lease_get_it_once(server_settings) -> None:
    racers = 4
    start = threading.Barrier(racers)
    won, refused = [], []

    def race() -> None:
        client = make_client(server_settings.index)
        start.wait()
        try:
            won.append(acquire_lease(client, server_settings.collection))
        except BuildConflictError as exc:
            refused.append(str(exc))

    threads = [threading.Thread(target=race) for _ in range(racers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert len(won) == 1 and len(refused) == racers - 1
    assert all("another build of" in msg for msg in refused)


def test_build_while_another_host_builds_on_the_server_fails_fast(
    server_settings, embedder
) -> None:
    first = build_index(server_settings.index, embedder)
    lease_from_another_host(server_settings, seconds=60)

    with pytest.raises(BuildConflictError, match=r"is running \(builder-2 pid 4242"):
        build_index(server_settings.index, embedder, full=True)

    assert open_index(server_settings.index).generation == first.collection


def test_expired_server_lease_is_taken_over(server_settings, embedder) -> None:
    lease_from_another_host(server_settings, seconds=-1)

    report = build_index(server_settings.index, embedder)

    assert report.switched and open_index(server_settings.index).generation == report.collection


def test_stalled_build_on_the_server_does_not_switch_to_a_deleted_generation(
    server_settings, embedder
) -> None:
    """Host A stalls past its lease; host B builds, switches and prunes A's generation."""
    build_index(server_settings.index, embedder)
    path = server_settings.articles_dir / "articles-sample.txt"
    path.write_text(path.read_text().replace("$200 billion", "$240 billion"))
    other: list = []

    def stall(done: int, total: int) -> None:
        if not other:
            time.sleep(0.6)
            other.append(build_index(server_settings.index, embedder))

    with pytest.raises(BuildConflictError, match="lost its lease"):
        build_index(server_settings.index, embedder, progress=stall, lease_seconds=0.5)

    store = IndexStore.open(server_settings.index)
    active = store.pointer()["active"]
    assert other[0].switched and active == other[0].collection
    assert active in store.generations()
    assert open_index(server_settings.index).count() == other[0].chunks
