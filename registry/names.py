"""Finding a person's name in free text, as people write it: any case, with or without accents
and apostrophes ("José O'Brien" is found in "JOSE OBRIEN'S"), whole words only ("Rose" is not
found in "Roses" or "Roseanne"), with a possessive, and in the usual partial forms.

Used where text must not identify someone: erasure scrubs a person's name from free text, and
the publish gate looks for the names of patients and opted-out attendees in a post's caption.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Every apostrophe people type (straight, curly, modifier letter, backtick, prime).
_APOSTROPHES = "'’‘ʼ`´′"
_JOIN = r"[\s\-‐‑–—.]+"  # between the words of a name: spaces, hyphens, an initial's dot


@dataclass(frozen=True)
class Found:
    """Where a name was found in the original text (`text[start:end]`)."""

    start: int
    end: int
    text: str
    # Where the name itself ends (before a possessive "'s").
    name_end: int


def _fold(char: str) -> str:
    if char in _APOSTROPHES:
        return "'"
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalise(text: str) -> tuple[str, list[int]]:
    """The text folded for matching, and for each folded character its index in `text`."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for piece in _fold(char):
            folded.append(piece)
            origin.append(index)
    return "".join(folded), origin


def words_of(name: str) -> list[str]:
    """A name's words, folded, without apostrophes: "Mary-Jane O'Neil" -> mary, jane, oneil."""
    folded, _ = normalise(name)
    return [w.replace("'", "") for w in re.split(r"[^\w']+", folded) if w.replace("'", "")]


def _word_pattern(word: str) -> str:
    # Apostrophes anywhere inside the word are optional (O'Neil, ONeil, O’Neil).
    return "'?".join(re.escape(letter) for letter in word)


@lru_cache(maxsize=4096)
def _phrase(words: tuple[str, ...]) -> re.Pattern[str]:
    body = _JOIN.join(_word_pattern(w) for w in words)
    return re.compile(rf"(?<![\w'])(?P<name>{body})(?:'s?)?(?![\w])")


def find(text: str, words: list[str] | tuple[str, ...]) -> list[Found]:
    """Every whole-word occurrence of the folded `words` (in that order) in `text`."""
    if not words or not text:
        return []
    folded, origin = normalise(text)
    found = []
    for match in _phrase(tuple(words)).finditer(folded):
        start, end = origin[match.start()], origin[match.end() - 1] + 1
        found.append(Found(start, end, text[start:end], origin[match.end("name") - 1] + 1))
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
