"""The coverage report as plain text: `citebot report`, and `/report` in Discord (shortened)."""

from __future__ import annotations

from bot.serving.coverage import CoverageReport, Day


def format_text(report: CoverageReport, rows: int = 10, days: int = 14) -> str:
    """The report's sections as text; `rows` per list and the last `days` days."""
    window = f"last {report.since_days} days" if report.since_days else "whole log"
    of = f", library {report.library}" if report.library else ""
    lines = [
        f"Coverage report ({window}{of}), {report.generated}",
        f"{report.questions} questions: {report.answered} answered "
        f"({report.answer_rate:.0%}), {report.refused} refused ({report.refusal_rate:.0%}); "
        f"{report.private} private; votes 👍 {report.up} 👎 {report.down}",
        "",
        f"Refused questions, by meaning ({report.refused} refused):",
    ]
    for g in report.refusal_groups[:rows]:
        also = f", {g.wordings} wordings" if g.wordings > 1 else ""
        lines.append(f"  {g.count:>4} × {_one_line(g.wording)}  (last {g.newest}{also})")
    if not report.refusal_groups:
        lines.append("  none")
    if report.private_refused:
        lines.append(f"  and {report.private_refused} private questions, not shown")
    if report.grouped_by_wording_only:
        lines.append(f"  ({report.grouped_by_wording_only} rarer wordings grouped by wording only)")
    lines += ["", f"Answers voted down ({report.down_voted_total}):"]
    for a in report.down_voted[:rows]:
        if a.private:
            lines.append(f"  #{a.id} {a.day} 👎 {a.down} 👍 {a.up}: a private answer")
            continue
        lines.append(f"  #{a.id} {a.day} 👎 {a.down} 👍 {a.up}: {_one_line(a.question)}")
        for c in a.claims:
            cited = ", ".join(f"[{n}]" for n in c.sources)
            lines.append(f"      {_one_line(c.text, 110)} {cited}")
        for s in a.sources:
            lines.append(f"      [{s.number}] {s.title} {s.url}".rstrip())
    if not report.down_voted:
        lines.append("  none")
    rules = ", ".join(f"{rule} {n}" for rule, n in report.dropped_by_rule.items())
    lines += ["", f"Answers with claims dropped by the check ({report.dropped_total}): {rules}"]
    for d in report.dropped[:rows]:
        what = "a private answer" if d.private else _one_line(d.question)
        lines.append(f"  #{d.id} {d.day}{' (refused)' if d.refused else ''}: {what}")
        for dc in d.claims:
            if dc.claim:
                score = f", p={dc.score:.2f}" if dc.score is not None else ""
                lines.append(f"      {dc.rule} ({dc.detail}{score}): {_one_line(dc.claim, 100)}")
            else:
                lines.append(f"      {dc.rule}")
    if not report.dropped:
        lines.append("  none")
    lines += ["", "Per day:            questions  answered  refused   👍   👎"]
    lines += [_day_line(d) for d in report.days[-days:]]
    lines += ["", "Articles cited most:"]
    lines += [f"  {a.count:>4}  {a.name}  {a.url}".rstrip() for a in report.articles[:rows]]
    lines += ["", "Feeds cited most:"]
    lines += [f"  {f.count:>4}  {f.name}" for f in report.feeds[:rows]]
    lines += ["", "Feeds failing or with nothing new for a week:"]
    for p in report.feed_problems:
        lines.append(f"  {p.feed} ({p.library}): {p.problem}")
    if not report.feed_problems:
        lines.append("  none")
    return "\n".join(lines)


def _day_line(d: Day) -> str:
    return (
        f"  {d.day}  {d.questions:>9}  {d.answered:>4} {d.answer_rate:>4.0%}"
        f"  {d.refused:>4} {d.refusal_rate:>4.0%}  {d.up:>3}  {d.down:>3}"
    )


def _one_line(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
