"""`citebot-index`: build the index from article files, and show what it holds."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from pydantic import ValidationError

from index.errors import CitebotError
from index.library_config import LibraryConfig, choose_library, load_libraries
from index.logs import setup_logging
from index.settings import FeedSettings, IndexSettings, Settings

if TYPE_CHECKING:
    from index.build.builder import BuildReport

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@contextlib.contextmanager
def progress_bar(
    enabled: bool, unit: str = "chunk", desc: str = "embedding"
) -> Iterator[Progress | None]:
    """One tqdm bar on stderr (the embedding's, or the fetch's), log lines printed above it.

    The bar is drawn once the number of items is known (not at all when there are none) and
    closed when the last one is done, before the build logs its switch.
    """
    if not enabled:
        yield None
        return
    from tqdm import tqdm
    from tqdm.contrib.logging import logging_redirect_tqdm

    bar: tqdm | None = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if total <= 0:
            return
        if bar is None:
            bar = tqdm(total=total, unit=unit, desc=desc, file=sys.stderr)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    with logging_redirect_tqdm():
        try:
            yield update
        finally:
            if bar is not None:
                bar.close()


@contextlib.contextmanager
def _skips_in_the_summary() -> Iterator[None]:
    """The summary lists every skipped file and every fetch failure with its reason: no log
    line says it a second time."""
    quiet = {"index.ingest.articles": logging.ERROR, "index.ingest.feeds.fetch": logging.WARNING}
    levels = {name: logging.getLogger(name).level for name in quiet}
    for name, level in quiet.items():
        logging.getLogger(name).setLevel(level)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def fetch_for_build(
    settings: FeedSettings, feeds: Sequence[str], urls: Sequence[str], show: bool
) -> dict | None:
    """Fetch the library's FEEDS and these `feeds` and `urls` into its FETCHED_DIR.

    The fetch report's `as_dict()`; None when there is nothing to fetch; `{"error": ...}` when
    the fetch itself failed: a build goes on with the articles already on disk regardless.
    """
    every = list(dict.fromkeys([*settings.feeds, *feeds]))
    if not every and not urls:
        return None
    from index.ingest.feeds import fetch_sources

    try:
        with progress_bar(show, unit="page", desc="fetching") as update:
            return fetch_sources(settings, every, urls, update).as_dict()
    except Exception as exc:  # e.g. FETCHED_DIR unwritable: the build still runs
        log.warning("fetching the feeds failed: %s", exc, exc_info=not isinstance(exc, OSError))
        return {"error": str(exc) or type(exc).__name__}


def run_build(
    index: IndexSettings,
    fetching: FeedSettings,
    sources: tuple[Path, ...],
    full: bool,
    as_json: bool,
    progress: bool | None = None,
    feeds: Sequence[str] = (),
    urls: Sequence[str] = (),
    with_fetched: bool = True,
) -> BuildReport:
    """Fetch the feeds, load the model and build; shared by `citebot-index build` and the
    quick start. The build reads `sources` (default ARTICLES_DIR) and FETCHED_DIR together;
    its report gets the fetch's as `fetch` when anything was fetched, and the folders read as
    `roots`.

    Without `with_fetched`, FETCHED_DIR is neither fetched into nor read (`--source DIR`
    builds DIR alone).

    The progress bars show on a terminal unless `--json` is asked; `progress` forces them.
    """
    from index.build.builder import build_index
    from index.build.embeddings import embedder_from_settings
    from index.ingest.feeds import build_roots

    show = progress if progress is not None else not as_json and sys.stderr.isatty()
    fetched = None
    if with_fetched:
        with _skips_in_the_summary():
            fetched = fetch_for_build(fetching, feeds, urls, show)

    embedder = embedder_from_settings(index)
    roots = build_roots(index, fetching, sources, with_fetched)
    with progress_bar(show) as update, _skips_in_the_summary():
        report = build_index(index, embedder, roots, full=full, progress=update)
    report = replace(report, roots=tuple(str(root) for root in roots))
    return report if fetched is None else replace(report, fetch=fetched)


def format_fetch(f: dict) -> list[str]:
    """The fetch part of a build summary: totals, then a line per feed and per failure."""
    from index.ingest.feeds import report_lines

    if "error" in f:
        return [f"fetch failed: {f['error']}; built from the articles already on disk"]
    t = f["totals"]
    head = (
        f"fetched {t['fetched']} of {t['listed']} pages from {len(f['sources'])} source(s): "
        f"{t['new']} new, {t['updated']} updated, {t['unchanged']} unchanged, "
        f"{t['failed']} failed in {f['seconds']:.1f} s"
    )
    return [head, *(f"  {line}" for line in report_lines(f))]


def format_summary(r: BuildReport) -> str:
    """A build's report for people: the fetch, the counts, the files skipped."""
    lines = format_fetch(r.fetch) if r.fetch else []
    lines += [
        f"{r.articles} articles, {r.chunks} chunks: {r.embedded} embedded, "
        f"{r.unchanged} unchanged, {r.removed} removed in {r.seconds:.1f} s"
        + ("" if r.switched else " (index already up to date)"),
    ]
    if r.roots:
        lines.append(f"read {', '.join(r.roots)}")
    if r.skipped_files:
        lines.append(f"skipped {len(r.skipped_files)}:")
        lines += [f"  {s['file']}: {s['reason']}" for s in r.skipped_files]
    return "\n".join(lines)


@click.group()
def cli() -> None:
    """Build and inspect citebot's article index."""


LIBRARY = click.option(
    "--library",
    default=None,
    metavar="NAME",
    help="Only this library of LIBRARIES_FILE (default: every library).",
)


def chosen_libraries(settings: Settings, name: str | None) -> list[LibraryConfig]:
    """The libraries a command works on: the one named, else all (the implicit one alone when
    there is no libraries file)."""
    libraries = load_libraries(settings.libraries_file, settings.index, settings.fetching)
    return [choose_library(libraries, name)] if name else libraries


def per_library(libraries: list[LibraryConfig], results: list, as_json: bool, line) -> str:
    """One result as today without a libraries file; else one per library, by name."""
    if libraries[0].implicit:
        return json.dumps(_as_json(results[0])) if as_json else line(results[0])
    if as_json:
        return json.dumps(
            {lib.name: _as_json(r) for lib, r in zip(libraries, results, strict=True)}
        )
    return "\n".join(f"{lib.name}: {line(r)}" for lib, r in zip(libraries, results, strict=True))


def _as_json(result: Any) -> Any:
    """A build's report as `--json` prints it; other results are JSON already."""
    from index.build.builder import BuildReport  # the store's client: not for every command

    return result.as_dict() if isinstance(result, BuildReport) else result


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Article folder or file (repeatable); default ARTICLES_DIR (or the library's).",
)
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="URL",
    help="Also fetch this RSS/Atom feed or sitemap, this run only (repeatable).",
)
@click.option(
    "--url", "urls", multiple=True, metavar="URL", help="Also fetch this page (repeatable)."
)
@click.option(
    "--fetched/--no-fetched",
    "with_fetched",
    default=None,
    help="Fetch the feeds into FETCHED_DIR and read it too (default: yes, unless --source).",
)
@click.option("--full", is_flag=True, help="Rebuild from nothing instead of incrementally.")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show the embedding progress bar (default: on a terminal, without --json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@LIBRARY
def build(
    sources: tuple[Path, ...],
    feeds: tuple[str, ...],
    urls: tuple[str, ...],
    with_fetched: bool | None,
    full: bool,
    progress: bool | None,
    as_json: bool,
    library: str | None,
) -> None:
    """Fetch the feeds; index new and changed articles; prune deleted ones; switch atomically.

    Feeds are FEEDS (or the library's `feeds`) and `--feed`; fetched articles are kept in
    FETCHED_DIR and indexed with the article folders (with `--source`, only given `--fetched`,
    `--feed` or `--url`). A failed page or feed is one line of
    the summary; the build goes on.
    """
    settings = Settings()
    setup_logging("WARNING" if as_json else settings.log_level)
    libraries = chosen_libraries(settings, library)
    if (sources or feeds or urls) and len(libraries) > 1:
        raise click.UsageError("--source, --feed or --url with several libraries needs --library")
    # the fetched folder joins the default folders; `--source DIR` alone unless asked for
    fetched = with_fetched if with_fetched is not None else not sources or bool(feeds or urls)
    reports = []
    for lib in libraries:
        try:
            folders = sources or lib.folders
            reports.append(
                run_build(
                    lib.index,
                    lib.fetching,
                    folders,
                    full,
                    as_json,
                    progress,
                    feeds,
                    urls,
                    fetched,
                )
            )
        except CitebotError as exc:
            if lib.implicit:
                raise
            raise CitebotError(f"library {lib.name}: {exc}") from exc
    click.echo(per_library(libraries, reports, as_json, format_summary))


def format_stats(s: dict) -> str:
    """The live index's statistics for people."""
    if not s["built"]:
        return f"no index {s['collection']!r} yet in {s['where']}: run `citebot-index build`"
    return (
        f"{s['articles']} articles, {s['chunks']} chunks; model {s['model']}; "
        f"collection {s['collection']} ({s['generation']}); {s['where']}"
    )


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@LIBRARY
def stats(as_json: bool, library: str | None) -> None:
    """Articles, chunks, model, collection and where the index lives."""
    from index.build.builder import index_stats

    settings = Settings()
    setup_logging("WARNING")
    libraries = chosen_libraries(settings, library)
    results = [index_stats(lib.index) for lib in libraries]
    click.echo(per_library(libraries, results, as_json, format_stats))


SECRET_SETTINGS = frozenset(
    f.alias for f in Settings.model_fields.values() if "SecretStr" in str(f.annotation)
)


def settings_problem(exc: ValidationError) -> str:
    """A pydantic error on the settings, as the operator wrote them: name, problem, value."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"]) or "settings"
        # by type, not by name: CHUNK_TOKENS is no secret, and its value helps
        secret = name in SECRET_SETTINGS
        given = "" if secret or isinstance(err["input"], dict) else f" (got {err['input']!r})"
        lines.append(f"{name}: {err['msg']}{given}")
    return "invalid setting in .env or the environment: " + "; ".join(lines)


def run_command(
    group: click.Group, argv: list[str] | None, prog_name: str, interrupted: str
) -> int:
    """The CLI edge: domain errors become a one-line message and exit code 1, Ctrl-C 130."""
    try:
        group.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except CitebotError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except ValidationError as exc:  # only Settings() is validated by pydantic at this edge
        click.echo(f"error: {settings_problem(exc)}", err=True)
        return 1
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo(interrupted, err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except SystemExit as exc:  # a command that ends the process with its own code
        return int(exc.code or 0)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `citebot-index`."""
    return run_command(cli, argv, "citebot-index", "interrupted; the live index is unchanged")
