"""A normalised copy of text a person wrote, for matching, with a map back to the original.

What reads the same to a person matches the same: HTML entities are decoded ("Sh&#97;h"),
compatibility forms folded (NFKC: fullwidth "＠", "ＬＳ１", ligatures, superscripts), invisible
format characters removed (zero-width space and joiner, soft hyphen, direction marks), combining
marks folded into their letter ("Sha\\u0301h"), letters of other scripts that look like Latin ones
mapped to them (a skeleton in the sense of Unicode TS #39, for the Cyrillic, Greek, Armenian and
Cherokee look-alikes of Latin letters), every decimal digit written as 0-9, every space as " ",
every apostrophe as "'", every hyphen as "-". Each character of the copy knows the range of the
original it came from, so a finding in the copy is reported where it is written.

One pass over the text, a fixed amount of work per character: linear time.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from html.entities import html5

APOSTROPHES = frozenset("'\u2019\u2018\u02bc`\u00b4\u2032\uff07")
_HYPHENS = frozenset("\u2010\u2011\u2012\u2043\u2212\ufe63\uff0d")
# Default-ignorable characters outside the format (Cf) and mark categories: they show nothing.
_FILLERS = frozenset("\u115f\u1160\u3164\uffa0\u180e")
_BLANKS = frozenset("\u2800")  # braille blank: shows as a space

# Look-alikes of Latin letters (Unicode's confusables.txt, the Latin/Cyrillic/Greek/Armenian/
# Cherokee pairs that read as the same letter), mapped to the Latin letter they pass for.
_SKELETON = {
    # Cyrillic
    "\u0430": "a", "\u0410": "A", "\u0412": "B", "\u0435": "e", "\u0415": "E", "\u041a": "K",
    "\u041c": "M", "\u041d": "H", "\u043e": "o", "\u041e": "O", "\u0440": "p", "\u0420": "P",
    "\u0441": "c", "\u0421": "C", "\u0422": "T", "\u0443": "y", "\u0423": "Y", "\u0445": "x",
    "\u0425": "X", "\u0455": "s", "\u0405": "S", "\u0456": "i", "\u0406": "I", "\u0458": "j",
    "\u0408": "J", "\u0501": "d", "\u051b": "q", "\u051a": "Q", "\u051d": "w", "\u051c": "W",
    "\u04bb": "h", "\u04ba": "H", "\u04cf": "l", "\u04c0": "I", "\u04af": "y", "\u04ae": "Y",
    "\u0475": "v", "\u0474": "V", "\u0261": "g",
    # Greek
    "\u03b1": "a", "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H",
    "\u03b9": "i", "\u0399": "I", "\u03ba": "k", "\u039a": "K", "\u039c": "M", "\u03bd": "v",
    "\u039d": "N", "\u03bf": "o", "\u039f": "O", "\u03c1": "p", "\u03a1": "P", "\u03a4": "T",
    "\u03c5": "u", "\u03a5": "Y", "\u03c7": "x", "\u03a7": "X", "\u03b3": "y", "\u03f2": "c",
    "\u03f9": "C", "\u03f3": "j", "\u037f": "J", "\u03b7": "n",
    # Armenian
    "\u0585": "o", "\u0578": "n", "\u057d": "u", "\u0570": "h", "\u0581": "g", "\u0566": "q",
    # Latin letters that pass for others
    "\u0251": "a", "\u0131": "i", "\u0237": "j", "\u0269": "i", "\u1d04": "c", "\u1d0f": "o",
    "\u1d1c": "u", "\u1d20": "v", "\u1d21": "w", "\u1d22": "z", "\ua731": "s",
    # Cherokee capitals
    "\u13aa": "A", "\u13f4": "B", "\u13df": "C", "\u13ac": "E", "\u13c0": "G", "\u13bb": "H",
    "\u13ab": "J", "\u13e6": "K", "\u13de": "L", "\u13b7": "M", "\u13e2": "P", "\u13da": "S",
    "\u13a2": "T", "\u13d9": "V", "\u13b3": "W", "\u13c3": "Z",
}  # fmt: skip
_ENTITY_NAME = 32  # the longest HTML entity name is 31 characters
_LEGACY = frozenset(name for name in html5 if not name.endswith(";"))  # "&amp", "&eacute"


@dataclass(frozen=True)
class Normalised:
    """The normalised copy of `original`: `text[i]` came from `original[starts[i]:ends[i]]`."""

    text: str
    original: str
    starts: Sequence[int]
    ends: Sequence[int]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The range of the original that the copy's `text[start:end]` came from."""
        if end <= start:
            at = self.starts[start] if start < len(self.text) else len(self.original)
            return at, at
        return self.starts[start], self.ends[end - 1]

    def written(self, start: int, end: int) -> str:
        """The original text behind the copy's `text[start:end]`."""
        a, b = self.span(start, end)
        return self.original[a:b]


def _entity(text: str, at: int) -> tuple[str, int] | None:
    """The character(s) an HTML entity at `text[at] == "&"` stands for, and where it ends."""
    end = at + 1
    if text.startswith("#", end):
        end += 1
        hexadecimal = text.startswith(("x", "X"), end)
        end += hexadecimal
        digits = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        first = end
        while end < len(text) and end - first < 8 and text[end] in digits:
            end += 1
        if end == first:
            return None
        end += text.startswith(";", end)
        return html.unescape(text[at:end]), end
    while (
        end < len(text) and end - at <= _ENTITY_NAME and text[end].isascii() and text[end].isalnum()
    ):
        end += 1
    name = text[at + 1 : end]
    if not name:
        return None
    if text.startswith(";", end) and f"{name};" in html5:
        return html5[f"{name};"], end + 1
    for cut in range(len(name), 1, -1):  # "&eacutes": the longest legacy name that fits
        if name[:cut] in _LEGACY:
            return html5[name[:cut]], at + 1 + cut
    return None


def normalise(text: str, *, casefold: bool = False) -> Normalised:
    """The normalised copy of `text` (module docstring), case-folded when `casefold`."""
    if text.isascii() and "&" not in text and "`" not in text:
        copy = text.lower() if casefold else text
        return Normalised(copy, text, range(len(text)), range(1, len(text) + 1))
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def emit(char: str, start: int, end: int) -> None:
        for piece in unicodedata.normalize("NFKD", char) if not char.isascii() else char:
            for folded in piece.casefold() if casefold else piece:
                mapped = _mapped(folded)
                if mapped is None:
                    continue
                out.append(mapped)
                starts.append(start)
                ends.append(end)

    index = 0
    while index < len(text):
        char = text[index]
        if char == "&":
            decoded = _entity(text, index)
            if decoded is not None:
                for piece in decoded[0]:
                    if _visible(piece):
                        emit(piece, index, decoded[1])
                index = decoded[1]
                continue
        if char in APOSTROPHES:
            out.append("'")
            starts.append(index)
            ends.append(index + 1)
        elif char.isascii():
            out.append(char.lower() if casefold else char)
            starts.append(index)
            ends.append(index + 1)
        elif _is_mark(char):
            if ends and ends[-1] == index:  # the mark belongs to the letter before it
                ends[-1] = index + 1
        elif _visible(char):
            emit(char, index, index + 1)
        index += 1
    return Normalised("".join(out), text, starts, ends)


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in ("Mn", "Me")


def _visible(char: str) -> bool:
    return unicodedata.category(char) != "Cf" and char not in _FILLERS


def _mapped(char: str) -> str | None:
    """One character of an NFKD decomposition as the copy writes it (None: not written)."""
    if char in APOSTROPHES:
        return "'"
    if char.isascii():
        return char
    if char in _HYPHENS:
        return "-"
    if char in _BLANKS:
        return " "
    category = unicodedata.category(char)
    if category in ("Mn", "Me", "Cf") or char in _FILLERS:
        return None
    if category == "Cs":  # half of a pair, alone: no character at all (and no UTF-8)
        return "\ufffd"
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if category == "Zs":
        return " "
    if category in ("Zl", "Zp"):
        return "\n"
    return _SKELETON.get(char, char)
