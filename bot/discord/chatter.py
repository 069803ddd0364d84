"""Telling a question from small talk in the bot's threads, where no mention is needed.

A message there asks something when it has a question mark, when it starts (after fillers
such as "ok," or "please") with a question word or a request ("what", "is", "explain"), when it
goes on from the last answer ("and the year before"), or when it has at least
`MIN_CONTENT_WORDS` words that are neither function words nor chatter. "Thanks, that's great!",
"lol", "ok" and a row of emoji ask nothing.
"""

from __future__ import annotations

import re

MIN_CONTENT_WORDS = 3


def _words_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STARTS = _words_of(
    """what whats what's who whos who's whom whose when when's where where's why why's how hows
    how's which is isn't isnt are aren't arent was wasn't wasnt were weren't do don't dont does
    doesn't doesnt did didn't didnt can can't cant could couldn't would wouldn't will won't
    should shouldn't shall has hasn't have haven't had may might must tell explain show list give
    describe summarize summarise compare find name define quote cite clarify elaborate expand
    search look check any anything"""
)
# a follow-up that goes on from the last answer: "and the year before", "but in 2019"
_GOING_ON = _words_of("and but also or plus versus vs compared")
_FILLERS = _words_of(
    "ok okay so well oh hey hi hello um uh hmm please pls plz kindly now then right"
)
_THANKS = _words_of(
    """thanks thank thx ty tysm tyvm cheers ta appreciate appreciated great awesome perfect
    helpful useful excellent amazing brilliant fantastic nice"""
)
_CHATTER = _THANKS | _words_of(
    """ok okay k kk cool good wonderful neat sweet lovely love interesting fascinating wow whoa
    woah lol lmao rofl lmfao xd omg yes yeah yep yup no nope nah sure right alright fine true
    indeed agreed exactly makes sense got gotcha understood noted much lot lots bot answer
    answers reply hi hello hey bye goodbye welcome np fair enough ah oh hmm hm mm uh um haha
    hehe damn nice"""
)
_FUNCTION_WORDS = _words_of(
    """a an the this that that's thats these those it it's its i i'm im me my you you're your we
    our they them their he she his her to of in on at for with by from as about so very really
    just too again still even then than there here be been being am is are was were do did done
    not one all some more most much many such what's that's it'll i'll you'll we'll
    will would can could should if or and but also"""
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_MARKUP = re.compile(r"<a?:\w+:\d+>|<[@#][!&]?\d+>|https?://\S+")  # custom emoji, mentions, links
_LAUGH = re.compile(r"(?:a?h[aeiou])+h?|l+o+l+|x+d+")


def _words(text: str) -> list[str]:
    text = _MARKUP.sub(" ", text).casefold().replace("’", "'")
    # "thanksss", "lolll", "sooo": a letter held down is the same word
    return [re.sub(r"(\w)\1{2,}", r"\1", w) for w in _WORD.findall(text)]


def asks_something(text: str) -> bool:
    """Whether a message (with no mention of the bot) is a question rather than small talk."""
    if "?" in text or "？" in text:
        return True
    words = _words(text)
    content = [
        w
        for w in words
        if w not in _FUNCTION_WORDS and w not in _CHATTER and not _LAUGH.fullmatch(w)
    ]
    rest = words
    while rest and rest[0] in _FILLERS | _THANKS:
        rest = rest[1:]
    if rest and rest[0] in _STARTS:
        return True
    if rest and rest[0] in _GOING_ON and content:
        return True
    return len(content) >= MIN_CONTENT_WORDS


def thanks(text: str) -> bool:
    """Whether small talk thanks or praises (the bot acknowledges those with a 👍)."""
    return any(w in _THANKS for w in _words(text))
