"""The coverage report as one self-contained HTML page: tables, and charts as inline SVG.

Nothing is fetched: no scripts, style sheets, fonts or images from anywhere, so the page reads
the same from a file, an e-mail attachment or an offline laptop. Every text from the log is
escaped; URLs are shown as text, never as links a reader could mistake for the bot's own.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from bot.serving.coverage import CoverageReport, Day

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right}
svg{background:#fafafa;border:1px solid #ddd;margin:.5em 0 1.5em}
.answered{stroke:#2a7;fill:none;stroke-width:2}.refused{stroke:#c33;fill:none;stroke-width:2}
.bar{fill:#58a}.axis{stroke:#888}.label{font-size:11px;fill:#555}
"""

_W, _H, _PAD = 720, 220, 36


def render_html(report: CoverageReport) -> str:
    """The whole page."""
    window = f"last {report.since_days} days" if report.since_days else "whole log"
    of = f", library {report.library}" if report.library else ""
    title = f"citebot coverage report ({window}{of})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1><p>Generated {escape(report.generated)}. "
        f"{report.questions} questions: {report.answered} answered ({report.answer_rate:.0%}), "
        f"{report.refused} refused ({report.refusal_rate:.0%}), {report.private} private; "
        f"votes 👍 {report.up} 👎 {report.down}.</p>",
        "<h2>Answer and refusal rate per day</h2>",
        rate_chart(report.days),
        "<h2>Questions per day</h2>",
        questions_chart(report.days),
        "<h2>Refused questions, by meaning</h2>",
        _table(
            "refusals",
            ["Asked", "Representative wording", "Wordings", "Last asked", "Best gate score"],
            [
                [g.count, g.wording, g.wordings, g.newest, _score(g.best_relevance)]
                for g in report.refusal_groups
            ],
        ),
        "<h2>Answers voted down</h2>",
        _table(
            "down-voted",
            ["Answer", "Day", "👎", "👍", "Question", "Claims", "Sources"],
            [
                [
                    f"#{a.id}",
                    a.day,
                    a.down,
                    a.up,
                    "(private)" if a.private and not a.question else a.question,
                    "\n".join(f"{c.text} {c.sources}" for c in a.claims),
                    "\n".join(f"[{s.number}] {s.title} {s.url}" for s in a.sources),
                ]
                for a in report.down_voted
            ],
        ),
        "<h2>Claims dropped by the check</h2>",
        _table("dropped-rules", ["Rule", "Claims"], list(report.dropped_by_rule.items())),
        _table(
            "dropped",
            ["Answer", "Day", "Question", "Rule", "Detail", "Claim"],
            [
                [f"#{d.id}", d.day, d.question or "(private)", c.rule, c.detail, c.claim]
                for d in report.dropped
                for c in d.claims
            ],
        ),
        "<h2>Per day</h2>",
        _table(
            "days",
            ["Day", "Questions", "Answered", "Answer rate", "Refused", "Refusal rate", "👍", "👎"],
            [
                [
                    d.day,
                    d.questions,
                    d.answered,
                    f"{d.answer_rate:.0%}",
                    d.refused,
                    f"{d.refusal_rate:.0%}",
                    d.up,
                    d.down,
                ]
                for d in report.days
            ],
        ),
        "<h2>Articles cited most</h2>",
        _table(
            "articles",
            ["Citations", "Article", "URL"],
            [[a.count, a.name, a.url] for a in report.articles],
        ),
        "<h2>Feeds cited most</h2>",
        _table("feeds", ["Citations", "Feed or outlet"], [[f.count, f.name] for f in report.feeds]),
        "<h2>Feeds failing or with nothing new for a week</h2>",
        _table(
            "feed-problems",
            ["Library", "Feed", "Problem"],
            [[p.library, p.feed, p.problem] for p in report.feed_problems],
        ),
        "</body></html>",
    ]
    return "\n".join(parts)


def rate_chart(days: Sequence[Day]) -> str:
    """Answer rate (green) and refusal rate (red) per day, 0-100 %, as an SVG line chart."""

    def line(rate: str) -> str:
        points = " ".join(
            f"{_x(i, len(days)):.1f},{_y(getattr(d, rate)):.1f}" for i, d in enumerate(days)
        )
        css = "answered" if rate == "answer_rate" else "refused"
        return f'<polyline class="{css}" points="{points}"><title>{css}</title></polyline>'

    return _svg(
        "rate-chart",
        "Answer and refusal rate per day",
        [line("answer_rate"), line("refusal_rate"), *_axes(days, "100%")],
    )


def questions_chart(days: Sequence[Day]) -> str:
    """Questions per day as an SVG bar chart."""
    most = max((d.questions for d in days), default=0) or 1
    width = max(1.0, (_W - 2 * _PAD) / max(len(days), 1) - 2)
    bars = []
    for i, d in enumerate(days):
        top = _y(d.questions / most)
        x = _PAD + i * (_W - 2 * _PAD) / max(len(days), 1)
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" '
            f'height="{_H - _PAD - top:.1f}"><title>{d.day}: {d.questions}</title></rect>'
        )
    return _svg("questions-chart", "Questions per day", [*bars, *_axes(days, str(most))])


def _svg(chart_id: str, label: str, body: list[str]) -> str:
    return (
        f'<svg id="{chart_id}" role="img" aria-label="{escape(label)}" width="{_W}" '
        f'height="{_H}" viewBox="0 0 {_W} {_H}">' + "".join(body) + "</svg>"
    )


def _axes(days: Sequence[Day], top_label: str) -> list[str]:
    out = [
        f'<line class="axis" x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}"/>',
        f'<line class="axis" x1="{_PAD}" y1="{_PAD}" x2="{_PAD}" y2="{_H - _PAD}"/>',
        f'<text class="label" x="2" y="{_PAD + 4}">{escape(top_label)}</text>',
        f'<text class="label" x="2" y="{_H - _PAD}">0</text>',
    ]
    if days:
        out.append(f'<text class="label" x="{_PAD}" y="{_H - 12}">{days[0].day}</text>')
        out.append(
            f'<text class="label" x="{_W - _PAD}" y="{_H - 12}" text-anchor="end">'
            f"{days[-1].day}</text>"
        )
    return out


def _x(i: int, n: int) -> float:
    return _PAD + (i * (_W - 2 * _PAD) / (n - 1) if n > 1 else (_W - 2 * _PAD) / 2)


def _y(share: float) -> float:
    return _H - _PAD - share * (_H - 2 * _PAD)


def _table(table_id: str, head: list[str], rows: Sequence[Sequence[object]]) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = ["<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows] or [
        f'<tr><td colspan="{len(head)}">none</td></tr>'
    ]
    rows_html = "".join(body)
    return (
        f'<table id="{table_id}"><thead><tr>{cells}</tr></thead><tbody>{rows_html}</tbody></table>'
    )


def _cell(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="n">{value}</td>'
    return "<td>" + escape(str(value)).replace("\n", "<br>") + "</td>"


def _score(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"
