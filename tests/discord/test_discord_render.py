"""Answers as Discord messages: limits, sentence-boundary splits, trimmed and escaped quotes."""

from __future__ import annotations

from markup_check import live_markup

from bot.answering.answer import REFUSAL_TEXT, Answer, Citation
from bot.answering.pipeline import ArticleInfo
from bot.discord.render import (
    MESSAGE_LIMIT,
    QUOTE_LIMIT,
    REPHRASE_HINT,
    render_answer,
    render_citation,
    shorten,
    source_pages,
    split_text,
    thread_name,
)
from index.ingest.provenance import Provenance


def cite(n: int = 1, quote: str = "Trade reached $240 billion.", **fields: str) -> Citation:
    """A citation of `quote`; `fields` are its provenance's (title, url, source, date, …)."""
    provenance = Provenance(**({"title": "Trade Record"} | fields))
    return Citation(number=n, provenance=provenance, quote=quote, chunk_id="c1", score=0.9)


def test_a_short_answer_is_one_message_with_its_sources():
    answer = Answer("q", "Trade reached $240 billion [1].", [cite(url="https://news.example/a")])

    (message,) = render_answer(answer)

    assert message == (
        "Trade reached $240 billion [1].\n\n**Sources**\n"
        "**[1]** [Trade Record](<https://news.example/a>)\n> Trade reached $240 billion."
    )


def test_a_title_without_a_url_is_plain_and_source_and_date_follow_it():
    line = render_citation(cite(source="Reuters", date="2024-05-17")).splitlines()[0]

    assert line == "**[1]** Trade Record — Reuters · 2024-05-17"


def test_long_text_splits_after_sentences_and_keeps_every_word():
    text = " ".join(f"Sentence {i} has several words in it, e.g. this one." for i in range(200))

    parts = split_text(text, 500)

    assert all(len(p) <= 500 for p in parts)
    assert all(p.endswith("this one.") for p in parts)
    assert " ".join(parts) == text


def test_a_sentence_longer_than_a_message_splits_between_words():
    text = " ".join(["word"] * 1000)

    parts = split_text(text, MESSAGE_LIMIT)

    assert len(parts) == 3
    assert all(len(p) <= MESSAGE_LIMIT and p.split() == ["word"] * len(p.split()) for p in parts)
    assert " ".join(parts) == text


def test_no_message_of_a_huge_answer_passes_the_limit():
    citations = [cite(n, quote="Long quote. " * 100, title="T" * 400) for n in range(1, 11)]
    answer = Answer("q", "An answer sentence [1]. " * 300, citations)

    messages = render_answer(answer)

    assert all(0 < len(m) <= MESSAGE_LIMIT for m in messages)
    assert sum(m.count("**[") for m in messages) == 10


def test_long_quotes_are_trimmed_at_a_word_with_an_ellipsis():
    quote = "The agreement covers energy, agriculture and transport " * 20

    rendered = render_citation(cite(quote=quote)).split("\n> ")[1]

    assert len(rendered) <= QUOTE_LIMIT
    assert rendered.endswith("…")
    assert quote.startswith(rendered[:-1])
    assert rendered[:-1].split()[-1] in quote.split()


def test_shorten_never_cuts_mid_word():
    assert shorten("alpha beta gamma delta", 13) == "alpha beta…"
    assert shorten("short", 13) == "short"
    assert shorten("x" * 20, 10) == "x" * 9 + "…"


def test_markdown_in_quotes_and_titles_is_escaped():
    c = cite(title="A [fake](https://evil.example) *bold* title", quote="**not bold** and `code`")

    rendered = render_citation(c)

    assert "\\*\\*not bold\\*\\*" in rendered and "\\`code\\`" in rendered
    assert "\\[fake\\]" in rendered and "\\*bold\\*" in rendered


def test_a_quote_spanning_lines_stays_inside_the_block_quote():
    rendered = render_citation(cite(quote="first line\n\nsecond line"))

    assert rendered.endswith("\n> first line second line")


def test_a_refusal_suggests_rephrasing_and_lists_no_sources():
    (message,) = render_answer(Answer("q", REFUSAL_TEXT, refused=True))

    assert message == f"{REFUSAL_TEXT}\n{REPHRASE_HINT}"


def test_thread_names_fit_discords_limit():
    assert thread_name("  ") == "Question"
    assert len(thread_name("why " * 60)) <= 100


def test_sources_are_paged_ten_to_a_page():
    articles = [ArticleInfo(f"Article {i}", "", "Wire", 1) for i in range(23)]

    pages = source_pages(articles)

    assert len(pages) == 3
    assert pages[0].startswith("**23 indexed articles**")
    assert "23. Article 22 — Wire · 1 passage" in pages[2]


def test_a_quote_spanning_paragraphs_stays_in_one_blockquote():
    rendered = render_citation(cite(quote="First paragraph ends.\n\nSecond one starts."))

    _head, quote = rendered.split("\n", 1)
    assert quote == "> First paragraph ends. Second one starts."


def test_the_publisher_is_named_before_the_file():
    line = render_citation(cite(source="wire.jsonl", publisher="Wire Daily")).splitlines()[0]

    assert "Wire Daily" in line and "wire.jsonl" not in line


# --- article and model text is data, never markup ---------------------------------------------

HOSTILE = (
    "Trade reached $240 billion [1]. [Claim your free pass](https://evil.example/win) "
    "or join discord.gg/freepass, ||a spoiler|| for @everyone and @here, <@123456789012345678> "
    "<@&42> <#7> </ask:9> <t:1700000000:R>, `code` and https://evil.example/unfurl.\n"
    "# a heading\n-# small print\n> a block quote\n>>> the rest quoted\n- a list\n* a star list\n"
    "+ a plus list\n12. an ordered list"
)


def test_hostile_answer_text_renders_as_text():
    messages = render_answer(Answer("q", HOSTILE, [cite(url="https://news.example/a")]))

    assert [live_markup(m) for m in messages] == [[]]
    (message,) = messages
    assert "$240 billion [1]." in message  # the citation markers stay plain
    assert "[Claim your free pass]\\(<https://evil.example/win>)" in message
    assert "<https://discord.gg/freepass>" in message
    assert "<https://evil.example/unfurl>." in message
    assert "\\|\\|a spoiler\\|\\|" in message and "\\@everyone" in message


def test_hostile_quotes_titles_and_publishers_render_as_text():
    c = cite(
        title="# Win [big](https://evil.example) @everyone",
        quote="> [pass](https://evil.example) ||now|| <@123456789012345678> discord.gg/x",
        publisher="-# @here",
        url="https://news.example/a",
    )

    rendered = render_citation(c)

    assert live_markup(rendered) == []
    assert rendered.splitlines()[0].startswith("**[1]** [\\# Win \\[big\\]\\(")


def test_a_title_bracket_is_escaped_once():
    head = render_citation(
        cite(title="[Update](https://e.example) trade", url="https://x.example/a")
    )

    assert head.startswith("**[1]** [\\[Update\\]\\(<https://e.example>) trade](<https://x.e")
    assert "\\\\" not in head


def test_a_long_answer_split_mid_text_starts_no_message_with_markup():
    text = "Word " * 380 + "# " * 100  # wherever the cut falls, the rest starts with "#"
    messages = render_answer(Answer("q", text))

    assert len(messages) == 2 and messages[1].startswith("\\# #")
    assert all(live_markup(m) == [] for m in messages)
    assert all(len(m) <= MESSAGE_LIMIT for m in messages)


def test_the_note_is_small_print_with_its_text_escaped():
    (message,) = render_answer(Answer("q", "Trade grew [1].", note="model said **[x](http://e)**"))

    note = message.splitlines()[-1]
    assert note.startswith("-# ")
    assert live_markup(note[3:]) == []


# a redirect's Location that would close the citation's link and open a second, masked one
SMUGGLED = "https://news.example/x)[Official-statement](https://evil.example"


def test_a_url_that_would_end_its_link_is_percent_encoded_in_a_citation():
    text = render_citation(cite(url=SMUGGLED))

    assert "](https://evil.example" not in text
    assert "<https://news.example/x%29%5BOfficial-statement%5D%28https://evil.example>" in text
    assert live_markup(text) == []


def test_a_url_that_would_end_its_link_is_percent_encoded_in_the_source_list():
    article = ArticleInfo(title="T", url=SMUGGLED + " <b>", source="s", chunks=1, date="")

    (page,) = source_pages([article])

    assert "](https://evil.example" not in page and " <b>" not in page
    assert "%20%3Cb%3E" in page


def test_a_very_long_url_is_never_cut_across_two_messages():
    quote = "Trade reached $240 billion, " + "a record for the two neighbours, " * 8
    for length in (1_700, 1_880, 1_960, 2_100):
        url = "https://news.example/" + "a" * length
        answer = Answer("q", "Trade reached $240 billion [1].", [cite(url=url, quote=quote)])

        messages = render_answer(answer)

        assert all(len(m) <= MESSAGE_LIMIT for m in messages)
        linked = [m for m in messages if "news.example" in m]
        assert all(f"(<{url}>)" in m for m in linked), length  # whole, or not linked at all
        assert any(m.startswith("> Trade reached") or "\n> Trade reached" in m for m in messages)
