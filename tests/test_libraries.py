"""Several libraries in one bot: the libraries file, its checks, routing, and the commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from bot.cli import main as citebot
from bot.serving.conversation import MemoryLog
from bot.serving.libraries import Libraries
from index.cli import main as citebot_index
from index.errors import ConfigError
from index.library_config import choose_library
from index.settings import Settings
from tests.conftest import libraries_of, make_settings

LIBRARIES_DATA = Path(__file__).resolve().parent / "data" / "libraries"
FERRY = "How large is the ferry budget that the Lakeside harbor council approved?"
NIMBUS = "What does the Nimbus-7 weather satellite measure?"

TWO = """
[[library]]
name = "politics"
articles = ["politics"]
guilds = [1]

[[library]]
name = "tech"
articles = ["tech"]
channels = [20]
"""


@pytest.fixture
def folders(tmp_path: Path) -> Path:
    """The two small article sets, each in its own folder under `tmp_path`."""
    for name in ("politics", "tech"):
        shutil.copytree(LIBRARIES_DATA / name, tmp_path / name)
    return tmp_path


def settings_with(tmp_path: Path, model_cache: Path, toml: str) -> Settings:
    (tmp_path / "libraries.toml").write_text(toml, encoding="utf-8")
    return make_settings(tmp_path, model_cache, LIBRARIES_FILE=tmp_path / "libraries.toml")


# --- the file ------------------------------------------------------------------------------


def test_without_a_file_there_is_one_library_of_articles_dir(settings: Settings) -> None:
    (library,) = libraries_of(settings)
    assert (library.index, library.fetching) == (settings.index, settings.fetching)
    assert library.implicit and library.is_default


def test_each_library_gets_its_folders_and_a_collection_of_its_name(
    folders: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(folders.parent)  # folders are read relative to the file, not here
    politics, tech = libraries_of(settings_with(folders, model_cache, TWO))
    assert politics.folders == ((folders / "politics").resolve(),)
    assert politics.index.articles_dir == (folders / "politics").resolve()
    assert (politics.index.collection, tech.index.collection) == ("politics", "tech")
    assert politics.guilds == {1} and tech.channels == {20}


@pytest.mark.parametrize(
    ("toml", "problem"),
    [
        (
            '[[library]]\nname = "a-1"\narticles = ["politics"]\nchanel = [1]',
            "unknown key 'chanel'",
        ),
        ('[[library]]\nname = "no spaces"\narticles = ["politics"]', "name must be letters"),
        ('[[library]]\nname = "abc"\narticles = ["nowhere"]', "'nowhere' is not a folder"),
        ('[[library]]\nname = "abc"', "articles must be a list of folders"),
        ('[[library]]\nname = "abc"\narticles = ["tech"]\nchannels = ["5"]', "channels must be"),
        (
            '[[library]]\nname = "abc"\narticles = ["tech"]\n'
            '[[library]]\nname = "abc"\narticles = ["politics"]\nguilds = [1]',
            "2 libraries have the name 'abc'",
        ),
        (
            '[[library]]\nname = "abc"\narticles = ["tech"]\n'
            '[[library]]\nname = "xyz"\narticles = ["politics"]\ncollection = "abc"\nguilds = [1]',
            "2 libraries have the collection 'abc'",
        ),
        (
            '[[library]]\nname = "abc"\narticles = ["tech"]\nchannels = [7]\n'
            '[[library]]\nname = "xyz"\narticles = ["politics"]\nchannels = [7]',
            "channel 7 is claimed by abc and xyz",
        ),
        (
            '[[library]]\nname = "abc"\narticles = ["tech"]\n'
            '[[library]]\nname = "xyz"\narticles = ["politics"]',
            "only one library may be the default",
        ),
        (
            '[[library]]\nname = "news"\narticles = ["tech"]\n'
            '[[library]]\nname = "gtech"\narticles = ["politics"]\ncollection = "news__gtech"\n'
            "guilds = [1]",
            "collection 'news__gtech' begins with 'news' and '__'",
        ),
        (
            '[[library]]\nname = "News"\narticles = ["tech"]\n'
            '[[library]]\nname = "news"\narticles = ["politics"]\ncollection = "news2"\n'
            "guilds = [1]",
            "2 libraries have the name 'News' and 'news'",
        ),
        ('[[library]]\nname = "abc"\narticles = ["/"]', "is the root of the disk"),
        ("libraries = 1", "unknown top-level key 'libraries'"),
        ("[[library]\n", "cannot be read as TOML"),
    ],
)
def test_a_wrong_libraries_file_is_one_clear_config_error(
    folders: Path, model_cache: Path, toml: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        libraries_of(settings_with(folders, model_cache, toml))
    assert problem in str(caught.value)


def test_a_library_may_not_read_another_librarys_fetched_folder(
    folders: Path, model_cache: Path
) -> None:
    (folders / "fetched-politics").mkdir()
    toml = TWO.replace('articles = ["tech"]', 'articles = ["tech", "fetched-politics"]')
    with pytest.raises(ConfigError) as caught:
        libraries_of(settings_with(folders, model_cache, toml))
    assert "reads library politics's fetched folder" in str(caught.value)


def test_a_librarys_fetched_folder_lies_beside_the_default_one_not_in_it(
    folders: Path, model_cache: Path
) -> None:
    settings = settings_with(folders, model_cache, TWO)
    default = settings.fetching.fetched_dir
    for library in libraries_of(settings):
        own = library.fetching.fetched_dir
        assert own.parent == default.parent and own != default
        assert default not in own.parents  # a build without the file does not read it


def test_every_problem_of_the_file_is_listed_on_its_own_line(
    folders: Path, model_cache: Path
) -> None:
    toml = '[[library]]\nname = "a b"\narticles = ["nowhere"]\ncolour = "red"\n'
    with pytest.raises(ConfigError) as caught:
        libraries_of(settings_with(folders, model_cache, toml))
    lines = str(caught.value).splitlines()
    assert lines[0].endswith("has 3 problem(s):")
    assert len(lines) == 4 and all(line.startswith("  library 1") for line in lines[1:])


def test_without_a_default_a_library_must_be_named(folders: Path, model_cache: Path) -> None:
    libraries = libraries_of(settings_with(folders, model_cache, TWO))
    assert choose_library(libraries, "tech").name == "tech"
    with pytest.raises(ConfigError, match="--library"):
        choose_library(libraries, None)


# --- routing -------------------------------------------------------------------------------


@pytest.fixture
def shelf(folders: Path, model_cache: Path):
    toml = TWO + '\n[[library]]\nname = "everything"\narticles = ["politics", "tech"]\n'
    configs = libraries_of(settings_with(folders, model_cache, toml))
    libraries = Libraries.open(
        [(config, object()) for config in configs],
        MemoryLog(),
        max_question_chars=100,
        rate_limit_per_minute=1,
    )
    yield libraries
    libraries.close()


def name(library) -> str | None:
    return library.name if library else None


def test_a_named_channel_wins_over_its_server(shelf: Libraries) -> None:
    assert name(shelf.route(1, 20)) == "tech"


def test_a_thread_goes_with_its_channel(shelf: Libraries) -> None:
    assert name(shelf.route(1, 999, parent_id=20)) == "tech"


def test_a_server_names_the_library_of_its_other_channels(shelf: Libraries) -> None:
    assert name(shelf.route(1, 30)) == "politics"


def test_anywhere_else_the_default_library_answers(shelf: Libraries) -> None:
    assert name(shelf.route(2, 30)) == "everything"


def test_without_a_default_elsewhere_no_library_answers(folders: Path, model_cache: Path) -> None:
    configs = libraries_of(settings_with(folders, model_cache, TWO))
    libraries = Libraries.open(
        [(c, object()) for c in configs], MemoryLog(), max_question_chars=100,
        rate_limit_per_minute=None,
    )  # fmt: skip
    assert libraries.route(2, 30) is None
    libraries.close()


def test_one_rate_limit_counts_a_users_questions_to_every_library(shelf: Libraries) -> None:
    from bot.serving.ratelimit import RateLimitedError

    politics, tech, _ = shelf
    politics.conversations.admit("alice", "How big is the ferry budget?")
    with pytest.raises(RateLimitedError):
        tech.conversations.admit("alice", "What does the satellite measure?")


def test_reindex_of_a_library_reads_every_one_of_its_folders(
    folders: Path, model_cache: Path, embedder
) -> None:
    from bot.serving.libraries import open_pipelines
    from index.build.builder import build_index

    toml = '[[library]]\nname = "everything"\narticles = ["politics", "tech"]\n'
    settings = settings_with(folders, model_cache, toml)
    (config,) = libraries_of(settings)
    build_index(config.index, embedder, config.folders)
    (library,) = libraries = Libraries.open(
        open_pipelines(libraries_of(settings), settings.answering, embedder),
        MemoryLog(), max_question_chars=100,
        rate_limit_per_minute=None,
    )  # fmt: skip
    (folders / "tech" / "bridge.md").write_text("# Bridge Repairs Delayed\n\nThe bridge waits.\n")

    assert library.reindex()["articles"] == 5
    titles = {a.title for a in library.sources()}
    assert "Bridge Repairs Delayed" in titles and "Governor Signs School Lunch Bill" in titles
    libraries.close()


# --- the commands --------------------------------------------------------------------------


@pytest.fixture
def env(folders: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The two libraries' file and an empty Chroma folder, for the commands (no .env read)."""
    monkeypatch.chdir(folders)
    (folders / "libraries.toml").write_text(TWO, encoding="utf-8")
    monkeypatch.setenv("CHROMA_PATH", str(folders / "chroma"))
    monkeypatch.setenv("MODEL_CACHE", str(model_cache))
    monkeypatch.setenv("ARTICLES_DIR", str(folders / "nothing-here"))
    return folders


def test_build_builds_every_library_into_its_own_collection(env: Path, capsys) -> None:
    assert citebot_index(["build", "--json"]) == 0
    built = json.loads(capsys.readouterr().out)
    assert {name: r["articles"] for name, r in built.items()} == {"politics": 2, "tech": 2}

    assert citebot_index(["stats", "--json"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert {name: s["collection"] for name, s in stats.items()} == {
        "politics": "politics",
        "tech": "tech",
    }


def test_build_of_one_library_leaves_the_other_unbuilt(env: Path, capsys) -> None:
    assert citebot_index(["build", "--library", "tech"]) == 0
    assert capsys.readouterr().out.startswith("tech: 2 articles")

    assert citebot_index(["stats"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("politics: no index 'politics' yet")
    assert out[1].startswith("tech: 2 articles")


def test_ask_answers_from_the_library_named(env: Path, capsys) -> None:
    assert citebot_index(["build"]) == 0
    capsys.readouterr()

    assert citebot(["ask", FERRY, "--json", "--library", "politics"]) == 0
    politics = json.loads(capsys.readouterr().out)
    assert "$12 million" in politics["text"]
    assert citebot(["ask", FERRY, "--json", "--library", "tech"]) == 0
    tech = json.loads(capsys.readouterr().out)
    assert "$12 million" not in tech["text"]
    assert all("Ferry" not in c["title"] for c in tech["citations"])


def test_ask_without_a_default_library_says_to_name_one(env: Path, capsys) -> None:
    assert citebot(["ask", FERRY]) == 1
    assert "--library (politics, tech)" in capsys.readouterr().err
