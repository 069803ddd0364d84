"""A library's reindex reads what its feeds fetched too: a rebuild never prunes those articles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from bot.serving.conversation import MemoryLog
from bot.serving.libraries import Libraries, open_pipelines
from index.build.builder import build_index
from tests.conftest import libraries_of
from tests.test_libraries import LIBRARIES_DATA, settings_with


def test_reindex_of_a_library_keeps_its_fetched_articles(
    tmp_path: Path, model_cache: Path, embedder
) -> None:
    folders = tmp_path
    shutil.copytree(LIBRARIES_DATA / "politics", folders / "politics")
    toml = '[[library]]\nname = "news"\narticles = ["politics"]\n'
    settings = settings_with(folders, model_cache, toml)
    (config,) = libraries_of(settings)
    fetched = config.fetching.fetched_dir / "example.org"
    fetched.mkdir(parents=True)
    line = {"title": "Ferry Timetable Extended", "text": "The night ferry now runs daily."}
    (fetched / "ferry.jsonl").write_text(json.dumps(line) + "\n")
    build_index(config.index, embedder, [*config.folders, config.fetching.fetched_dir])
    (library,) = libraries = Libraries.open(
        open_pipelines(libraries_of(settings), settings.answering, embedder),
        MemoryLog(), max_question_chars=100,
        rate_limit_per_minute=None,
    )  # fmt: skip

    library.reindex()

    assert "Ferry Timetable Extended" in {a.title for a in library.sources()}
    libraries.close()
