"""The claim verifier's training and dev pairs: public sets plus contrastive pairs we make.

Every pair is (passage, claim, label, source, kind, split); label 1 = the passage supports
the claim. Sources and licences: training/DATA.md. Nothing here reads ../shared/eval.
Splits are by document (a document's pairs are all train or all dev), seeded and stable.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.evaluation.public_claims import as_list, dev_document
from index.text.sentences import split_sentences


@dataclass(frozen=True)
class Pair:
    passage: str
    claim: str
    label: int
    source: str
    kind: str
    split: str  # "train" or "dev"


# --- public sets ---------------------------------------------------------------------------


def summedits(folder: Path) -> Iterator[Pair]:
    """SummEdits' 7 non-news domains, a pair per summary sentence.

    An inconsistent summary is a minimal edit of a verified one (`original_summary`): its
    sentences that differ from the original's are the unsupported claims, the rest are
    supported. Its own `evaluation` split is our dev, its `test` split our training data.
    """
    for file in sorted(folder.glob("summedits_*.json")):
        domain = file.stem.removeprefix("summedits_")
        for row in json.loads(file.read_text()):
            split = "dev" if row.get("split") == "evaluation" else "train"
            doc, label = row["doc"], int(row["label"])
            original = set(split_sentences(row.get("original_summary") or ""))
            edits = as_list(row.get("edit_types")) or ["paraphrase"]
            for sentence in split_sentences(row["summary"]):
                if label == 1 or sentence in original:
                    yield Pair(doc, sentence, 1, f"summedits-{domain}", "consistent", split)
                else:
                    yield Pair(doc, sentence, 0, f"summedits-{domain}", "+".join(edits), split)


def fever(folder: Path) -> Iterator[Pair]:
    """FEVER-Symmetric: its dev half trains, its test half is our dev."""
    for name, split in (
        ("fever_symmetric_dev.jsonl", "train"),
        ("fever_symmetric_test.jsonl", "dev"),
    ):
        for line in (folder / name).read_text().splitlines():
            row = json.loads(line)
            label = 1 if row["label"] == "SUPPORTS" else 0
            yield Pair(row["evidence"], row["claim"], label, "fever", row["label"].lower(), split)


def frank_articles(folder: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted((folder / "articles").glob("*.json"))}


def frank(folder: Path, articles: dict[str, dict]) -> Iterator[Pair]:
    """FRANK's human-judged news summaries, a pair per summary sentence where the judgement
    says which: every sentence of a summary judged fully factual is supported; the one
    sentence of a one-sentence summary judged not factual is not."""
    for row in json.loads((folder / "human_annotations.json").read_text()):
        art = articles.get(row["hash"])
        if art is None:
            continue
        lines = as_list(art.get(f"{row['model_name']}_lines"))
        score = float(row["Factuality"])
        split = "dev" if dev_document(row["hash"]) else "train"
        if score >= 0.999:
            for line in lines:
                yield Pair(art["article"], line, 1, f"frank-{row['dataset']}", "factual", split)
        elif len(lines) == 1 and score <= 0.001:
            yield Pair(art["article"], lines[0], 0, f"frank-{row['dataset']}", "error", split)


# --- contrastive pairs made from news sentences ---------------------------------------------

_ANTONYMS = [
    ("earlier", "later"), ("before", "after"), ("over", "under"), ("rose", "fell"),
    ("increased", "decreased"), ("increase", "decrease"), ("higher", "lower"), ("won", "lost"),
    ("above", "below"), ("first", "last"), ("gained", "lost"), ("accepted", "rejected"),
    ("approved", "rejected"), ("strong", "weak"), ("larger", "smaller"), ("largest", "smallest"),
    ("biggest", "smallest"), ("up", "down"), ("rise", "fall"), ("rising", "falling"),
    ("expanded", "shrank"), ("opened", "closed"), ("began", "ended"), ("start", "end"),
    ("support", "oppose"), ("supported", "opposed"), ("allowed", "banned"), ("early", "late"),
    ("north", "south"), ("east", "west"), ("easier", "harder"), ("cheaper", "dearer"),
    ("more", "fewer"), ("most", "least"), ("best", "worst"), ("better", "worse"),
    ("entered", "left"), ("arrived", "departed"), ("buy", "sell"), ("bought", "sold"),
    ("young", "old"), ("guilty", "innocent"), ("success", "failure"), ("positive", "negative"),
]  # fmt: skip
_COMPARATIVES = [
    ("at least", "at most"), ("more than", "less than"), ("more than", "fewer than"),
    ("over", "under"), ("up to", "at least"), ("nearly", "more than"), ("almost", "over"),
    ("exceeded", "fell short of"), ("above", "below"),
]  # fmt: skip
_MODALITY = [
    ("could", "will"), ("may", "will"), ("might", "will"), ("is likely to", "is certain to"),
    ("are likely to", "are certain to"), ("is expected to", "has"), ("plans to", "has"),
    ("would", "did"), ("is considering", "has decided"), ("proposed", "passed"),
    ("possible", "confirmed"), ("allegedly", "definitely"), ("suspected", "convicted"),
    ("hopes to", "will"), ("aims to", "will"),
]  # fmt: skip
_AUX = re.compile(r"\b(is|was|are|were|has|had|have|will|can|could|would|did|does|do)\b")
_NEG = re.compile(r"\b(is|was|are|were|has|had|have|will|can|could|would|did|does|do) not\b|n't\b")
_NUMBER = re.compile(r"(?<![\w.])\$?\d[\d,]*(?:\.\d+)?%?(?![\w])")
_NAME = re.compile(r"(?<=[a-z,;] )(?:[A-Z][a-z]+(?: [A-Z][a-z]+)*)")
_SAID = re.compile(r"^(?P<body>.+?),\s*(?P<who>[A-Z][\w.]*(?: [A-Z][\w.]*)*) (?:said|says)\.$")
_LEAD = re.compile(
    r"^(?P<lead>(?:On|In|At|By|After|Before|During|Last|This) [^,]{2,40}),\s+(?P<rest>.+)$"
)
_CLAUSE = re.compile(r",\s+(?:which|who|while|although|as|after|before|with|including)\b[^,]*[,.]")
_WORDNUM = {
    "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven", "8": "eight",
    "9": "nine", "10": "ten", "12": "twelve", "20": "twenty",
}  # fmt: skip


def _swap_word(s: str, pairs: list[tuple[str, str]], rng: random.Random) -> str | None:
    """s with one listed word or phrase replaced by its partner (either direction)."""
    options = []
    for a, b in pairs:
        for x, y in ((a, b), (b, a)):
            for m in re.finditer(rf"\b{re.escape(x)}\b", s):
                options.append((m.start(), m.end(), y))
    if not options:
        return None
    start, end, y = rng.choice(options)
    return s[:start] + y + s[end:]


def _negate(s: str, rng: random.Random) -> str | None:
    m = _NEG.search(s)
    if m:  # remove a negation
        return s[: m.start()] + (m.group(1) or "") + s[m.end() :] if m.group(1) else None
    ms = list(_AUX.finditer(s))
    if not ms:
        return None
    m = rng.choice(ms)
    return s[: m.end()] + " not" + s[m.end() :]


def _other(rng: random.Random, pool: list[str], own: set[str]) -> str | None:
    rest = [x for x in pool if x not in own]
    return rng.choice(rest) if rest else None


def _replace_one(s: str, pattern: re.Pattern, new: str, rng: random.Random) -> str:
    ms = list(pattern.finditer(s))
    m = rng.choice(ms)
    return s[: m.start()] + new + s[m.end() :]


def supported_variants(s: str, nxt: str | None, rng: random.Random) -> list[tuple[str, str]]:
    """Ways to say what s says (kind, claim): attribution, compression, moved clauses,
    number formats, and a merge with the next sentence."""
    out = []
    m = _SAID.match(s)
    if m:
        out.append(("attribution", f"According to {m['who']}, {m['body']}."))
        out.append(("trimmed", m["body"].rstrip(".") + "."))
    m = _LEAD.match(s)
    if m:
        rest = m["rest"].rstrip(".")
        out.append(
            ("moved-clause", f"{rest[0].upper()}{rest[1:]} {m['lead'][0].lower()}{m['lead'][1:]}.")
        )
    c = _CLAUSE.search(s)
    if c:
        out.append(
            (
                "trimmed",
                (s[: c.start()] + ("." if c.group(0).endswith(".") else s[c.end() - 1 :])).strip(),
            )
        )
    for num, word in _WORDNUM.items():
        if re.search(rf"\b{word}\b", s):
            out.append(("number-format", re.sub(rf"\b{word}\b", num, s, count=1)))
            break
    if re.search(r"\d+ per ?cent\b", s):
        out.append(("number-format", re.sub(r"(\d+) per ?cent\b", r"\1%", s, count=1)))
    if nxt and len(s) + len(nxt) < 300 and s.endswith("."):
        merged = s[:-1] + ", and " + (nxt[0].lower() + nxt[1:] if not nxt[:2].isupper() else nxt)
        out.append(("merge", merged))
    return out


def unsupported_variants(
    s: str, window: list[str], pool_names: list[str], rng: random.Random
) -> list[tuple[str, str]]:
    """Minimal edits that make s unsupported by its passage (kind, claim)."""
    out = []
    others = " ".join(x for x in window if x != s)
    nums = _NUMBER.findall(s)
    other_nums = [n for n in _NUMBER.findall(others) if n not in nums]
    if nums and other_nums:  # a value moved from a neighbouring sentence
        out.append(("number-from-neighbour", _replace_one(s, _NUMBER, rng.choice(other_nums), rng)))
    elif nums:
        n = rng.choice(nums)
        digits = re.sub(r"[^\d]", "", n)
        if digits:
            new = n.replace(digits[-1], str((int(digits[-1]) + rng.randint(1, 8)) % 10), 1)
            if new != n:
                out.append(("number-changed", s.replace(n, new, 1)))
    names = _NAME.findall(s)
    other_names = [n for n in _NAME.findall(others) if n not in names and n not in s]
    if names and other_names:  # a name moved from a neighbouring sentence
        out.append(("name-from-neighbour", _replace_one(s, _NAME, rng.choice(other_names), rng)))
    elif names:
        new = _other(rng, pool_names, set(names))
        if new:
            out.append(("entity-swap", _replace_one(s, _NAME, new, rng)))
    if len(set(names)) >= 2:  # roles: two names swapped
        a, b = rng.sample(sorted(set(names)), 2)
        if a not in b and b not in a:
            out.append(("roles", s.replace(a, "\0").replace(b, a).replace("\0", b)))
    for kind, pairs in (
        ("antonym", _ANTONYMS),
        ("comparative", _COMPARATIVES),
        ("modality", _MODALITY),
    ):
        v = _swap_word(s, pairs, rng)
        if v and v != s:
            out.append((kind, v))
    v = _negate(s, rng)
    if v and v != s:
        out.append(("negation", v))
    if s.endswith(".") and pool_names:
        extra = rng.choice(
            [
                f" in {rng.randint(1995, 2021)}",
                f", {rng.choice(pool_names)} said",
                f" after {rng.randint(3, 90)} days of talks",
                f" for ${rng.randint(2, 900)} million",
                f", according to {rng.choice(pool_names)}",
            ]
        )
        out.append(("inserted-fact", s[:-1] + extra + "."))
    return out


def contrastive(articles: dict[str, dict], seed: int, per_sentence: int = 1) -> Iterator[Pair]:
    """Pairs made from the sentences of news articles: for a sentence, its passage is the
    window of up to 5 sentences around it; one supported and one unsupported variant (the
    kinds drawn at random), and now and then the sentence verbatim or an unrelated claim."""
    rng = random.Random(seed)
    names_pool: list[str] = []
    texts = []
    for key, art in sorted(articles.items()):
        sents = [x.strip() for x in split_sentences(art["article"]) if 40 <= len(x.strip()) <= 320]
        texts.append((key, sents))
        for x in sents:
            names_pool.extend(_NAME.findall(x))
    names_pool = sorted(set(names_pool))
    all_sents = [x for _, ss in texts for x in ss]
    for key, sents in texts:
        split = "dev" if dev_document(key) else "train"
        for i, s in enumerate(sents):
            lo = max(0, i - rng.randint(1, 3))
            window = sents[lo : lo + 5]
            passage = " ".join(window)
            nxt = sents[i + 1] if i + 1 < len(sents) and sents[i + 1] in window else None
            good = supported_variants(s, nxt, rng)
            bad = unsupported_variants(s, window, names_pool, rng)
            for kind, claim in rng.sample(good, min(per_sentence, len(good))):
                yield Pair(passage, claim, 1, "generated", kind, split)
            for kind, claim in rng.sample(bad, min(per_sentence, len(bad))):
                yield Pair(passage, claim, 0, "generated", kind, split)
            r = rng.random()
            if r < 0.12:
                yield Pair(passage, s, 1, "generated", "verbatim", split)
            elif r < 0.18:
                yield Pair(passage, rng.choice(all_sents), 0, "generated", "unrelated", split)


def all_pairs(factcheck: Path, seed: int) -> list[Pair]:
    """Every pair of every source, in a stable order."""
    articles = frank_articles(factcheck / "frank")
    pairs = list(summedits(factcheck / "summedits"))
    pairs += fever(factcheck / "fever_symmetric")
    pairs += frank(factcheck / "frank", articles)
    pairs += contrastive(articles, seed)
    return [p for p in pairs if p.claim.strip() and p.passage.strip()]
