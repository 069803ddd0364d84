"""News feeds: fetch RSS/Atom feeds, sitemaps and pages into article files a build reads."""

from index.ingest.feeds.fetch import fetch_sources, fetch_sources_async
from index.ingest.feeds.report import FetchReport, SourceReport, report_lines
from index.ingest.feeds.roots import build_roots

__all__ = [
    "FetchReport",
    "SourceReport",
    "build_roots",
    "fetch_sources",
    "fetch_sources_async",
    "report_lines",
]
