"""`citebot eval-claims --dataset summedits|fever|frank PATH`: the claim check on public sets.

Each summary sentence (FEVER: the claim) becomes a claim citing its source document as the
one passage, through the real `check()` with the production verifier, as an answer's draft
is checked; a summary counts as kept only if every one of its sentences is kept. Reported:
balanced accuracy (the mean of the supported-kept and unsupported-dropped rates) per set,
per domain and per edit or error type. The verifier was calibrated on other splits of these
sets (training/DATA.md): a figure on a split it trained on says little; say which is which.
"""

from __future__ import annotations

import ast
import hashlib
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.answering.citations import check
from bot.answering.passages import NumberedPassage
from bot.answering.retrieval import KeywordIndex
from bot.answering.verifier import ClaimVerifier
from index.build.embeddings import Embedder
from index.errors import CitebotError
from index.ingest.provenance import Provenance
from index.store import Passage
from index.text.sentences import split_sentences

DATASETS = ("summedits", "fever", "frank")


@dataclass(frozen=True)
class Item:
    """One judged summary: its document, its sentences, the gold label and its groups."""

    doc: str
    sentences: tuple[str, ...]
    label: int  # 1 = consistent with the document
    group: str  # the domain or the source data set
    kinds: tuple[str, ...]  # edit or error types; () for a consistent one


def as_list(value: object) -> list[str]:
    """A list field that the sets store either as a list or as its Python repr."""
    if isinstance(value, list):
        return [str(x) for x in value]
    return [str(x) for x in ast.literal_eval(str(value))] if value else []


def _summedits(path: Path, split: str | None) -> Iterator[Item]:
    files = sorted(path.glob("summedits_*.json")) if path.is_dir() else [path]
    for file in files:
        domain = file.stem.removeprefix("summedits_")
        for row in json.loads(file.read_text()):
            if split and row.get("split") != split:
                continue
            label = int(row["label"])
            kinds = tuple(as_list(row.get("edit_types"))) if label == 0 else ()
            sents = tuple(split_sentences(row["summary"])) or (row["summary"],)
            yield Item(row["doc"], sents, label, domain, kinds or (("edit",) if not label else ()))


def _fever(path: Path) -> Iterator[Item]:
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    for file in files:
        for line in file.read_text().splitlines():
            row = json.loads(line)
            label = 1 if row["label"] == "SUPPORTS" else 0
            yield Item(row["evidence"], (row["claim"],), label, file.stem, ())


_FRANK_ERRORS = ("RelE", "EntE", "CircE", "CorefE", "LinkE", "OutE", "GramE")


def dev_document(key: str, share: float = 0.2) -> bool:
    """The verifier's split by document (training/verifier_data.py): True for dev documents."""
    h = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < share


def _frank(path: Path, split: str | None) -> Iterator[Item]:
    for row in json.loads((path / "human_annotations.json").read_text()):
        if split and ("dev" if dev_document(row["hash"]) else "train") != split:
            continue
        art_file = path / "articles" / f"{row['hash']}.json"
        if not art_file.exists():
            continue
        art = json.loads(art_file.read_text())
        lines = tuple(as_list(art.get(f"{row['model_name']}_lines")))
        if not lines:
            continue
        label = 1 if float(row["Factuality"]) >= 0.999 else 0
        kinds = tuple(e for e in _FRANK_ERRORS if float(row.get(e, 1)) < 1) if not label else ()
        yield Item(art["article"], lines, label, row["dataset"], kinds)


def load_items(dataset: str, path: Path, split: str | None = None) -> list[Item]:
    """The set's judged summaries; `CitebotError` for an unknown set or a missing path."""
    if not path.exists():
        raise CitebotError(f"{path} does not exist")
    if dataset == "summedits":
        return list(_summedits(path, split))
    if dataset == "fever":
        return list(_fever(path))
    if dataset == "frank":
        return list(_frank(path, split))
    raise CitebotError(f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)}")


def _passage(doc: str, n: int) -> NumberedPassage:
    prov = Provenance(article_id=f"doc{n}", title="", source=f"doc{n}")
    return NumberedPassage(number=1, chunk_id=f"doc{n}", provenance=prov, text=doc)


def _balanced(rows: list[tuple[int, bool]]) -> dict[str, Any]:
    pos = [kept for label, kept in rows if label == 1]
    neg = [kept for label, kept in rows if label == 0]
    rates = []
    out: dict[str, Any] = {"n": len(rows)}
    if pos:
        out["supported_kept"] = round(100 * sum(pos) / len(pos), 1)
        rates.append(out["supported_kept"])
    if neg:
        out["unsupported_kept"] = round(100 * sum(neg) / len(neg), 1)
        rates.append(100 - out["unsupported_kept"])
    out["balanced_accuracy"] = round(sum(rates) / len(rates), 1) if rates else None
    return out


def run_public_eval(
    dataset: str,
    path: Path,
    embedder: Embedder,
    verifier: ClaimVerifier | None,
    limit: int | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """Check every item's sentences against its document; balanced accuracy by group/kind."""
    items = load_items(dataset, path, split)[: limit or None]
    docs = sorted({it.doc for it in items})
    idf = KeywordIndex.of([Passage(f"d{i}", d, {}) for i, d in enumerate(docs)]).idf
    rows: list[tuple[Item, bool, str]] = []
    t0 = time.process_time()
    claims = 0
    for n, it in enumerate(items):
        draft = " ".join(f"{s} [1]" for s in it.sentences)
        checked = check(draft, [_passage(it.doc, n)], embedder, idf, verifier=verifier)
        claims += len(it.sentences)
        kept = not checked.refused and not checked.dropped
        why = checked.dropped[0].rule if checked.dropped else ""
        rows.append((it, kept, why))
    cpu = time.process_time() - t0
    by_group: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    by_kind: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    dropped_by: dict[str, int] = defaultdict(int)
    for it, kept, why in rows:
        by_group[it.group].append((it.label, kept))
        if why:
            dropped_by[why] += 1
        for kind in it.kinds or ("consistent",):
            by_kind[kind].append((it.label, kept))
    every = [(it.label, kept) for it, kept, _ in rows]
    return {
        "dataset": dataset,
        "path": str(path),
        "split": split,
        "items": len(rows),
        "checker": "rules + verifier" if verifier else "rules",
        "all": _balanced(every),
        "groups": {g: _balanced(r) for g, r in sorted(by_group.items())},
        "kinds": {k: _balanced(r) for k, r in sorted(by_kind.items())},
        "dropped_by": dict(sorted(dropped_by.items())),
        "cpu_ms_per_claim": round(1000 * cpu / max(1, claims), 1),
    }


def format_public_report(report: dict[str, Any]) -> str:
    """A table: balanced accuracy per group, kept rate per kind."""
    a = report["all"]
    lines = [
        f"{report['dataset']} ({report['path']}, {report['items']} items, {report['checker']}): "
        f"balanced accuracy {a['balanced_accuracy']}, supported kept {a.get('supported_kept')} %, "
        f"unsupported kept {a.get('unsupported_kept')} %, {report['cpu_ms_per_claim']} ms CPU "
        "per claim",
        "",
        f"{'group':24} {'n':>5} {'BA':>6} {'true kept':>10} {'false kept':>11}",
    ]
    for g, r in report["groups"].items():
        lines.append(
            f"{g:24} {r['n']:>5} {r['balanced_accuracy']!s:>6} {r.get('supported_kept', '-')!s:>10}"
            f" {r.get('unsupported_kept', '-')!s:>11}"
        )
    lines += ["", f"{'kind':24} {'n':>5} {'kept %':>7}"]
    for k, r in report["kinds"].items():
        kept = r.get("supported_kept", r.get("unsupported_kept"))
        lines.append(f"{k:24} {r['n']:>5} {kept!s:>7}")
    if report["dropped_by"]:
        lines += [
            "",
            "dropped by: " + ", ".join(f"{k} {v}" for k, v in report["dropped_by"].items()),
        ]
    return "\n".join(lines)
