"""Reading article files: the user's format, .md, .html, .jsonl, and files that can't be read."""

from __future__ import annotations

import json
import shutil
import tracemalloc
from pathlib import Path

import pytest

from index.ingest.articles import MAX_FILE_BYTES, load_articles

DATA = Path(__file__).resolve().parent / "data"
FORMATS = DATA / "formats"
SAMPLE_TITLE = "Vladimir Putin Celebrates Record Trade Between Russia and China"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "articles"
    path.mkdir()
    return path


def one_file(folder: Path, name: str) -> Path:
    """A single fixture file of tests/data/formats, copied into the folder."""
    return Path(shutil.copy(FORMATS / name, folder / name))


def test_sample_parses_into_two_articles(sample_articles: Path) -> None:
    result = load_articles([sample_articles])

    assert len(result.articles) == 2
    assert result.skipped == []


def test_sample_first_article_keeps_its_title_once(sample_articles: Path) -> None:
    first = load_articles([sample_articles]).articles[0]

    assert first.title == SAMPLE_TITLE
    assert not first.title_derived
    # the title line is repeated three times in the file: none of them is body text
    assert SAMPLE_TITLE not in first.text
    assert first.text.startswith("According to the Russian president, trade exchanges")


def test_sample_untitled_article_gets_a_derived_title_marked_derived(
    sample_articles: Path,
) -> None:
    second = load_articles([sample_articles]).articles[1]

    assert second.title_derived
    assert second.title.startswith("Russian President Vladimir Putin and Chinese leader Xi")
    assert second.text.startswith("Russian President Vladimir Putin and Chinese leader Xi")
    assert len(second.title.split()) <= 12


def test_articles_keep_their_file_and_position(sample_articles: Path) -> None:
    articles = load_articles([sample_articles]).articles

    assert [(a.source, a.position) for a in articles] == [
        ("articles-sample.txt", 0),
        ("articles-sample.txt", 1),
    ]


def test_article_ids_are_stable_and_distinct(sample_articles: Path) -> None:
    first = [a.id for a in load_articles([sample_articles]).articles]
    again = [a.id for a in load_articles([sample_articles]).articles]

    assert first == again
    assert len(set(first)) == 2


def test_article_id_survives_an_edit_of_its_body(sample_articles: Path) -> None:
    path = sample_articles / "articles-sample.txt"
    before = load_articles([sample_articles]).articles
    path.write_text(path.read_text().replace("$200 billion", "$240 billion"))

    after = load_articles([sample_articles]).articles

    assert [a.id for a in after] == [a.id for a in before]
    assert "$240 billion" in after[0].text


def test_markdown_heading_is_the_title_and_markup_is_dropped(folder: Path) -> None:
    one_file(folder, "harbour.md")

    first = load_articles([folder]).articles[0]

    assert first.title == "Harbour Authority Approves Night Ferry Service"
    assert not first.title_derived
    assert "Reported by the Coastal Courier newsroom." in first.text
    assert "Ferry operators said the first night crossings" in first.text
    for markup in ("courier.example", "terminal-dusk.jpg", "![", "**", "# "):
        assert markup not in first.text


def test_markdown_articles_separated_by_a_rule_are_separate(folder: Path) -> None:
    one_file(folder, "harbour.md")

    articles = load_articles([folder]).articles

    assert [a.title for a in articles] == [
        "Harbour Authority Approves Night Ferry Service",
        "Fishing Quotas Cut for Second Year",
    ]
    assert "herring quota" not in articles[0].text
    assert articles[1].text.startswith("Regional fisheries ministers agreed on Friday")


def test_html_keeps_the_readable_article_text(folder: Path) -> None:
    one_file(folder, "library.html")

    (article,) = load_articles([folder]).articles

    assert article.title == "City Library Extends Opening Hours"
    assert article.text.startswith("The central library will stay open until 10 p.m.")
    assert "“A library that closes at six is a library for people who do not work,”" in (
        article.text
    )


@pytest.mark.parametrize(
    "chrome",
    [
        "trackingId",  # <script> in <head>
        "renderAdSlot",  # <script> inside the article
        "crimson",  # <style>
        "Subscribe now",  # <nav>
        "morning briefing",  # <header>
        "Most read",  # <aside>
        "All rights reserved",  # <footer>
    ],
)
def test_html_drops_scripts_styles_and_navigation(folder: Path, chrome: str) -> None:
    one_file(folder, "library.html")

    (article,) = load_articles([folder]).articles

    assert chrome not in article.text


def test_html_url_and_date_come_from_the_page_metadata(folder: Path) -> None:
    one_file(folder, "library.html")

    (article,) = load_articles([folder]).articles

    assert article.url == "https://ledger.example/2024/05/library-hours"
    assert article.date == "2024-05-16"  # the day: citations show the day of publication


def test_html_inline_markup_leaves_no_stray_spaces(folder: Path) -> None:
    (folder / "council.html").write_text(
        "<html><body><article><h1>Council Vote</h1>"
        '<p>The <a href="/council">council</a>, which met on <b>Thursday</b>, agreed.</p>'
        "</article></body></html>"
    )

    (article,) = load_articles([folder]).articles

    assert article.text == "The council, which met on Thursday, agreed."


def test_html_nested_blocks_are_read_once(folder: Path) -> None:
    (folder / "quote.html").write_text(
        "<html><body><article><h1>Quoted</h1><p>The mayor spoke.</p>"
        "<blockquote><p>We will rebuild the bridge.</p></blockquote>"
        "<ul><li><p>First point.</p></li></ul></article></body></html>"
    )

    (article,) = load_articles([folder]).articles

    assert article.text.count("We will rebuild the bridge.") == 1
    assert article.text.count("First point.") == 1


def test_html_text_outside_paragraphs_is_kept(folder: Path) -> None:
    (folder / "story.html").write_text(
        "<html><body><article><h1>Storm Warning</h1>"
        "<p class='dek'>Forecasters expect gusts of 120 km/h.</p>"
        "<div class='story'>Schools will close on Friday.<br>Ferries are cancelled.</div>"
        "</article></body></html>"
    )

    (article,) = load_articles([folder]).articles

    assert "Schools will close on Friday." in article.text
    assert "Ferries are cancelled." in article.text


def test_jsonl_reads_title_text_url_and_published(folder: Path) -> None:
    one_file(folder, "wire.jsonl")

    articles = load_articles([folder]).articles

    assert [(a.title, a.url, a.date) for a in articles] == [
        ("Rail Union Announces Weekend Strike", "https://wire.example/rail-strike", "2024-03-11"),
        ("Glacier Retreat Measured at Record Pace", "https://wire.example/glacier", "2024-09-02"),
        ("Startup Unveils Solar Powered Delivery Drone", "", ""),
    ]
    assert articles[0].text.startswith("The national rail union said on Monday")
    assert "one train in five" in articles[0].text


def test_every_format_in_one_folder_is_read(folder: Path) -> None:
    for name in ("harbour.md", "library.html", "wire.jsonl"):
        one_file(folder, name)

    result = load_articles([folder])

    assert sorted({a.source for a in result.articles}) == [
        "harbour.md",
        "library.html",
        "wire.jsonl",
    ]
    assert len(result.articles) == 6
    assert result.skipped == []


def test_binary_file_is_skipped_with_its_reason(folder: Path) -> None:
    one_file(folder, "wire.jsonl")
    (folder / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))

    result = load_articles([folder])

    assert result.skipped == [{"file": "photo.txt", "reason": "binary file (NUL bytes)"}]
    assert len(result.articles) == 3


def test_undecodable_file_is_skipped_with_its_reason(folder: Path) -> None:
    one_file(folder, "wire.jsonl")
    (folder / "legacy.txt").write_bytes(
        "Café prices rise\n\nThe café raised prices.".encode("cp1252")
    )

    result = load_articles([folder])

    assert len(result.skipped) == 1
    assert result.skipped[0]["file"] == "legacy.txt"
    assert "not UTF-8" in result.skipped[0]["reason"]
    assert len(result.articles) == 3


def test_empty_file_is_skipped_with_its_reason(folder: Path) -> None:
    one_file(folder, "wire.jsonl")
    (folder / "draft.md").write_text("  \n\n \t\n")

    result = load_articles([folder])

    assert result.skipped == [{"file": "draft.md", "reason": "empty file"}]
    assert len(result.articles) == 3


def test_unknown_extension_is_skipped_with_its_reason(folder: Path) -> None:
    one_file(folder, "wire.jsonl")
    (folder / "report.pdf").write_text("Quarterly report\n\nSales rose.")

    result = load_articles([folder])

    assert result.skipped == [{"file": "report.pdf", "reason": "unsupported file type .pdf"}]
    assert len(result.articles) == 3


def test_malformed_json_lines_are_skipped_and_the_rest_is_read(folder: Path) -> None:
    good = (FORMATS / "wire.jsonl").read_text().splitlines()
    lines = [good[0], '{"title": "Broken", "text": "no closing brace"', good[1], "[1, 2]", good[2]]
    (folder / "wire.jsonl").write_text("\n".join(lines) + "\n")

    result = load_articles([folder])

    assert [a.title for a in result.articles] == [
        "Rail Union Announces Weekend Strike",
        "Glacier Retreat Measured at Record Pace",
        "Startup Unveils Solar Powered Delivery Drone",
    ]
    assert [s["file"] for s in result.skipped] == ["wire.jsonl:2", "wire.jsonl:4"]
    assert result.skipped[0]["reason"].startswith("malformed JSON")
    assert result.skipped[1]["reason"] == "line is not a JSON object"


def test_json_line_without_text_is_skipped(folder: Path) -> None:
    (folder / "wire.jsonl").write_text(
        '{"title": "Headline only", "url": "https://wire.example/x"}\n'
        '{"title": "Complete", "text": "A full story."}\n'
    )

    result = load_articles([folder])

    assert [a.title for a in result.articles] == ["Complete"]
    assert result.skipped == [{"file": "wire.jsonl:1", "reason": "missing or empty 'text'"}]


def test_hidden_files_are_ignored(folder: Path) -> None:
    one_file(folder, "wire.jsonl")
    (folder / ".wire.jsonl.swp").write_bytes(b"\x00\x01vim swap")

    result = load_articles([folder])

    assert result.skipped == []
    assert len(result.articles) == 3


def test_jsonl_source_field_is_kept_as_the_publisher(folder: Path) -> None:
    line = {"title": "Port Reopens", "text": "The port reopened on Monday.", "source": "Wire Daily"}
    (folder / "pub.jsonl").write_text(json.dumps(line) + "\n")

    [article] = load_articles([folder]).articles

    assert article.publisher == "Wire Daily"
    assert article.source == "pub.jsonl"


# 500,000 blanks or brackets: minutes with a parser quadratic in a run (40,000 blanks took 3.9 s),
# well under a second when each character is read a bounded number of times
PATHOLOGICAL_RUN = 500_000


def test_a_long_run_of_blanks_inside_a_line_is_read_once(folder: Path) -> None:
    padding = " \t" * (PATHOLOGICAL_RUN // 2)
    (folder / "padded.txt").write_text(f"Padded Story\n\nThe story starts.{padding}It ends.\n")

    (article,) = load_articles([folder]).articles

    assert article.title == "Padded Story"
    assert article.text == f"The story starts.{padding}It ends."


@pytest.mark.parametrize("run", ["[", "!["])
def test_a_long_run_of_link_brackets_in_markdown_is_read_once(folder: Path, run: str) -> None:
    brackets = run * (PATHOLOGICAL_RUN // len(run))
    (folder / "brackets.md").write_text(f"# Bracket Story\n\nThe story starts {brackets} here.\n")

    (article,) = load_articles([folder]).articles

    assert article.text == f"The story starts {brackets} here."


def test_a_file_over_the_size_limit_is_skipped_before_it_is_read(folder: Path) -> None:
    one_file(folder, "wire.jsonl")
    with open(folder / "huge.txt", "wb") as fh:
        fh.truncate(MAX_FILE_BYTES + 1)  # sparse: takes no disk space
    tracemalloc.start()
    try:
        result = load_articles([folder])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert result.skipped == [{"file": "huge.txt", "reason": "larger than 50 MiB"}]
    assert len(result.articles) == 3
    assert peak < MAX_FILE_BYTES // 10


def test_an_article_over_the_length_cap_is_skipped_with_its_reason(folder: Path) -> None:
    long_body = "The ferry sailed again. " * 100
    (folder / "mixed.txt").write_text(
        f"Long Story\n\n{long_body}\n+++++\nShort Story\n\nThe ferry sailed.\n"
    )

    result = load_articles([folder], max_article_chars=1000)

    assert [a.title for a in result.articles] == ["Short Story"]
    assert result.skipped == [
        {
            "file": "mixed.txt",
            "reason": "article 'Long Story' has 2,399 characters, "
            "more than MAX_ARTICLE_CHARS (1,000)",
        }
    ]


def test_a_json_line_over_the_length_cap_is_skipped_with_its_line(folder: Path) -> None:
    lines = [{"title": "Long", "text": "Words. " * 200}, {"title": "Short", "text": "Words."}]
    (folder / "wire.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))

    result = load_articles([folder], max_article_chars=1000)

    assert [a.title for a in result.articles] == ["Short"]
    assert [s["file"] for s in result.skipped] == ["wire.jsonl:1"]
    assert "MAX_ARTICLE_CHARS" in result.skipped[0]["reason"]


def test_markdown_front_matter_gives_title_date_and_url(folder: Path) -> None:
    (folder / "dam.md").write_text(
        "---\n"
        'title: "Dam Reopens After Repairs"\n'
        "date: 2024-04-02\n"
        "url: https://river.example/dam\n"
        "tags:\n  - river\n"
        "---\n\n"
        "The dam reopened on Tuesday after a year of repairs.\n\n"
        "Engineers said the spillway was rebuilt.\n"
    )

    (article,) = load_articles([folder]).articles

    assert (article.title, article.date, article.url) == (
        "Dam Reopens After Repairs",
        "2024-04-02",
        "https://river.example/dam",
    )
    assert not article.title_derived
    assert article.text.startswith("The dam reopened on Tuesday")
    assert "title:" not in article.text


DAM = "Dam Reopens After Repairs"
DAM_OPENS = "The dam reopened on Tuesday after a year of repairs."
DAM_ENDS = "Engineers will inspect the spillway every month."


@pytest.mark.parametrize(
    ("markdown", "text"),
    [
        pytest.param(
            f"{DAM}\n{'=' * len(DAM)}\n\n{DAM_OPENS}\n\nWhat comes next\n---------------\n\n"
            f"{DAM_ENDS}\n",
            f"{DAM_OPENS}\n\nWhat comes next\n\n{DAM_ENDS}",
            id="setext headings",
        ),
        pytest.param(
            f"# {DAM}\n\n{DAM_OPENS}\n\n---\n\n{DAM_ENDS}\n",
            f"{DAM_OPENS}\n\n{DAM_ENDS}",
            id="a rule with no heading after it",
        ),
    ],
)
def test_markdown_setext_headings_and_rules_do_not_split_an_article(
    folder: Path, markdown: str, text: str
) -> None:
    (folder / "dam.md").write_text(markdown)

    (article,) = load_articles([folder]).articles

    assert (article.title, article.text) == (DAM, text)


def test_jsonl_published_that_is_not_a_date_is_left_out_with_a_warning(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    line = {"title": "Port Reopens", "text": "The port reopened.", "published": "not a date"}
    (folder / "wire.jsonl").write_text(json.dumps(line) + "\n")

    (article,) = load_articles([folder]).articles

    assert article.date == ""
    assert "wire.jsonl:1: 'published' 'not a date' is not a date" in caplog.text


@pytest.mark.parametrize(
    ("published", "date"),
    [
        ("2024-03-11", "2024-03-11"),
        ("May 5, 2024", "2024-05-05"),
        ("5 May 2024", "2024-05-05"),
        # parsed once at ingest into the day: what citations show and the recency prior reads
        ("2024/03/11", "2024-03-11"),
        ("2024-03-11T09:30:00Z", "2024-03-11"),
        ("Mon, 11 Mar 2024 09:30:00 +0000", "2024-03-11"),
    ],
)
def test_jsonl_published_date_is_kept_as_its_day(folder: Path, published: str, date: str) -> None:
    line = {"title": "Port Reopens", "text": "The port reopened.", "published": published}
    (folder / "wire.jsonl").write_text(json.dumps(line) + "\n")

    (article,) = load_articles([folder]).articles

    assert article.date == date


def test_jsonl_url_that_is_not_a_string_is_left_out_with_a_warning(
    folder: Path, caplog: pytest.LogCaptureFixture
) -> None:
    line = {"title": "Port Reopens", "text": "The port reopened.", "url": {"href": "x"}}
    (folder / "wire.jsonl").write_text(json.dumps(line) + "\n")

    (article,) = load_articles([folder]).articles

    assert article.url == ""
    assert "wire.jsonl:1: 'url' is an object, not a string" in caplog.text


def test_jsonl_numeric_text_is_reported_as_a_number(folder: Path) -> None:
    (folder / "wire.jsonl").write_text('{"title": "Count", "text": 42}\n')

    result = load_articles([folder])

    assert result.skipped == [
        {"file": "wire.jsonl:1", "reason": "'text' is a number, not a string"}
    ]


def test_a_broken_symlink_is_listed_with_its_reason(folder: Path) -> None:
    one_file(folder, "wire.jsonl")
    (folder / "gone.txt").symlink_to(folder / "nowhere.txt")

    result = load_articles([folder])

    assert result.skipped == [{"file": "gone.txt", "reason": "broken symbolic link"}]
    assert len(result.articles) == 3


def test_a_symlinked_folder_is_listed_with_its_reason(folder: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    one_file(elsewhere, "wire.jsonl")
    (folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    one_file(folder, "harbour.md")

    result = load_articles([folder])

    assert result.skipped == [
        {"file": "linked", "reason": "symbolic link to a folder (not followed)"}
    ]
    assert {a.source for a in result.articles} == {"harbour.md"}


def test_same_file_name_under_two_roots_gives_two_articles(tmp_path: Path) -> None:
    for name, verb in (("news", "rose"), ("wire", "fell")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "trade.txt").write_text(f"Trade Report\n\nTrade {verb} this year.\n")

    articles = load_articles([tmp_path / "news", tmp_path / "wire"]).articles

    assert [(a.source, a.text) for a in articles] == [
        ("news/trade.txt", "Trade rose this year."),
        ("wire/trade.txt", "Trade fell this year."),
    ]
    assert len({a.id for a in articles}) == 2


def test_a_nested_folder_named_like_another_root_gives_every_file_its_own_name(
    tmp_path: Path,
) -> None:
    files = {"news/trade.txt": "rose", "news/wire/trade.txt": "held", "wire/trade.txt": "fell"}
    for rel, verb in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(f"Trade Report\n\nTrade {verb} this year.\n")

    articles = load_articles([tmp_path / "news", tmp_path / "wire"]).articles

    assert sorted((a.source, a.text) for a in articles) == [
        ("news/trade.txt", "Trade rose this year."),
        ("news/wire/trade.txt", "Trade held this year."),
        ("wire/trade.txt", "Trade fell this year."),
    ]


def test_file_names_found_under_one_root_only_keep_their_ids(
    sample_articles: Path, tmp_path: Path
) -> None:
    alone = load_articles([sample_articles]).articles
    other = tmp_path / "other"
    other.mkdir()
    one_file(other, "wire.jsonl")

    together = load_articles([sample_articles, other]).articles

    assert [(a.source, a.id) for a in together[: len(alone)]] == [(a.source, a.id) for a in alone]


def test_identical_articles_in_several_files_are_one_article(folder: Path) -> None:
    story = "Port Reopens\n\nThe port reopened on Monday after the storm.\n"
    for name in ("a.txt", "b.txt", "c.txt", "d.txt"):
        (folder / name).write_text(story if name != "c.txt" else story.upper().title())
    (folder / "other.txt").write_text("Port Closes\n\nThe port closed on Friday.\n")

    result = load_articles([folder])

    assert [a.source for a in result.articles] == ["a.txt", "other.txt"]
    assert result.skipped == [
        {"file": name, "reason": "duplicate of a.txt ('Port Reopens'); indexed once"}
        for name in ("b.txt", "c.txt", "d.txt")
    ]


def test_each_extension_has_its_parser_in_the_format_registry() -> None:
    from index.ingest.formats import SUPPORTED_SUFFIXES, markdown, parser_for

    assert parser_for(".MD") is markdown.parse
    assert parser_for(".pdf") is None
    assert all(parser_for(s) is not None for s in SUPPORTED_SUFFIXES)
