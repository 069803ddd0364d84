"""HTML extraction benchmark: trafilatura against index/ingest/formats/html.py's own reader.

Each page `NAME.html` in --pages has its article in --expected as `NAME.txt` (the title, a blank
line, then the article's paragraphs). For each extractor and page it prints the boilerplate lines
leaked (lines of the extracted body, and their words, found nowhere in the article) and the
article sentences lost (sentences of the article missing from the body), and whether the title
is right. `trafilatura` is index/ingest/formats/html.py's extract_article, as the fetcher and .html
files run it; `traf-precise` is
trafilatura's favor_precision mode. Exit code 1 when the fetcher's extractor leaks more words or
loses more sentences than the hand-written reader.

    python benchmarks/html_extract.py --pages tests/data/site/news \
        --expected tests/data/site/expected
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "tests" / "data" / "site"
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9])")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pages", type=Path, default=SITE / "news", help="folder of NAME.html")
    p.add_argument("--expected", type=Path, default=SITE / "expected", help="folder of NAME.txt")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    return p.parse_args(argv)


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").split()).casefold()


@dataclass
class Score:
    """One extractor on one page."""

    page: str
    extractor: str
    leaked_lines: int
    leaked_words: int
    lost_sentences: int
    sentences: int
    title_ok: bool
    ms: float


def _hand_written(html: str, url: str) -> tuple[str, str]:
    from index.ingest.formats.html import read_by_hand

    article = read_by_hand(html, "page.html")[0]
    return article.title, article.text


def _trafilatura(html: str, url: str) -> tuple[str, str]:
    from index.ingest.feeds.extract import extract_page

    page = extract_page(html, url)
    return page.title, page.text


def _trafilatura_precision(html: str, url: str) -> tuple[str, str]:
    """trafilatura tuned for precision: shown for comparison, not what the fetcher uses."""
    import trafilatura

    doc = trafilatura.bare_extraction(
        html, url=url, with_metadata=True, include_comments=False, favor_precision=True
    )
    return doc.title or "", doc.text or ""


EXTRACTORS = {
    "hand-written": _hand_written,
    "trafilatura": _trafilatura,
    "traf-precise": _trafilatura_precision,
}


def score(name: str, extractor: str, html: str, expected: str) -> Score:
    title, _, article = expected.partition("\n\n")
    started = time.perf_counter()
    got_title, body = EXTRACTORS[extractor](html, f"http://news.test/news/{name}.html")
    ms = (time.perf_counter() - started) * 1000
    want = _norm(article)
    lines = [line for line in body.splitlines() if line.strip()]
    leaked = [line for line in lines if _norm(line) not in want and _norm(line) != _norm(title)]
    sentences = [s for s in _SENTENCE_END.split(article.replace("\n", " ")) if s.strip()]
    lost = [s for s in sentences if _norm(s) not in _norm(body)]
    return Score(
        page=name,
        extractor=extractor,
        leaked_lines=len(leaked),
        leaked_words=sum(len(line.split()) for line in leaked),
        lost_sentences=len(lost),
        sentences=len(sentences),
        title_ok=_norm(got_title) == _norm(title),
        ms=round(ms, 1),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    pages = sorted(args.pages.glob("*.html"))
    scores = []
    for extractor in EXTRACTORS:
        EXTRACTORS[extractor](pages[0].read_text(encoding="utf-8"), "")  # imports off the clock
        for path in pages:
            expected = (args.expected / f"{path.stem}.txt").read_text(encoding="utf-8")
            html = path.read_text(encoding="utf-8")
            scores.append(score(path.stem, extractor, html, expected))
    totals = {
        ex: {
            key: sum(getattr(s, key) for s in scores if s.extractor == ex)
            for key in ("leaked_lines", "leaked_words", "lost_sentences", "sentences", "title_ok")
        }
        for ex in EXTRACTORS
    }
    if args.json:
        print(json.dumps({"pages": [asdict(s) for s in scores], "totals": totals}, indent=1))
    else:
        print(f"{'page':18} {'extractor':13} {'leaked lines':>12} {'(words)':>8} "
              f"{'lost sentences':>15} {'title':>6} {'ms':>7}")  # fmt: skip
        for s in scores:
            print(f"{s.page:18} {s.extractor:13} {s.leaked_lines:12} {s.leaked_words:8} "
                  f"{s.lost_sentences:>9} of {s.sentences:<3} {'ok' if s.title_ok else 'WRONG':>6} "
                  f"{s.ms:7.1f}")  # fmt: skip
        for ex, t in totals.items():
            print(f"{'TOTAL':18} {ex:13} {t['leaked_lines']:12} {t['leaked_words']:8} "
                  f"{t['lost_sentences']:>9} of {t['sentences']:<3} "
                  f"{t['title_ok']}/{len(pages)} titles")  # fmt: skip
    new, old = totals["trafilatura"], totals["hand-written"]
    worse = (
        new["leaked_words"] > old["leaked_words"] or new["lost_sentences"] > old["lost_sentences"]
    )
    return 1 if worse else 0


if __name__ == "__main__":
    sys.exit(main())
