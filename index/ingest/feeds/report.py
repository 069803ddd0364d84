"""What a fetch did, per feed: counts and one line per failure with its reason."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

COUNTS = ("listed", "too_old", "fetched", "new", "updated", "unchanged", "duplicates", "failed")


@dataclass
class SourceReport:
    """One feed (or the single `--url` pages): what it listed and what came of each entry.

    `fetched` counts pages downloaded (HTTP 200); `unchanged` pages answered 304 or gave the
    same article as last time; `duplicates` turned out to be an article already fetched in
    this run under another URL (a redirect, a second feed, a canonical URL).
    """

    source: str
    listed: int = 0
    too_old: int = 0  # entries (by the feed's date or their page's) older than KEEP_DAYS
    fetched: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    failed: int = 0
    failures: list[dict[str, str]] = field(default_factory=list)

    def fail(self, url: str, reason: str) -> None:
        """Count a failed page or feed, with its reason."""
        self.failed += 1
        self.failures.append({"url": url, "reason": reason})

    def count(self, url: str, outcome: str, downloaded: bool) -> None:
        """One page's outcome: new, updated, unchanged, too_old, duplicate, or a failure's
        reason."""
        self.fetched += downloaded
        if outcome in ("new", "updated", "unchanged", "too_old"):
            setattr(self, outcome, getattr(self, outcome) + 1)
        elif outcome == "duplicate":
            self.duplicates += 1
        else:
            self.fail(url, outcome)


@dataclass
class FetchReport:
    """The whole fetch; `as_dict()` is its `--json` form, `lines()` its summary for people."""

    sources: list[SourceReport] = field(default_factory=list)
    # every page counted once, however many feeds listed it, and every feed's own failures
    overall: SourceReport = field(default_factory=lambda: SourceReport("all"))
    pruned: int = 0
    seconds: float = 0.0
    cut_short: str = ""  # why pages were left for the next fetch (its deadline), if any

    def totals(self) -> dict[str, int]:
        """Each count over every page."""
        return {k: getattr(self.overall, k) for k in COUNTS}

    def as_dict(self) -> dict[str, Any]:
        """The fetch as `--json` prints it."""
        return {
            "sources": [asdict(s) for s in self.sources],
            "totals": self.totals(),
            "pruned": self.pruned,
            "seconds": round(self.seconds, 2),
            "cut_short": self.cut_short,
        }

    def lines(self) -> list[str]:
        """One line per source with its counts, then one per failure: `url: reason`."""
        return report_lines(self.as_dict())


def report_lines(report: dict[str, Any]) -> list[str]:
    """`FetchReport.lines()` of its `as_dict()` form (what a build's report carries)."""
    out = []
    for s in report.get("sources", []):
        counts = ", ".join(f"{s.get(k, 0)} {k.replace('_', ' ')}" for k in COUNTS)
        out.append(f"{s['source']}: {counts}")
        out += [f"  {f['url']}: {f['reason']}" for f in s.get("failures", [])]
    if report.get("pruned"):
        out.append(f"{report['pruned']} fetched articles older than KEEP_DAYS pruned")
    if report.get("cut_short"):
        out.append(f"stopped: {report['cut_short']}")
    return out
