"""News feeds: fetch RSS/Atom feeds, sitemaps and pages into article files a build reads."""

from index.feeds.fetch import fetch_sources, fetch_sources_async
from index.feeds.report import FetchReport, SourceReport, report_lines
from index.feeds.roots import build_roots

__all__ = [
    "FetchReport",
    "SourceReport",
    "build_roots",
    "fetch_sources",
    "fetch_sources_async",
    "report_lines",
]
