"""`citebot-index`: build the index from article files, and show what it holds."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import click
from pydantic import ValidationError

from index.errors import CitebotError
from index.libraries import LibraryConfig, choose_library, load_libraries
from index.logs import setup_logging
from index.settings import Settings

Progress = Callable[[int, int], None]


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """One tqdm bar on stderr for the embedding, while log lines print above it, not into it.

    The bar is drawn once the number of chunks to embed is known (not at all when there are
    none) and closed when the last one is embedded, before the build logs its switch.
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
            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr)
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
    """The summary lists every skipped file with its reason: no log line says it a second time."""
    parsing = logging.getLogger("index.articles")
    level = parsing.level
    parsing.setLevel(logging.ERROR)
    try:
        yield
    finally:
        parsing.setLevel(level)


def run_build(
    settings: Settings,
    sources: tuple[Path, ...],
    full: bool,
    as_json: bool,
    progress: bool | None = None,
) -> dict:
    """Load the model and build; shared by `citebot-index build` and the quick start.

    The progress bar shows on a terminal unless `--json` is asked; `progress` forces it on or off.
    """
    from index.build import build_index
    from index.embeddings import embedder_from_settings

    embedder = embedder_from_settings(settings)
    show = progress if progress is not None else not as_json and sys.stderr.isatty()
    with progress_bar(show) as update, _skips_in_the_summary():
        report = build_index(settings, embedder, sources or None, full=full, progress=update)
    return report.as_dict()


def format_summary(r: dict) -> str:
    lines = [
        f"{r['articles']} articles, {r['chunks']} chunks: {r['embedded']} embedded, "
        f"{r['unchanged']} unchanged, {r['removed']} removed in {r['seconds']:.1f} s"
        + ("" if r["switched"] else " (index already up to date)"),
    ]
    if r["skipped_files"]:
        lines.append(f"skipped {len(r['skipped_files'])}:")
        lines += [f"  {s['file']}: {s['reason']}" for s in r["skipped_files"]]
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
    libraries = load_libraries(settings)
    return [choose_library(libraries, name)] if name else libraries


def per_library(libraries: list[LibraryConfig], results: list, as_json: bool, line) -> str:
    """One result as today without a libraries file; else one per library, by name."""
    if libraries[0].implicit:
        return json.dumps(results[0]) if as_json else line(results[0])
    if as_json:
        return json.dumps({lib.name: r for lib, r in zip(libraries, results, strict=True)})
    return "\n".join(f"{lib.name}: {line(r)}" for lib, r in zip(libraries, results, strict=True))


@cli.command()
@click.option(
    "--source",
    "sources",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Article folder or file (repeatable); default ARTICLES_DIR (or the library's).",
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
    sources: tuple[Path, ...], full: bool, progress: bool | None, as_json: bool, library: str | None
) -> None:
    """Index new and changed articles; prune deleted ones; switch atomically."""
    settings = Settings()
    setup_logging("WARNING" if as_json else settings.log_level)
    libraries = chosen_libraries(settings, library)
    if sources and len(libraries) > 1:
        raise click.UsageError("--source with several libraries needs --library NAME")
    reports = []
    for lib in libraries:
        try:
            folders = sources or lib.folders
            reports.append(run_build(lib.settings, folders, full, as_json, progress))
        except CitebotError as exc:
            if lib.implicit:
                raise
            raise CitebotError(f"library {lib.name}: {exc}") from exc
    click.echo(per_library(libraries, reports, as_json, format_summary))


def format_stats(s: dict) -> str:
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
    from index.build import index_stats

    settings = Settings()
    setup_logging("WARNING")
    libraries = chosen_libraries(settings, library)
    results = [index_stats(lib.settings) for lib in libraries]
    click.echo(per_library(libraries, results, as_json, format_stats))


def settings_problem(exc: ValidationError) -> str:
    """A pydantic error on the settings, as the operator wrote them: name, problem, value."""
    lines = []
    for err in exc.errors():
        name = ".".join(str(part) for part in err["loc"]) or "settings"
        secret = any(word in name for word in ("TOKEN", "KEY"))
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
