"""`citebot`: the quick-start main job, `ask`, `chat`, `run` (Discord), `report`, `eval` and
`eval-claims`."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date
from pathlib import Path

import click

from index.cli import run_command
from index.logs import setup_logging
from index.settings import FeedSettings, IndexSettings, Settings

log = logging.getLogger(__name__)


def _answer_json(answer) -> str:
    return json.dumps(answer.as_dict(), ensure_ascii=False, indent=2)


def _pipeline(settings: Settings, library: str | None = None):
    """The pipeline of the library named (default: the default library, or the only one)."""
    from bot.answering.pipeline import build_pipeline
    from index.library_config import choose_library, load_libraries

    libraries = load_libraries(settings.libraries_file, settings.index, settings.fetching)
    return build_pipeline(choose_library(libraries, library).index, settings.answering)


LIBRARY = click.option(
    "--library",
    default=None,
    metavar="NAME",
    help="Ask this library of LIBRARIES_FILE (default: the default library, or the only one).",
)


def chat_loop(pipeline, read=input, write=click.echo, as_of: date | None = None) -> None:
    """A REPL with history: a thin front end over the same conversation core as the bot."""
    from bot.answering.questions import MAX_QUESTION_CHARS
    from bot.errors import BadQuestionError
    from bot.serving.conversation import ConversationService, MemoryLog
    from bot.terminal import render_text

    chat = ConversationService(pipeline, MemoryLog(), max_question_chars=MAX_QUESTION_CHARS)
    write("Ask about the articles (empty line or Ctrl-D to quit).")
    try:
        while True:
            try:
                question = read("\n? ")
            except (EOFError, KeyboardInterrupt):
                write("")
                return
            if not question.strip():
                return
            try:
                answered = chat.ask_now(question, "terminal", "terminal", as_of=as_of)
            except BadQuestionError as exc:
                write(str(exc))
                continue
            write(render_text(answered.answer))
    finally:
        chat.close()


def update_index(index: IndexSettings, fetching: FeedSettings, folders: tuple[Path, ...]) -> str:
    """The main job's fetch and build before the bot starts: its summary, or one line of warning
    when the build fails while a live index exists (the bot then answers from that); no live
    index, it fails. A failed fetch is a line of the summary, never a reason to stop.
    """
    from index.cli import format_summary, run_build
    from index.errors import CitebotError
    from index.store import live_generation

    try:
        return format_summary(run_build(index, fetching, folders, False, False))
    except CitebotError as exc:
        try:
            live = live_generation(index)
        except CitebotError:
            live = None
        if live is None:
            raise
        return f"warning: the index was not updated: {exc}; answering from {live}"


@click.group(invoke_without_command=True)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Answer questions about your articles, with quoted, numbered citations.

    Without a command: bring the index of every library (ARTICLES_DIR without a libraries
    file) up to date, then run the Discord bot (when DISCORD_TOKEN is set) or the terminal chat.
    """
    if ctx.invoked_subcommand is not None:
        return
    settings = Settings()
    setup_logging(settings.log_level)
    from index.library_config import load_libraries

    for library in load_libraries(settings.libraries_file, settings.index, settings.fetching):
        folders = library.folders or (library.index.articles_dir,)
        named = "" if library.implicit else f" ({library.name})"
        feeds = library.fetching.feeds
        fetching = f"Fetching {len(feeds)} feed(s), then i" if feeds else "I"
        click.echo(f"{fetching}ndexing {', '.join(map(str, folders))}{named} …", err=True)
        click.echo(update_index(library.index, library.fetching, library.folders), err=True)
    if settings.discord_token:
        ctx.invoke(run)
        return
    click.echo(
        "No DISCORD_TOKEN set, so here is the terminal chat (see README: Discord setup).",
        err=True,
    )
    chat_loop(_pipeline(settings))


AS_OF = click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    callback=lambda _ctx, _param, value: value.date() if value else None,
    help="Ask the library as it stood on this day (YYYY-MM-DD): later articles are left out.",
)


@cli.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the chain's result as JSON.")
@AS_OF
@LIBRARY
def ask(question: str, as_json: bool, as_of: date | None, library: str | None) -> None:
    """Answer one question."""
    from bot.terminal import render_text

    settings = Settings()
    setup_logging("WARNING")
    answer = _pipeline(settings, library).ask(question, as_of=as_of)
    click.echo(_answer_json(answer) if as_json else render_text(answer))


@cli.command()
@AS_OF
@LIBRARY
def chat(as_of: date | None, library: str | None) -> None:
    """An interactive session with follow-up questions."""
    settings = Settings()
    setup_logging("WARNING")
    chat_loop(_pipeline(settings, library), as_of=as_of)


@cli.command()
def run() -> None:
    """Run the Discord bot (needs DISCORD_TOKEN)."""
    settings = Settings()
    setup_logging(settings.log_level)
    from bot.discord.app import run as run_discord

    sys.exit(run_discord(settings))


@cli.command(name="eval")
@click.option("--questions", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--limit", type=int, default=None, help="Only the first N questions.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-baseline", is_flag=True, help="Skip the dense-only baseline.")
@click.option(
    "--undated",
    is_flag=True,
    help="Ask every question of the whole library, ignoring its question_date.",
)
def eval_cmd(
    questions: Path,
    corpus: Path,
    limit: int | None,
    as_json: bool,
    no_baseline: bool,
    undated: bool,
) -> None:
    """Measure retrieval and answers on a question set (see ../shared/eval/README.md).

    A question with a `question_date` is asked as of that day (the library as it stood then)
    and again undated; both columns are printed.
    """
    from bot.evaluation.evaluate import format_report, run_eval

    settings = Settings()
    setup_logging("WARNING")
    report = run_eval(
        settings.index,
        settings.answering,
        questions,
        corpus,
        limit=limit,
        baseline=not no_baseline,
        dated=not undated,
    )
    click.echo(json.dumps(report, indent=2) if as_json else format_report(report))


@cli.command(name="eval-claims")
@click.option("--corpus", type=click.Path(exists=True, path_type=Path), help="Claims made from it.")
@click.option(
    "--dataset",
    type=click.Choice(["summedits", "fever", "frank"]),
    help="A public set instead (its path as PATH): balanced accuracy per set and edit type.",
)
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--split", default=None, help="SummEdits: its split (evaluation, test); FRANK: dev or train."
)
@click.option("--limit", type=int, default=None, help="Sentences to draw / items to read.")
@click.option("--seed", type=int, default=0, show_default=True, help="Which sentences and edits.")
@click.option(
    "--checker",
    type=click.Choice(["model", "rules"]),
    default=None,
    help="The verifier and the rules, or the rules alone (default: CLAIM_VERIFIER).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def eval_claims(
    corpus: Path | None,
    dataset: str | None,
    path: Path | None,
    split: str | None,
    limit: int | None,
    seed: int,
    checker: str | None,
    as_json: bool,
) -> None:
    """Measure the citation check: kept rate of true and of changed claims, per kind.

    With --corpus, claims are made from sentences of the corpus (verbatim, reworded, or with
    one fact changed) and checked against the passage they came from, as `ask` checks an
    answer. With --dataset summedits|fever|frank PATH, each summary sentence of a public set
    is checked against its document, and a summary is kept only if all its sentences are.
    """
    from bot.answering.pipeline import load_default_embedder
    from bot.answering.verifier import shipped_verifier
    from bot.evaluation.claims_eval import format_claims_report, run_claims_eval
    from bot.evaluation.public_claims import format_public_report, run_public_eval

    if (corpus is None) == (dataset is None):
        raise click.UsageError("give --corpus C.jsonl or --dataset NAME PATH")
    if dataset and path is None:
        raise click.UsageError(f"--dataset {dataset} needs the set's PATH")
    settings = Settings()
    setup_logging("WARNING")
    verifier = shipped_verifier() if (checker or settings.claim_verifier) == "model" else None
    embedder = load_default_embedder(settings.index)
    if dataset:
        assert path is not None
        report = run_public_eval(dataset, path, embedder, verifier, limit=limit, split=split)
        text = format_public_report(report)
    else:
        assert corpus is not None
        report = run_claims_eval(
            corpus,
            embedder,
            limit=limit or 300,
            seed=seed,
            max_tokens=settings.chunk_tokens,
            overlap_tokens=settings.chunk_overlap_tokens,
            verifier=verifier,
        )
        text = format_claims_report(report)
    click.echo(json.dumps(report, indent=2, ensure_ascii=False) if as_json else text)


@cli.command()
@click.option(
    "--since",
    "since_days",
    type=click.IntRange(min=1),
    default=None,
    metavar="DAYS",
    help="Only the last DAYS days (default: the whole log).",
)
@click.option(
    "--library", default=None, metavar="NAME", help="Only this library's answers (default: all)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--html",
    "html_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as one self-contained HTML page to FILE.",
)
def report(since_days: int | None, library: str | None, as_json: bool, html_file: Path | None):
    """What the bot could not answer, from the answer log (FEEDBACK_DB): refused questions
    grouped by meaning, answers voted down or with claims dropped, rates per day, the articles
    and feeds cited most, and feeds failing or with nothing new for a week."""
    from bot.answering.pipeline import load_default_embedder
    from bot.serving.coverage import (
        FeedState,
        ReportError,
        build_report,
        read_fetch_state,
        read_log,
    )
    from bot.serving.coverage_html import render_html
    from bot.serving.coverage_text import format_text
    from index.ingest.feeds.archive import write_atomically
    from index.library_config import choose_library, load_libraries

    settings = Settings()
    setup_logging("WARNING")
    libraries = load_libraries(settings.libraries_file, settings.index, settings.fetching)
    chosen = [choose_library(libraries, library)] if library else libraries
    rows = read_log(settings.discord.feedback_db, since_days, library)
    states = [
        FeedState(c.name, c.fetching.feeds, read_fetch_state(c.fetching.fetched_dir))
        for c in chosen
    ]
    embedder = load_default_embedder(settings.index)
    result = build_report(rows, embedder.embed, states, since_days=since_days, library=library)
    if html_file is not None:
        try:
            write_atomically(html_file, render_html(result))
        except OSError as exc:
            raise ReportError(f"could not write {html_file}: {exc.strerror or exc}") from None
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(format_text(result))
        if html_file is not None:
            click.echo(f"\nHTML report written to {html_file}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of `citebot`: errors become a message and an exit code (see `run_command`)."""
    return run_command(cli, argv, "citebot", "interrupted")
