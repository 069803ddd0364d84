"""News feeds: fetch RSS/Atom feeds, sitemaps and pages into article files a build reads."""

from index.feeds.fetch import fetch_sources, fetch_sources_async
from index.feeds.report import FetchReport, SourceReport

__all__ = ["FetchReport", "SourceReport", "fetch_sources", "fetch_sources_async"]
