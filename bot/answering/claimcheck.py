"""Rules a claim must pass against the passage it cites, after the support score.

The support score (word overlap + cosine) cannot see one changed token, so these rules look
at the tokens that carry facts. A claim found verbatim in the passage, from the start of one
of its sentences (case, white space, quote marks and the space before punctuation
normalised), passes them all. Otherwise, in order:

- **quote**: text in quotation marks in the claim is in the passage word for word;
- **number**: every number, amount, percentage, ordinal and year in the claim is in the
  passage, by value ("$240 billion" = "240 billion dollars" = "US$240bn", "6" = "six",
  "1,000" = "1000", "5%" = "5 percent"; "2022" and "16" are in "2022/06/16"); every month and
  weekday named in the claim is in the passage ("June" is in "2022/06/16" too);
- **name**: every capitalised word of the claim is in the passage; a name of several words
  must appear in one name of the passage, in order (so "Putin" or "President Putin" for
  "President Vladimir Putin", not "New York" from "New Jersey … York"); "China"/"Chinese",
  "U.S."/"United States"/"American" and the like count as one name;
- **negation**: a negation in the claim ("not", "n't", "no", "never", "no longer", "denied",
  "refused", "failed to", …) negates a word the passage negates too, and a word the best
  matching passage sentence negates is not asserted plainly by the claim;
- **roles**: where the claim has "A <verb> B" between two names and the passage has the same
  verb between the same names, A and B are not swapped (a passive "B was <verb> by A" counts
  as A acting).

Each rule is deterministic and says, when it fails, what it did not find.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from itertools import pairwise
from typing import NamedTuple

from bot.answering.text import STOPWORDS, content_terms
from index.text.sentences import sentence_spans


@dataclass(frozen=True)
class Violation:
    """Why a claim is not backed by a passage: the rule and what it did not find."""

    rule: str
    detail: str


def verbatim(claim: str, passage: str) -> bool:
    """The claim is the passage's own words, from the start of one of its sentences."""
    flat = _flat(_norm(claim))
    # a quoted claim (every claim of the extractive answerer) needs no more of the passage
    # than its flattened sentences: the full analysis waits until a rule has to read it
    flat_from = _sentences(passage)[1]
    return any(f.startswith(flat) and not f[len(flat) : len(flat) + 1].isalnum() for f in flat_from)


def violation(claim: str, passage: str) -> Violation | None:
    """The first rule the claim breaks against the passage, or None when it passes all."""
    return _first(claim, passage, (*_PASSAGE_RULES.values(), _placed, _named, _wording))


def hard_violation(claim: str, passage: str) -> Violation | None:
    """The first of the rules that are certain when they fail: a quotation the passage does
    not hold word for word, a number or a name found nowhere in it. What they cannot see
    (a true figure on the wrong subject, an antonym, a hedge made a fact) is the verifier's."""
    return _first(claim, passage, (_quotes, _numbers, _names))


def rule_findings(claim: str, passage: str) -> dict[str, bool]:
    """Which of the rules that read the whole passage the claim breaks, each on its own
    (what the verifier's head was trained to read beside the encoder)."""
    if verbatim(claim, passage):
        return dict.fromkeys(_PASSAGE_RULES, False)
    c = _norm(claim)
    p = _analyse(passage)
    return {name: rule(c, p) is not None for name, rule in _PASSAGE_RULES.items()}


def _first(
    claim: str, passage: str, rules: tuple[Callable[[str, _Analysed], Violation | None], ...]
) -> Violation | None:
    if verbatim(claim, passage):
        return None
    c = _norm(claim)
    p = _analyse(passage)
    for rule in rules:
        v = rule(c, p)
        if v is not None:
            return v
    return None


def stated_values(text: str) -> set[Decimal]:
    """The numeric values a text states, scaled ("$2.5bn" → 2500000000), bare ones too."""
    return {n.value for n in _analyse(text).numbers}


# ---------------------------------------------------------------- normalising text

_DQUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "″": '"', "«": '"', "»": '"'})
_APOS = str.maketrans({"’": "'", "‘": "'", "`": "'", "´": "'"})


_SINGLE_QUOTED = re.compile(r"(?<!\w)[‘‹]([^‘’‹›]+?)[’›](?!\w)")


def _norm(text: str) -> str:
    """One spelling of quote marks, dashes and white space; "U.S." → "US"."""
    text = text.translate(_DQUOTES).replace("–", "-").replace("—", " - ")
    # ‘…’ pairs are quotations (kept apart as ‹…›, they may sit inside a "…"); other ’ are
    # apostrophes
    text = _SINGLE_QUOTED.sub(r"‹\1›", text)
    text = text.translate(_APOS)
    text = re.sub(r"\b(?:[A-Z]\.){2,}", lambda m: m[0].replace(".", ""), text)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s+([.,;:!?])", r"\1", text)


def _flat(text: str) -> str:
    """Lower case, no quote marks or apostrophes: for verbatim comparisons."""
    return re.sub(r"\s+", " ", re.sub("[\"‹›']", "", text).lower()).strip(" .")


# ---------------------------------------------------------------- tokens

_L = r"[^\W\d_]"  # a letter, accented ones included
_TOKEN = re.compile(
    rf"US\$|[$£€¥₹%]|\d+(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|{_L}+(?:['-]{_L}+)*|[.!?;:,\"()]"
)


class _Tok(NamedTuple):  # a tuple: passages make thousands, and a dataclass is slower to make
    text: str
    start: int


def _tokens(text: str) -> list[_Tok]:
    return [_Tok(m[0], m.start()) for m in _TOKEN.finditer(text)]


# ---------------------------------------------------------------- numbers


def _split(words: str) -> list[str]:
    return words.split()


_UNITS = {
    w: i
    for i, w in enumerate(
        _split(
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
            "fifteen sixteen seventeen eighteen nineteen"
        )
    )
}
_TENS = {
    w: 10 * i
    for i, w in enumerate(_split("_ _ twenty thirty forty fifty sixty seventy eighty ninety"))
    if w != "_"
}
_ORDINALS = {
    w: i
    for i, w in enumerate(
        _split(
            "_ first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
            "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth "
            "twentieth"
        )
    )
    if w != "_"
}
_SCALES = {
    "hundred": 10**2,
    "thousand": 10**3,
    "k": 10**3,
    "million": 10**6,
    "mn": 10**6,
    "mln": 10**6,
    "m": 10**6,
    "billion": 10**9,
    "bn": 10**9,
    "b": 10**9,
    "trillion": 10**12,
    "tn": 10**12,
    "trn": 10**12,
}
# "5m" or "$5m" are amounts; "5 m" alone may be metres, so one-letter scales need a currency
_SHORT_SCALES = {"k", "m", "b"}
_CURRENCY = {"$", "US$", "£", "€", "¥", "₹"}
_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for m in names
}
_WEEKDAYS = {
    d: i
    for i, names in enumerate(
        [
            ("monday", "mon"),
            ("tuesday", "tue", "tues"),
            ("wednesday", "wed"),
            ("thursday", "thu", "thur", "thurs"),
            ("friday", "fri"),
            ("saturday", "sat"),
            ("sunday", "sun"),
        ]
    )
    for d in names
}
_NUMERIC_DATE = re.compile(
    r"\b(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})\b|\b(\d{1,2})/(\d{1,2})/\d{2,4}\b"
)


@dataclass(frozen=True)
class _Number:
    value: Decimal
    kind: str  # "" (a count or amount), "%" or "ord"
    surface: str


def _word_value(words: list[str]) -> Decimal | None:
    """ "twenty-five" → 25, "three hundred" → 300; None when the words aren't a number."""
    total, current, seen = 0, 0, False
    for w in words:
        for part in w.split("-"):
            if part in _UNITS:
                current += _UNITS[part]
            elif part in _TENS:
                current += _TENS[part]
            elif part == "hundred":
                current = max(current, 1) * 100
            elif part in ("thousand", "million", "billion", "trillion"):
                total += max(current, 1) * _SCALES[part]
                current = 0
            elif part == "dozen":
                current = max(current, 1) * 12
            else:
                return None
            seen = True
    return Decimal(total + current) if seen else None


def _is_number_word(w: str) -> bool:
    parts = w.lower().split("-")
    return all(p in _UNITS or p in _TENS or p == "dozen" for p in parts)


def _numbers_in(toks: list[_Tok]) -> list[_Number]:
    """Every number of a text by value, with its scale, percent sign or ordinal suffix."""
    out: list[_Number] = []
    toks = [part for t in toks for part in _hyphen_parts(t)]
    low = [t.text.lower() for t in toks]
    i = 0
    while i < len(toks):
        w = low[i]
        start = i
        value: Decimal | None = None
        if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", w):
            try:
                value = Decimal(w.replace(",", ""))
            except InvalidOperation:
                value = None
            i += 1
        elif _is_number_word(w) or (
            w in ("a", "one")
            and i + 1 < len(low)
            and low[i + 1] in ("hundred", "thousand", "million", "billion", "trillion", "dozen")
        ):
            j = i
            while j < len(low) and (
                _is_number_word(low[j])
                or low[j] in ("hundred", "thousand", "million", "billion", "trillion", "dozen")
                or (low[j] == "and" and j + 1 < len(low) and _is_number_word(low[j + 1]))
                or (j == i and low[j] == "a")
            ):
                j += 1
            words = [x for x in low[i:j] if x not in ("and", "a")] or ["one"]
            if words == ["one"] and low[i] == "one":
                # a lone "one" is as often a pronoun ("one of them", "no one") as a count
                i = j
                continue
            value = _word_value(words)
            i = j
            if value is None:
                continue
            # the word form already took its scale words
            out.append(_Number(value, _unit_after(low, i)[0], " ".join(low[start:i])))
            continue
        elif w in _ORDINALS:
            out.append(_Number(Decimal(_ORDINALS[w]), "ord", w))
            i += 1
            continue
        else:
            i += 1
            continue
        if value is None:
            continue
        kind = ""
        if (
            i < len(low)
            and low[i] in ("st", "nd", "rd", "th")
            and toks[i].start == toks[i - 1].start + len(toks[i - 1].text)
        ):
            kind = "ord"
            i += 1
        elif (
            i < len(low)
            and low[i] == "s"
            and toks[i].start == toks[i - 1].start + len(toks[i - 1].text)
        ):
            i += 1  # "1990s"
        currency = start > 0 and low[start - 1] in {c.lower() for c in _CURRENCY}
        if i < len(low) and low[i] in _SCALES and (currency or low[i] not in _SHORT_SCALES):
            value *= _SCALES[low[i]]
            i += 1
        unit, i = _unit_after(low, i)
        out.append(_Number(value, unit or kind, " ".join(low[start:i])))
    return out


def _hyphen_parts(t: _Tok) -> list[_Tok]:
    """ "four-day" → "four", "day": a number word inside a compound still states a number."""
    parts = t.text.split("-")
    if len(parts) == 1 or not any(_is_number_word(p) for p in parts):
        return [t]
    out, at = [], t.start
    for p in parts:
        out.append(_Tok(p, at))
        at += len(p) + 1
    return out


def _unit_after(low: list[str], i: int) -> tuple[str, int]:
    if i < len(low) and low[i] in ("%", "percent", "percentage"):
        return "%", i + 1
    if i + 1 < len(low) and low[i] == "per" and low[i + 1] == "cent":
        return "%", i + 2
    return "", i


def _dates_in(text: str, toks: list[_Tok]) -> tuple[set[int], set[int]]:
    """Months (1..12) and weekdays (0..6) a text names, numeric dates included."""
    months, days = set(), set()
    parts = [w for t in toks for w in t.text.split("-") if w]  # "mid-June"
    for k, part in enumerate(parts):
        if not part[0].isupper():
            continue
        w = part.lower()
        after = parts[k + 1] if k + 1 < len(parts) else ""
        # "Sun", "Sat", "Mar" are words too: an abbreviation counts before "." or a number
        short_ok = after == "." or after[:1].isdigit()
        if w in _MONTHS and (len(w) > 4 or w in ("may", "june", "july") or short_ok):
            months.add(_MONTHS[w])
        if w in _WEEKDAYS and (w.endswith("day") or short_ok):
            days.add(_WEEKDAYS[w])
    for m in _NUMERIC_DATE.finditer(text):
        month = m[2] or m[4]
        if month and 1 <= int(month) <= 12:
            months.add(int(month))
    return months, days


def _numbers(claim: str, p: _Analysed) -> Violation | None:
    toks = _tokens(claim)
    have: dict[Decimal, set[str]] = {}
    for n in p.numbers:
        have.setdefault(n.value, set()).add(n.kind)
    for n in _numbers_in(toks):
        kinds = have.get(n.value, set())
        if not kinds or (n.kind == "%" and "%" not in kinds):
            return Violation("number", f"'{n.surface}' is not in the passage")
    months, days = _dates_in(claim, toks)
    for m in months - p.months:
        name = next(k for k, v in _MONTHS.items() if v == m)
        return Violation("number", f"the month '{name.title()}' is not in the passage")
    for d in days - p.weekdays:
        name = next(k for k, v in _WEEKDAYS.items() if v == d)
        return Violation("number", f"the day '{name.title()}' is not in the passage")
    return None


# ---------------------------------------------------------------- names

# one key for a country and its people: "key: other forms" ("_" joins the words of a name);
# "US" covers "U.S." after _norm
_COUNTRY_FORMS = """
us: usa america american americans united_states
uk: britain british united_kingdom great_britain
england: english
china: chinese
russia: russian russians
ukraine: ukrainian ukrainians
france: french
germany: german germans
japan: japanese
india: indian indians
iran: iranian iranians
iraq: iraqi
israel: israeli israelis
italy: italian
spain: spanish
mexico: mexican
canada: canadian canadians
brazil: brazilian
australia: australian
turkey: turkish
syria: syrian
pakistan: pakistani
afghanistan: afghan
egypt: egyptian
saudi_arabia: saudi
korea: korean koreans
taiwan: taiwanese
poland: polish
greece: greek
sweden: swedish
norway: norwegian
finland: finnish
netherlands: dutch
ireland: irish
scotland: scottish
wales: welsh
europe: european europeans
africa: african
asia: asian
palestine: palestinian palestinians
cuba: cuban
venezuela: venezuelan
vietnam: vietnamese
philippines: filipino
nigeria: nigerian
kenya: kenyan
argentina: argentine argentinian
chile: chilean
peru: peruvian
colombia: colombian
belarus: belarusian
hungary: hungarian
switzerland: swiss
austria: austrian
belgium: belgian
denmark: danish
portugal: portuguese
indonesia: indonesian
thailand: thai
lebanon: lebanese
jordan: jordanian
yemen: yemeni
qatar: qatari
ethiopia: ethiopian
somalia: somali
sudan: sudanese
"""
_ALIASES = {
    form.replace("_", " "): key.replace("_", " ")
    for line in _COUNTRY_FORMS.strip().splitlines()
    for key, forms in [line.split(":")]
    for form in [key, *forms.split()]
}

# words that go before a name without being part of how the passage must spell it
_TITLES = frozenset(
    _split(
        "president prime minister secretary general gen sen senator rep representative gov "
        "governor mayor king queen prince princess pope chancellor chairman chief judge justice "
        "mr mrs ms dr prof sir lord lady dame saint st former vice deputy acting"
    )
)
_ALIAS_PHRASES = sorted((k for k in _ALIASES if " " in k), key=len, reverse=True)


def _key(word: str) -> str:
    w = word.lower()
    if w.endswith("'s"):
        w = w[:-2]
    return _ALIASES.get(w, w)


@dataclass(frozen=True)
class _Name:
    words: tuple[str, ...]  # keys, in order
    surface: str
    start: int  # token index of its first word
    end: int  # token index after its last word
    initial: bool  # starts a sentence, so its capital proves nothing


def _capitalised(word: str) -> bool:
    """A capitalised word; months and weekdays are left to the number rule."""
    return word[0].isupper() and word[-1].isalpha() and word.lower() not in _CALENDAR


_CALENDAR = frozenset(
    _split(
        "january february march april may june july august september october november "
        "december monday tuesday wednesday thursday friday saturday sunday"
    )
)
# capitalised only because they open the sentence: function words and sentence adverbs
_OPENERS = frozenset(
    _split(
        "about above across after against along amid amidst among amongst around although "
        "though however meanwhile moreover furthermore nevertheless nonetheless instead "
        "still yet also besides additionally overall indeed thus therefore hence otherwise "
        "despite following including according like unlike near nearly almost roughly "
        "approximately over under beyond within without toward towards since during while "
        "whereas whilst unless whether today tonight yesterday tomorrow now then here there "
        "several many much most some few each every both either neither another other "
        "such even just only perhaps maybe later earlier first next last finally once "
        "already soon often sometimes ago upon onto via per amid"
    )
)


def _function_word(word: str) -> bool:
    """ "The", "He", "I'm", "Can't", "Cannot": capitalised, yet no name."""
    w = re.sub(r"(?:n't|'m|'re|'ve|'ll|'d|'s)$", "", word.lower())
    return w in STOPWORDS or w in ("cannot", "ca", "wo")


def _sentence_start(toks: list[_Tok], i: int) -> bool:
    j = i - 1
    while j >= 0 and toks[j].text in ('"', "("):
        j -= 1
    if j < 0 or toks[j].text in (".", "!", "?", ":", ";"):
        return True
    # he said, "We …": a quotation starts a sentence of its own
    return j < i - 1 and toks[j].text == ","


def _names_in(text: str, toks: list[_Tok]) -> list[_Name]:
    """Runs of capitalised words; country phrases ("United States") are one word."""
    out: list[_Name] = []
    i = 0
    while i < len(toks):
        if not _capitalised(toks[i].text):
            i += 1
            continue
        j = i
        while j < len(toks) and _capitalised(toks[j].text):
            j += 1
        words = [toks[k].text for k in range(i, j)]
        lo, hi = 0, len(words)
        # "The", "In", "He": a capital that only starts a sentence or a run
        while lo < hi and (_function_word(words[lo]) or words[lo].lower() in _OPENERS):
            lo += 1
        while hi > lo and _function_word(words[hi - 1]):
            hi -= 1
        if hi > lo:
            phrase = " ".join(words[lo:hi]).lower()
            keys: list[str] = []
            for alias in _ALIAS_PHRASES:
                phrase = re.sub(rf"\b{alias}\b", alias.replace(" ", "_"), phrase)
            keys = [_ALIASES.get(w.replace("_", " "), _key(w)) for w in phrase.split()]
            out.append(
                _Name(
                    tuple(keys),
                    " ".join(words[lo:hi]),
                    i + lo,
                    i + hi,
                    initial=lo == 0 and _sentence_start(toks, i),
                )
            )
        i = j
    return out


def _names(claim: str, p: _Analysed) -> Violation | None:
    toks = _tokens(claim)
    for name in _names_in(claim, toks):
        if name.initial and len(name.words) == 1:
            # a capitalised first word may be any word: a name only when it is no function
            # word or adverb, and then it must be in the passage
            w = name.words[0]
            if w in _OPENERS or w.endswith("ly") or w in p.words or w in p.name_words:
                continue
            if set(content_terms(w)) <= p.terms:
                continue
            return Violation("name", f"'{name.surface}' is not in the passage")
        missing = [
            w for w in name.words if not _known(w, p) and not (w in _TITLES and len(name.words) > 1)
        ]
        if missing:
            return Violation("name", f"'{name.surface}' is not in the passage")
        core = tuple(w for w in name.words if w not in _TITLES) or name.words
        if len(core) > 1 and not any(_in_order(core, n) for n in p.names):
            return Violation("name", f"'{name.surface}' is not a name in the passage")
    return None


def _known(word: str, p: _Analysed) -> bool:
    """In the passage; "US-China" also when "US" and "China" are."""
    if word in p.words or word in p.name_words:
        return True
    parts = [_key(x) for x in word.split("-")]
    return len(parts) > 1 and all(x in p.words or x in p.name_words for x in parts)


def _in_order(short: tuple[str, ...], full: tuple[str, ...]) -> bool:
    it = iter(full)
    return all(w in it for w in short)


# ---------------------------------------------------------------- quotations


def quote_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of the text inside each quotation ("…", “…”, ‘…’); a double quotation cut
    by the text's edge runs to that edge (a sentence may start or end inside a quotation)."""
    text = text.translate(_DQUOTES)
    spans: list[tuple[int, int]] = []
    open_at: int | None = None
    for k, m in enumerate(re.finditer('"', text)):
        pos = m.start()
        before = text[pos - 1] if pos else " "
        after = text[pos + 1] if pos + 1 < len(text) else " "
        opening = (before.isspace() or before in "([-") and not after.isspace()
        if open_at is None and opening:
            open_at = pos + 1
        elif open_at is not None:
            spans.append((open_at, pos))
            open_at = None
        elif k == 0:  # closes a quotation that began before the text
            spans.append((0, pos))
    if open_at is not None:
        spans.append((open_at, len(text)))
    spans += [m.span(1) for m in _SINGLE_QUOTED.finditer(text)]
    return spans


def _quotes(claim: str, p: _Analysed) -> Violation | None:
    for a, b in quote_spans(claim):
        span = claim[a:b]
        for part in re.split(r"\.\.\.|…|\[[^\]]*\]", span):
            flat = _flat(part).strip(" ,;:.!?'-")
            if re.search(r"\w", flat) and flat not in p.flat:
                return Violation("quote", f'"{part.strip()}" is not in the passage word for word')
    return None


# ---------------------------------------------------------------- the backing sentences
# The rules above read the whole passage: a figure it holds anywhere passes. These read the
# sentences that back the claim (those sharing most of its content words), so a true figure
# put on the wrong subject, a word turned into its opposite, a changed bound or a hedge
# stated as fact is seen there.

_OPPOSITE_PAIRS = (
    ("earlier", "later"), ("before", "after"), ("over", "under"), ("above", "below"),
    ("rose", "fell"), ("rise", "fall"), ("rising", "falling"), ("risen", "fallen"),
    ("increased", "decreased"), ("increase", "decrease"), ("higher", "lower"),
    ("highest", "lowest"), ("gained", "lost"), ("won", "lost"), ("win", "lose"),
    ("larger", "smaller"), ("largest", "smallest"), ("biggest", "smallest"),
    ("more", "fewer"), ("most", "least"), ("first", "last"), ("up", "down"),
    ("approved", "rejected"), ("accepted", "rejected"), ("opened", "closed"),
    ("allowed", "banned"), ("strengthened", "weakened"), ("expanded", "shrank"),
    ("north", "south"), ("east", "west"), ("buy", "sell"), ("bought", "sold"),
    ("imports", "exports"), ("import", "export"), ("maximum", "minimum"),
    ("early", "late"), ("success", "failure"), ("guilty", "innocent"),
)  # fmt: skip
_OPPOSITE = {a: b for a, b in _OPPOSITE_PAIRS} | {b: a for a, b in _OPPOSITE_PAIRS}
# bounds of a figure, by what they mean: a claim's bound must be one the passage gives
_BOUNDS = {
    "at least": "min", "no fewer than": "min", "no less than": "min",
    "at most": "max", "no more than": "max", "up to": "max",
    "more than": "over", "over": "over", "above": "over", "exceeding": "over",
    "less than": "under", "fewer than": "under", "under": "under", "below": "under",
    "nearly": "about", "almost": "about", "about": "about", "around": "about",
    "roughly": "about", "approximately": "about", "some": "about",
}  # fmt: skip
_HEDGE = frozenset({
    "could", "may", "might", "likely", "unlikely", "expected", "expects", "plans", "planned",
    "proposed", "possible", "possibly", "reportedly", "allegedly", "suspected", "would",
    "considering", "hopes", "aims", "intends", "potential", "potentially",
})  # fmt: skip
_CERTAIN = frozenset({
    "will", "certain", "certainly", "definitely", "officially", "confirmed", "already", "has",
    "have", "did",
})  # fmt: skip


def _wanted(claim: str) -> set[str]:
    """The claim's content words that choose its backing: words, not the numbers checked."""
    return {t for t in _terms(_neg_words(claim)) if t[0] != "=" and not t[0].isdigit()}


def _backing(claim: str, p: _Analysed) -> list[int]:
    """The passage sentences that back the claim: the best by shared content words, and
    any other sharing at least half as many (a claim may merge two sentences)."""
    want = _wanted(claim)
    if not want or not p.sentence_words:
        return []
    scores = [len(want & set(st)) for _, st in p.sentence_words]
    best = max(scores)
    if best < 2:
        return []
    return [i for i, x in enumerate(scores) if x >= max(2, (best + 1) // 2)]


_CLAUSE = re.compile(r"[,;:]\s+|\s+(?:while|whereas|but|although)\s+")


def _backing_texts(claim: str, p: _Analysed) -> list[str]:
    """The backing sentences; for a claim of one clause, the clause of each that backs it
    ("Exports fell 12 percent while imports rose 30 percent": a claim about exports is read
    against "Exports fell 12 percent")."""
    backing = [p.sentences[i] for i in _backing(claim, p)]
    if _CLAUSE.search(claim.rstrip(".!?")):
        return backing
    want = _wanted(claim)
    out: list[str] = []
    for sentence in backing:
        clauses = [c for c in _CLAUSE.split(sentence) if c.strip()]
        scores = [len(want & set(_terms(_neg_words(c)))) for c in clauses]
        top = max(scores)
        out.extend(c for c, x in zip(clauses, scores, strict=True) if x == top)
    return out


def _in_backing(
    rule: Callable[[str, _Analysed], Violation | None], claim: str, texts: list[str]
) -> Violation | None:
    """A passage-wide rule read against the backing texts alone."""
    v = rule(claim, _analyse(" ".join(texts)))
    if v is None:
        return None
    return Violation(v.rule, v.detail.replace("the passage", "the sentences that back it"))


def _placed(claim: str, p: _Analysed) -> Violation | None:
    """Every number of the claim sits in the sentences (or the clause) that back it."""
    backing = _backing_texts(claim, p)
    if not backing or backing == list(p.sentences):
        return None
    return _in_backing(_numbers, claim, backing)


def _named(claim: str, p: _Analysed) -> Violation | None:
    """Every name of the claim sits in the sentences that back it, or in the two before the
    first of them (where "he" or "the company" of a backing sentence is named)."""
    backing = _backing(claim, p)
    if not backing or len(backing) == len(p.sentences):
        return None
    around = sorted({j for i in backing for j in (i - 2, i - 1, i) if j >= 0})
    if len(around) == len(p.sentences):
        return None
    return _in_backing(_names, claim, [p.sentences[i] for i in around])


def _bound_phrases(text: str) -> set[str]:
    """The kinds of bound the text puts on a figure ("more than 5" → "over")."""
    low = f" {re.sub(r'[^a-z0-9]+', ' ', text.lower())} "  # "$240" → " 240"
    return {kind for b, kind in _BOUNDS.items() if re.search(rf" {b} (?:us )?\d", low)}


def _wording(claim: str, p: _Analysed) -> Violation | None:
    """Opposites, bounds and hedges, read against the sentences that back the claim."""
    backing = _backing_texts(claim, p)
    if not backing:
        return None
    words = set(_neg_words(claim))
    theirs = [set(_neg_words(t)) for t in backing]
    for w in sorted(words):
        o = _OPPOSITE.get(w)
        if o and o not in words and all(o in t and w not in t for t in theirs):
            return Violation("wording", f"the claim says '{w}' where the passage says '{o}'")
    mine = _bound_phrases(claim)
    their_bounds = set().union(*(_bound_phrases(t) for t in backing))
    if mine and their_bounds and not mine & their_bounds:
        return Violation(
            "wording",
            f"the claim bounds a figure as '{min(mine)}', the passage as '{min(their_bounds)}'",
        )
    hedged = all(t & _HEDGE for t in theirs)
    # "will" where the passage says "could": a certainty the backing text does not give
    certain = {w for w in words & _CERTAIN if not any(w in t for t in theirs)}
    if hedged and not words & _HEDGE and certain:
        hedge = sorted(theirs[0] & _HEDGE)[0]
        return Violation("wording", f"the passage hedges ('{hedge}') what the claim states as fact")
    return None


# ---------------------------------------------------------------- negation

_NEG_WORDS = frozenset(
    _split(
        "not no never none nobody nothing neither nor nowhere without cannot deny denies denied "
        "denying refuse refuses refused refusing unable"
    )
)
_NEG_BEFORE_TO = frozenset({"fail", "fails", "failed", "failing"})
# how far a negation reaches, and how far back from a word one is looked for
# a cue negates the words up to 4 tokens after it, or further across function words only
_SCOPE = 4
_REACH = 8


def _neg_words(text: str) -> list[str]:
    """Lower-case words with "n't" and "cannot" spelled out as "not"."""
    text = re.sub(r"(?i)\b(ca|wo|sha)n't\b", lambda m: _SPELLED[m[1].lower()], text)
    text = re.sub(r"(?i)n't\b", " not", text)
    text = re.sub(r"(?i)\bcannot\b", "can not", text)
    return [w.lower() for w in re.findall(rf"{_L}+(?:-{_L}+)*|\d+", text)]


_SPELLED = {"ca": "can not", "wo": "will not", "sha": "shall not"}


def _is_cue(ws: list[str], i: int) -> bool:
    w = ws[i]
    if (
        w == "no"
        and i + 1 < len(ws)
        and (ws[i + 1].isdigit() or (ws[i + 1] != "one" and _is_number_word(ws[i + 1])))
    ):
        return False  # "No. 3", "the No. two chain"
    if w in _NEG_WORDS:
        return True
    return w in _NEG_BEFORE_TO and i + 1 < len(ws) and ws[i + 1] == "to"


@lru_cache(maxsize=65536)
def _stem(w: str) -> str:
    t = content_terms(w)
    return t[0] if t else ""


@dataclass(frozen=True)
class _Negation:
    scope: str  # the stem of the first content word the negation governs
    anchor: str  # the stem of the content word before it ("" at the sentence's start)


def _terms(ws: list[str]) -> list[str]:
    """Stems of content words; function words (and cues) as "=word"."""
    return [_stem(w) or f"={w}" for w in ws]


def _negations(ws: list[str], terms: list[str]) -> list[_Negation]:
    out = []
    for i in range(len(ws)):
        if not _is_cue(ws, i):
            continue
        first = i + 1
        if ws[i] in _NEG_BEFORE_TO or (ws[i] == "no" and ws[i + 1 : i + 2] == ["longer"]):
            first = i + 2  # "failed to", "no longer" are one cue
        after = [k for k in range(first, min(len(ws), first + _REACH)) if not _is_cue(ws, k)]
        # the first content word it governs; "aren't over." governs a function word
        scope = next((terms[k] for k in after if terms[k][0] != "="), "")
        scope = scope or (terms[after[0]] if after else "")
        before = range(i - 1, max(-1, i - 1 - _SCOPE), -1)
        anchor = next((terms[k] for k in before if terms[k][0] != "="), "")
        if scope:
            out.append(_Negation(scope, anchor))
        if terms[i][0] != "=":  # "denied", "refused": "not denied" negates the cue itself
            out.append(_Negation(terms[i], anchor))
    return out


def _polarities(ws: list[str], terms: list[str], scope: str) -> list[bool]:
    """For each occurrence of `scope`, in order: is it negated (an odd number of cues reaching
    it)? "neither … nor" is one cue; "not … not" cancel out."""
    out = []
    for i, t in enumerate(terms):
        if t != scope:
            continue
        cues = [
            ws[k]
            for k in range(max(0, i - _REACH), i)
            if _is_cue(ws, k)
            and (i - k <= _SCOPE or all(terms[j][0] == "=" for j in range(k + 1, i)))
        ]
        n = len(cues) - ("neither" in cues and "nor" in cues)
        out.append(n % 2 == 1)
    return out


def _negation(claim: str, p: _Analysed) -> Violation | None:
    ws = _neg_words(claim)
    terms = _terms(ws)
    best = p.best_sentence(terms)
    best_ws, best_st = p.sentence_words[best] if best is not None else ([], [])
    claimed = {n.scope: n for n in _negations(ws, terms)}
    given = {n.scope: n for n in _negations(best_ws, best_st)}
    for scope in [*claimed, *(s for s in given if s not in claimed)]:
        mine = _polarities(ws, terms, scope)
        theirs = _polarities(best_ws, best_st, scope)
        if len(mine) == len(theirs):  # the same word as often: compare each in turn
            pairs = list(zip(mine, theirs, strict=True))
            inserted = any(m and not t for m, t in pairs)
            removed = any(t and not m for m, t in pairs)
        else:
            inserted = True in mine and True not in theirs
            removed = True in theirs and True not in mine and bool(mine)
        if inserted and not theirs and scope in claimed:
            # the best sentence lacks the word: another sentence may negate it
            anchor = claimed[scope].anchor
            inserted = not any(
                True in _polarities(s_ws, s_st, scope) and (not anchor or anchor in s_st)
                for s_ws, s_st in p.sentence_words
            )
        if removed and scope in given and given[scope].anchor not in ("", *terms):
            removed = False  # the negated clause is not the one the claim restates
        if inserted:
            word = _surface(ws, terms, scope)
            return Violation("negation", f"the claim negates '{word}'; the passage does not")
        if removed:
            word = _surface(best_ws, best_st, scope)
            return Violation("negation", f"the passage negates '{word}'; the claim does not")
    return None


def _surface(ws: list[str], terms: list[str], term: str) -> str:
    return next((w for w, t in zip(ws, terms, strict=True) if t == term), term.lstrip("="))


# ---------------------------------------------------------------- roles

# verbs and words whose two sides may be swapped without changing the fact
SYMMETRIC = frozenset(
    _split(
        "and or with met meet meets meeting spoke speak speaks talked talk talks married marry "
        "marries versus vs against played play plays faced face faces beat tied drew joined "
        "between near like unlike plus"
    )
)
_GAP = 4


@dataclass(frozen=True)
class _Relation:
    agent: str
    verb: str  # stemmed
    patient: str
    word: str = field(default="", compare=False)  # the verb as written, for the message


def _relations(text: str) -> list[_Relation]:
    """(A, verb, B) for each lower-case word between two nearby names A … B in one clause."""
    toks = _tokens(text)
    names = _names_in(text, toks)
    out: list[_Relation] = []
    for a, b in pairwise(names):
        between = [t.text for t in toks[a.end : b.start]]
        if (
            not between
            or len(between) > _GAP * 2
            or any(t in (",", ";", ".", ":", '"', "(", ")", "!", "?") for t in between)
        ):
            continue
        low = [w.lower() for w in between]
        if any(w in SYMMETRIC for w in low):
            continue
        passive = "by" in low
        for k, w in enumerate(low):
            if not w.isalpha() or w in STOPWORDS or w == "by" or not between[k][0].islower():
                continue
            agent, patient = (b, a) if passive and low.index("by") > k else (a, b)
            out.append(_Relation(agent.words[-1], _stem(w), patient.words[-1], w))
    return out


def _roles(claim: str, p: _Analysed) -> Violation | None:
    for r in _relations(claim):
        if r.agent == r.patient or not r.verb:
            continue
        reverse = _Relation(r.patient, r.verb, r.agent)
        if reverse in p.relations and r not in p.relations:
            return Violation(
                "roles",
                f"the passage has {r.patient.title()} acting on {r.agent.title()} "
                f"('{r.word}'), the claim the other way round",
            )
    return None


# ---------------------------------------------------------------- the passage, analysed once


@dataclass(frozen=True)
class _Analysed:
    flat: str
    flat_from: list[str]  # the passage from each sentence on, flattened
    numbers: list[_Number]
    months: set[int]
    weekdays: set[int]
    words: frozenset[str]
    terms: frozenset[str]
    names: list[tuple[str, ...]]
    name_words: frozenset[str]
    sentence_words: list[tuple[list[str], list[str]]]
    relations: set[_Relation]
    sentences: tuple[str, ...] = ()

    def best_sentence(self, stems: list[str]) -> int | None:
        """The sentence that shares most content words with the claim."""
        want = {s for s in stems if s[0] != "="}
        if not want or not self.sentence_words:
            return None
        scores = [len(want & set(st)) for _, st in self.sentence_words]
        best = max(range(len(scores)), key=lambda k: scores[k])
        return best if scores[best] else None


# the rules that read the whole passage, in the order they are tried
_PASSAGE_RULES: dict[str, Callable[[str, _Analysed], Violation | None]] = {
    "quote": _quotes, "number": _numbers, "name": _names, "negation": _negation,
    "roles": _roles,
}  # fmt: skip


# keyed by the text: passages recur across questions, and a rebuild's changed one is a new key
@lru_cache(maxsize=1024)
def _sentences(passage: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The passage's sentences normalised, and the passage from each sentence on, flattened."""
    sentences = tuple(_norm(passage[s:e]) for s, e in sentence_spans(passage))
    flats = [re.sub(r"\s+", " ", re.sub("[\"‹›']", "", x).lower()) for x in sentences]
    return sentences, tuple(" ".join(flats[i:]) for i in range(len(flats)))


# tens of kB each; quoted claims (the extractive answerer's) never need one
@lru_cache(maxsize=256)
def _analyse(passage: str) -> _Analysed:
    text = _norm(passage)
    toks = _tokens(text)
    numbers = _numbers_in(toks)
    # a bare "240" in a claim may stand for "$240 billion"'s mantissa: keep both values
    numbers += [
        _Number(Decimal(t.text.replace(",", "")), "", t.text)
        for t in toks
        if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", t.text)
    ]
    months, days = _dates_in(text, toks)
    names = _names_in(text, toks)
    sentences, flat_from = _sentences(passage)
    sentence_words = []
    for s in sentences:
        ws = _neg_words(s)
        sentence_words.append((ws, _terms(ws)))
    relations: set[_Relation] = set()
    for s in sentences:
        relations.update(_relations(s))
    return _Analysed(
        flat=_flat(text),
        flat_from=list(flat_from),
        numbers=numbers,
        months=months,
        weekdays=days,
        # "US-China" gives "us" and "china" too
        words=frozenset(
            _key(w) for t in toks if t.text[0].isalpha() for w in {t.text, *t.text.split("-")}
        ),
        terms=frozenset(content_terms(text)),
        names=[n.words for n in names],
        name_words=frozenset(w for n in names for w in n.words),
        sentence_words=sentence_words,
        relations=relations,
        sentences=sentences,
    )
