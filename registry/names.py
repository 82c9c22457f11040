"""Finding a person's name in free text, as people write it: any case, with or without accents
and apostrophes ("José O'Brien" is found in "JOSE OBRIEN'S"), whole words only ("Rose" is not
found in "Roses" or "Roseanne"), with a possessive, and in the usual partial forms.

The text is read in its normalised copy (`registry.normalise`: "Jo\\u200bsé", "Jos&eacute;" and a
Cyrillic "о" read as "jose"), word by word with a scanner (no regular expressions: time linear in
the text), and each occurrence is reported where it is written in the original.

Used where text must not identify someone: erasure scrubs a person's name from free text.
"""

from __future__ import annotations

from dataclasses import dataclass

from registry.normalise import normalise

# Between the words of a name: spaces, hyphens and dashes, an initial's dot.
_JOIN = frozenset(" \t\n\r\f\v-\u2013\u2014.")


@dataclass(frozen=True)
class Found:
    """Where a name was found in the original text (`text[start:end]`)."""

    start: int
    end: int
    text: str
    # Where the name itself ends (before a possessive "'s").
    name_end: int


def _word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def words_of(name: str) -> list[str]:
    """A name's words, folded, without apostrophes: "Mary-Jane O'Neil" -> mary, jane, oneil."""
    folded = normalise(name, casefold=True).text
    out: list[str] = []
    word: list[str] = []
    for char in folded + " ":
        if _word_char(char):
            word.append(char)
        elif char != "'" and word:
            out.append("".join(word))
            word = []
    return out


def _tokens(folded: str) -> list[tuple[int, int]]:
    """The runs of word characters and apostrophes in the folded text, (start, end)."""
    out = []
    index, size = 0, len(folded)
    while index < size:
        if not (_word_char(folded[index]) or folded[index] == "'"):
            index += 1
            continue
        start = index
        while index < size and (_word_char(folded[index]) or folded[index] == "'"):
            index += 1
        out.append((start, index))
    return out


def _match_word(folded: str, start: int, end: int, word: str, last: bool) -> tuple[int, int] | None:
    """Does the token `folded[start:end]` spell `word` (apostrophes inside it aside)? Returns
    (where the name ends, where the match ends): a last word may carry "'", "'s" or an
    apostrophe and more ("Maria'd") after it; any other word must be the whole token."""
    while start < end and folded[start] == "'":  # an opening quote
        start += 1
    at, letters = start, 0
    while at < end and letters < len(word):
        char = folded[at]
        if char == "'":
            if at == start or at + 1 >= end or folded[at + 1] == "'":
                return None
            at += 1
            continue
        if char != word[letters]:
            return None
        letters += 1
        at += 1
    if letters < len(word):
        return None
    rest = folded[at:end]
    if not rest:
        return at, at
    if not last or rest[0] != "'":
        return None
    if rest in ("'", "'s"):
        return at, end
    return at, at


def _starts(folded: str, token: tuple[int, int]) -> int:
    start = token[0]
    while start < token[1] and folded[start] == "'":
        start += 1
    return start


def find(text: str, words: list[str] | tuple[str, ...]) -> list[Found]:
    """Every whole-word occurrence of the folded `words` (in that order) in `text`."""
    if not words or not text:
        return []
    copy = normalise(text, casefold=True)
    folded = copy.text
    tokens = _tokens(folded)
    found = []
    i = 0
    while i + len(words) <= len(tokens):
        span = tokens[i : i + len(words)]
        ends: tuple[int, int] | None = None
        for n, (word, token) in enumerate(zip(words, span, strict=True)):
            last = n == len(words) - 1
            if n and not all(c in _JOIN for c in folded[span[n - 1][1] : token[0]]):
                ends = None
                break
            ends = _match_word(folded, token[0], token[1], word, last)
            if ends is None:
                break
        if ends is None:
            i += 1
            continue
        start, end = copy.span(_starts(folded, span[0]), ends[1])
        name_end = copy.span(_starts(folded, span[0]), ends[0])[1]
        found.append(Found(start, end, text[start:end], name_end))
        i += len(words)
    return found


def forms(name: str, *, min_letters: int = 3) -> list[tuple[str, ...]]:
    """The forms a name is written in, longest first: the whole name, first and last name, and
    each word on its own (words shorter than `min_letters` only inside a longer form)."""
    words = words_of(name)
    out: list[tuple[str, ...]] = []
    if words:
        out.append(tuple(words))
    if len(words) > 2:
        out.append((words[0], words[-1]))
    if len(words) > 1:
        out.extend((w,) for w in words if len(w) >= min_letters)
    elif words and len(words[0]) < min_letters:
        out.clear()
    return list(dict.fromkeys(out))


def scrub(
    text: str, name: str, replacement: str, *, min_letters: int = 3, partial: bool = True
) -> str:
    """`text` with every form of `name` replaced by `replacement` (longest forms first), or
    only the whole name when not `partial`."""
    chosen = forms(name, min_letters=min_letters) if partial else [tuple(words_of(name))]
    for form in chosen:
        for hit in reversed(find(text, form)):
            text = text[: hit.start] + replacement + text[hit.name_end :]
    return text
