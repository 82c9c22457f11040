"""The people a caption names: the registry's patients and the attendees who opted out, found in
the caption's normalised copy (`registry.normalise`), in their common forms.

Matched whole-word, case-, accent- and apostrophe-insensitive: the full name, first name +
surname, an initial + surname, "Surname, First", the surname alone, possessives, and the name
written as one word ("PriyaShah"). A surname that is a common English word ("Brown", "Hope")
counts alone only when written as a name: capitalised and not opening a sentence, or after a
title ("Mrs Brown").

The caption is read as words twice: as written, and re-joined the ways names hide: a hashtag or
mention split at its case changes ("#PriyaShah" → Priya Shah), and letters written one by one
put back together ("P r i y a  S h a h"). Scanners over the text, no regular expressions: the
work grows with the caption's length and the number of name forms, never faster.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry.normalise import normalise

TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lady", "lord"}
_OPENERS = " \t\"“‘'(["  # what may stand before the first word of a text
_ENDS = frozenset(".!?\n")  # what ends a sentence
_JOINS = " ,.-_"  # what may stand between the words of a name as written
_TAGS = "#@"  # a hashtag or a mention


@dataclass(frozen=True)
class Person:
    """Someone the caption may name: `allowed` when naming them here is covered."""

    name: str
    role: str  # patient | guardian | attendee
    allowed: bool = False
    why_not: str = ""  # e.g. "whose consent does not cover this photo on Instagram"


@dataclass(frozen=True)
class Named:
    """A person named in the normalised copy at `text[start:end]`."""

    start: int
    end: int
    person: Person


@functools.cache
def common_words() -> frozenset[str]:
    path = Path(__file__).with_name("common_words.txt")
    return frozenset(
        line.strip() for line in path.read_text().splitlines() if line and not line[0] == "#"
    )


def fold(word: str) -> str:
    """A word as names are compared: accents, case and apostrophes gone ("O’Brien" = "obrien")."""
    return normalise(word).text.casefold().replace("'", "")


@dataclass(frozen=True)
class Token:
    folded: str
    written: str
    start: int  # in the normalised copy
    end: int
    capital: bool  # written with a capital first letter
    opens_sentence: bool
    after_title: bool
    hyphenated: bool = False  # joined to another word by a hyphen ("Wei-hai")
    rejoined: bool = False  # a part of a hashtag, or letters written one by one


def _letter(char: str) -> bool:
    return char.isalpha()


def _bare(written: str) -> str:
    """A word without its possessive ("Maria's" → Maria)."""
    return written[:-2] if written[-2:].casefold() == "'s" else written.rstrip("'")


def words(text: str) -> list[Token]:
    """The words of the (normalised) text: letters, with apostrophes inside ("O'Brien") and a
    possessive kept out of the folded form ("Maria's" → maria)."""
    out: list[Token] = []
    previous_end = 0
    index, size = 0, len(text)
    while index < size:
        if not _letter(text[index]):
            index += 1
            continue
        start = index
        while index < size and (
            _letter(text[index])
            or (text[index] == "'" and index + 1 < size and _letter(text[index + 1]))
        ):
            index += 1
        end = index
        if end < size and text[end] == "'":  # "James'"
            end += 1
        bare = _bare(text[start:end])  # "Maria's": the name
        between = text[previous_end:start]
        opens = (not out and not between.strip(_OPENERS)) or any(c in _ENDS for c in between)
        out.append(
            Token(
                folded=bare.casefold().replace("'", ""),
                written=text[start:end],
                start=start,
                end=end,
                capital=bare[:1].isupper(),
                opens_sentence=opens,
                after_title=bool(out) and out[-1].folded in TITLES,
                hyphenated=(text[end : end + 1] == "-" and _letter(text[end + 1 : end + 2] or " "))
                or (text[start - 1 : start] == "-" and start >= 2 and _letter(text[start - 2])),
            )
        )
        index = max(index, end)
        previous_end = end
    return out


def _case_parts(token: Token) -> list[Token]:
    """A word split where its case changes ("PriyaShah" → Priya, Shah; "NHSTrust" → NHS,
    Trust); the word itself when it has no such change."""
    written = token.written
    cuts = [0]
    for i in range(1, len(written)):
        before, here = written[i - 1], written[i]
        after = written[i + 1] if i + 1 < len(written) else ""
        if here.isupper() and (before.islower() or (before.isupper() and after.islower())):
            cuts.append(i)
    if len(cuts) == 1:
        return [token]
    cuts.append(len(written))
    parts: list[Token] = []
    for n, (a, b) in enumerate(zip(cuts, cuts[1:], strict=False)):
        piece = written[a:b]
        parts.append(
            Token(
                folded=_bare(piece).casefold().replace("'", ""),
                written=piece,
                start=token.start + a,
                end=token.start + b,
                capital=piece[:1].isupper(),
                opens_sentence=token.opens_sentence and n == 0,
                after_title=(token.after_title if n == 0 else parts[-1].folded in TITLES),
                rejoined=True,
            )
        )
    return parts


def rejoined(text: str, tokens: Sequence[Token]) -> list[Token]:
    """The words again, as names hide in them: hashtags and mentions split at case changes,
    letters written one by one (one separator apart) joined and then split the same way."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        j = i
        while (
            j + 1 < len(tokens)
            and len(tokens[j].written) == 1
            and len(tokens[j + 1].written) == 1
            and tokens[j + 1].start - tokens[j].end == 1
        ):
            j += 1
        if j - i >= 2:  # three letters or more, one by one
            letters = "".join(t.written for t in tokens[i : j + 1])
            merged = replace(
                token,
                folded=letters.casefold(),
                written=letters,
                end=tokens[j].end,
                hyphenated=False,  # "S-h-a-h" is one word, not part of another
                rejoined=True,
            )
            out.extend(_case_parts(merged))
            i = j + 1
            continue
        if token.start >= 1 and text[token.start - 1] in _TAGS:
            out.extend(_case_parts(replace(token, rejoined=True)))
        else:
            out.append(token)
        i += 1
    return out


def _forms(name: str) -> list[tuple[tuple[str, ...], bool]]:
    """The ways a name is written: (folded words, is the surname alone)."""
    folded = normalise(name).text.casefold()
    parts: list[str] = []
    word: list[str] = []
    for char in folded + " ":
        if _letter(char):
            word.append(char)
        elif char != "'" and word:
            parts.append("".join(word))
            word = []
    words_ = [w for w in parts if w not in TITLES] or parts
    if not words_:
        return []
    if len(words_) == 1:
        return [((words_[0],), True)]
    first, last = words_[0], words_[-1]
    forms = {
        tuple(words_): False,
        (first, last): False,
        (last, first): False,  # "Gonzalez, Maria"
        (first[0], last): False,  # "M. Gonzalez"
        (last,): True,
        ("".join(words_),): False,  # one word: "#PriyaShah", "priyashah"
        (first + last,): False,
        (last + first,): False,
    }
    if len(words_) > 2:
        forms[tuple(words_[1:])] = False  # a double surname written alone ("Lopez Garcia")
    return list(forms.items())


@dataclass
class Index:
    """Name forms by their first folded word, for one pass over a caption's words."""

    forms: dict[str, list[tuple[tuple[str, ...], bool, Person]]] = field(default_factory=dict)

    @classmethod
    def of(cls, people: Iterable[Person]) -> Index:
        index = cls()
        for person in people:
            for words_, alone in _forms(person.name):
                index.forms.setdefault(words_[0], []).append((words_, alone, person))
        return index


def _counts(words_: Sequence[Token], alone: bool) -> bool:
    """Do these caption words, matching a name form, name someone (not a common word used as
    a word)?"""
    common = common_words()
    if alone:
        [word] = words_
        if word.hyphenated:
            return False  # part of another word ("Wei-hai", "Brown-ish")
        if word.folded not in common and len(word.folded) > 1:
            return True
        if word.rejoined:  # every part of "#BrownBands" is capitalised: only "#MrsBrown"
            return word.after_title
        # A common word counts as a name when written as one: capitalised mid-sentence, after
        # a title, or as a capitalised possessive ("Brown's class").
        possessive = word.written.endswith("'") or word.written[-2:].casefold() == "'s"
        return word.capital and (not word.opens_sentence or word.after_title or possessive)
    if len(words_[0].folded) == 1:  # an initial: "M. Gonzalez" only as written so
        return words_[0].capital and words_[-1].capital
    return any(w.capital or w.folded not in common for w in words_)


def _named_in(text: str, tokens: Sequence[Token], index: Index) -> list[Named]:
    found: list[Named] = []
    taken_until = -1
    for i, word in enumerate(tokens):
        if word.start < taken_until:
            continue
        best: tuple[int, Person] | None = None
        for form, alone, person in index.forms.get(word.folded, ()):
            span = tokens[i : i + len(form)]
            if len(span) < len(form) or tuple(w.folded for w in span) != form:
                continue
            if any(
                text[a.end : b.start].strip(_JOINS) for a, b in zip(span, span[1:], strict=False)
            ):
                continue  # the words of a name are next to each other
            if not _counts(span, alone):
                continue
            rank = (len(form), not person.allowed)  # the longest form; a refusal over a pass
            if best is None or rank > (best[0], not best[1].allowed):
                best = (len(form), person)
        if best is None:
            continue
        length, person = best
        span = tokens[i : i + length]
        # Everyone this form fits: named here is allowed only if every one of them may be.
        candidates = [
            p
            for form, _alone, p in index.forms.get(word.folded, ())
            if len(form) == length and tuple(w.folded for w in span) == form
        ]
        refused = [p for p in candidates if not p.allowed]
        taken_until = span[-1].end
        if refused and not any(
            p.allowed and fold(p.name) == fold(refused[0].name) and p.role == refused[0].role
            for p in candidates
        ):
            start = span[0].start
            if start >= 1 and text[start - 1] in _TAGS:
                start -= 1  # "#PriyaShah", "@Shah": the whole tag
            found.append(Named(start, span[-1].end, refused[0]))
    return found


def named(text: str, people: Iterable[Person] | Index) -> list[Named]:
    """Everyone in `people` whom the normalised caption `text` names and may not, in reading
    order, each once where named (the longest form)."""
    index = people if isinstance(people, Index) else Index.of(people)
    if not index.forms:
        return []
    tokens = words(text)
    hits = _named_in(text, tokens, index) + _named_in(text, rejoined(text, tokens), index)
    hits.sort(key=lambda n: (n.start, -n.end))
    out: list[Named] = []
    for hit in hits:
        if not out or hit.start >= out[-1].end:
            out.append(hit)
    return out
