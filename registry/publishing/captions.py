"""What a post's text says about people: the caption's part of the publish gate (pure).

The guidance: a patient must not be identified "either through your post or in combination with
details posted elsewhere" without express consent. A caption (the post's text and alt text) is
checked for

- **people**: the registry's patients (subject and guardian names) and the attendees who opted
  out of the media's event, matched whole-word, case-, accent- and apostrophe-insensitive, in
  their common forms (the full name, first name + surname, an initial + surname, "Surname,
  First", the surname alone, possessives). A surname that is a common English word ("Brown",
  "Hope") counts alone only when written as a name: capitalised and not opening a sentence, or
  after a title ("Mrs Brown"). The caller says who may be named here (a granted consent covering
  this media on this channel);
- **identifiers**, refused on every channel (a consent covers being shown, not a record number):
  NHS numbers (modulus 11), CHI numbers (a date of birth and modulus 11), hospital numbers (a
  configurable pattern), dates of birth written as such, full UK postcodes, phone numbers
  (Google's libphonenumber) and email addresses other than the organisation's own.

Each finding says what was found and where (1-based character positions).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import phonenumbers

MAX_CAPTION = 5000
TITLES = {"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lady", "lord"}
APOSTROPHES = "'\u2019\u2018\u02bc\u0060\u00b4"


@dataclass(frozen=True)
class Person:
    """Someone the caption may name: `allowed` when naming them here is covered."""

    name: str
    role: str  # patient | guardian | attendee
    allowed: bool = False
    why_not: str = ""  # e.g. "whose consent does not cover this photo on Instagram"


@dataclass(frozen=True)
class Own:
    """The organisation's own contact details: not a finding when they appear."""

    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()  # E.164
    postcodes: frozenset[str] = frozenset()  # normalised: no space, upper case


@dataclass(frozen=True)
class Finding:
    kind: str  # person | nhs_number | chi_number | hospital_number | date_of_birth | postcode | ...
    text: str  # as written in the caption
    start: int  # 0-based, end exclusive
    end: int
    person: Person | None = None

    @property
    def where(self) -> str:
        if self.end - self.start <= 1:
            return f"character {self.start + 1}"
        return f"characters {self.start + 1}–{self.end}"

    def reason(self) -> str:
        if self.person is not None:
            who = {
                "patient": "a patient in the registry",
                "guardian": "someone who decides for a patient in the registry",
                "attendee": "an attendee who opted out of photography at this event",
            }.get(self.person.role, "someone in the registry")
            why = f" {self.person.why_not}" if self.person.why_not else ""
            return (
                f"The caption names {self.person.name} (“{self.text}”, {self.where}), {who}"
                f"{why}: remove the name, or post it without identifying them."
            )
        words = IDENTIFIERS[self.kind]
        return (
            f"The caption contains {words} (“{self.text}”, {self.where}): identifiers like "
            "this are never published, on any channel, whatever the consent."
        )


IDENTIFIERS = {
    "nhs_number": "an NHS number",
    "chi_number": "a CHI number",
    "health_number": "an NHS or CHI number",
    "hospital_number": "a hospital number",
    "date_of_birth": "a date of birth",
    "postcode": "a full postcode",
    "phone": "a phone number",
    "email": "an email address",
}


# --- names -----------------------------------------------------------------------------------


@functools.cache
def common_words() -> frozenset[str]:
    path = Path(__file__).with_name("common_words.txt")
    return frozenset(
        line.strip() for line in path.read_text().splitlines() if line and not line[0] == "#"
    )


def fold(word: str) -> str:
    """A word as names are compared: accents, case and apostrophes gone ("O’Brien" = "obrien")."""
    decomposed = unicodedata.normalize("NFKD", word)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in plain.casefold() if c not in APOSTROPHES)


@dataclass(frozen=True)
class Token:
    folded: str
    written: str
    start: int
    end: int
    capital: bool  # written with a capital first letter
    opens_sentence: bool
    after_title: bool
    hyphenated: bool = False  # joined to another word by a hyphen ("Wei-hai")


_WORD = re.compile(rf"[^\W\d_](?:[^\W\d_]|[{APOSTROPHES}](?=[^\W\d_]))*", re.UNICODE)
_POSSESSIVE = re.compile(rf"[{APOSTROPHES}]s$", re.IGNORECASE)


def tokens(text: str) -> list[Token]:
    out: list[Token] = []
    previous_end = 0
    for match in _WORD.finditer(text):
        start, end = match.span()
        bare = match.group()
        if _POSSESSIVE.search(bare):  # "Maria's", "Maria’s": the name
            bare = _POSSESSIVE.sub("", bare)
        elif end < len(text) and text[end] in APOSTROPHES:  # "James'"
            end += 1
        between = text[previous_end:start]
        opens = (not out and not between.strip(" \t\"“‘'([")) or bool(
            re.search(r"[.!?\n]", between)
        )
        out.append(
            Token(
                folded=fold(bare),
                written=text[start:end],
                start=start,
                end=end,
                capital=bare[:1].isupper(),
                opens_sentence=opens,
                after_title=bool(out) and out[-1].folded in TITLES,
                hyphenated=bool(
                    re.match(r"-[^\W\d_]", text[end : end + 2])
                    or re.search(r"[^\W\d_]-$", text[max(0, start - 2) : start])
                ),
            )
        )
        previous_end = end
    return out


def _forms(name: str) -> list[tuple[tuple[str, ...], bool]]:
    """The ways a name is written: (folded words, is the surname alone)."""
    words = [fold(w) for w in re.split(r"[\s\-]+", name.strip()) if fold(w)]
    words = [w for w in words if w.rstrip(".") not in TITLES] or words
    if not words:
        return []
    if len(words) == 1:
        return [((words[0],), True)]
    first, last = words[0], words[-1]
    forms = {
        tuple(words): False,
        (first, last): False,
        (last, first): False,  # "Gonzalez, Maria"
        (first[0], last): False,  # "M. Gonzalez"
        (last,): True,
    }
    if len(words) > 2:
        forms[tuple(words[1:])] = False  # a double surname written alone ("Lopez Garcia")
    return list(forms.items())


@dataclass
class _Index:
    """Name forms by their first folded word, for one pass over the caption's words."""

    forms: dict[str, list[tuple[tuple[str, ...], bool, Person]]] = field(default_factory=dict)

    def add(self, person: Person) -> None:
        for words, alone in _forms(person.name):
            self.forms.setdefault(words[0], []).append((words, alone, person))


def _counts(words: Sequence[Token], alone: bool) -> bool:
    """Do these caption words, matching a name form, name someone (not a common word used as
    a word)?"""
    common = common_words()
    if alone:
        [word] = words
        if word.hyphenated:
            return False  # part of another word ("Wei-hai", "Brown-ish")
        if word.folded not in common and len(word.folded) > 1:
            return True
        # A common word counts as a name when written as one: capitalised mid-sentence, after
        # a title, or as a capitalised possessive ("Brown's class").
        possessive = word.written != word.written.rstrip("'’") or bool(
            _POSSESSIVE.search(word.written)
        )
        return word.capital and (not word.opens_sentence or word.after_title or possessive)
    if len(words[0].folded) == 1:  # an initial: "M. Gonzalez" only as written so
        return words[0].capital and words[-1].capital
    return any(w.capital or w.folded not in common for w in words)


def find_people(text: str, people: Iterable[Person]) -> list[Finding]:
    index = _Index()
    for person in people:
        index.add(person)
    words = tokens(text)
    found: list[Finding] = []
    taken_until = -1
    for i, word in enumerate(words):
        if word.start < taken_until:
            continue
        best: tuple[int, Person] | None = None
        for form, alone, person in index.forms.get(word.folded, ()):
            span = words[i : i + len(form)]
            if len(span) < len(form) or tuple(w.folded for w in span) != form:
                continue
            if any(
                text[a.end : b.start].strip(" ,.-") for a, b in zip(span, span[1:], strict=False)
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
        span = words[i : i + length]
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
            found.append(
                Finding(
                    "person",
                    text[span[0].start : span[-1].end],
                    span[0].start,
                    span[-1].end,
                    refused[0],
                )
            )
    return found


# --- identifiers -----------------------------------------------------------------------------


def mod11_valid(digits: str) -> bool:
    """The NHS (and CHI) number check digit: weights 10..2 over the first nine digits."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


def _ddmmyy(digits: str) -> bool:
    day, month, year = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    try:
        date(2000 + year, month, day)
    except ValueError:
        return False
    return True


_TEN_DIGITS = re.compile(
    r"(?<![\d+])(\d{3}[ \-]?\d{3}[ \-]?\d{4}|\d{6}[ \-]?\d{4}"
    r"|\d{2}[ \-]\d{2}[ \-]\d{2}[ \-]?\d{4})(?![\d])"
)


def _health_numbers(text: str) -> list[Finding]:
    out = []
    for match in _TEN_DIGITS.finditer(text):
        written = match.group()
        digits = re.sub(r"\D", "", written)
        if not mod11_valid(digits):
            continue
        groups = [len(g) for g in re.split(r"[ \-]", written)]
        dated = _ddmmyy(digits)
        if groups == [3, 3, 4]:
            kind = "nhs_number"
        elif dated and len(groups) > 1:
            kind = "chi_number"
        elif dated:
            kind = "health_number"
        else:
            kind = "nhs_number"
        out.append(Finding(kind, written, *match.span()))
    return out


_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DATE = (
    r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-](?:\d{4}|\d{2})"
    r"|\d{4}-\d{2}-\d{2}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS},?\s+\d{{4}}"
    rf"|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
_DOB = re.compile(
    r"\b(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?|n[ée]e?\s+le)"
    rf"\s*[:\-–]?\s*(?:(?:was|is)\s+)?{_DATE}",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"\b(GIR ?0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW]?|[A-HK-Y]\d[ABEHMNPRV-Y]?|\d\d?|[A-HK-Y]\d\d?)"
    r" ?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
_ORDINAL = re.compile(r"\d(?:st|nd|rd|th)$", re.IGNORECASE)
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+%-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def normal_postcode(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


def postcodes_in(text: str) -> list[str]:
    return [normal_postcode(m.group()) for m in _POSTCODE.finditer(text)]


def find_identifiers(
    text: str, *, own: Own = Own(), hospital_pattern: re.Pattern[str] | None = None
) -> list[Finding]:
    found: list[Finding] = [*_health_numbers(text)]

    def free(start: int, end: int) -> bool:
        return all(end <= f.start or start >= f.end for f in found)

    if hospital_pattern is not None:
        for match in hospital_pattern.finditer(text):
            if match.end() > match.start() and free(*match.span()):
                found.append(Finding("hospital_number", match.group(), *match.span()))
    for match in _DOB.finditer(text):
        if free(*match.span()):
            found.append(Finding("date_of_birth", match.group(), *match.span()))
    for match in _EMAIL.finditer(text):
        if match.group().casefold() not in own.emails and free(*match.span()):
            found.append(Finding("email", match.group(), *match.span()))
    for match in _POSTCODE.finditer(text):
        written = match.group()
        if not written.isupper() and _ORDINAL.search(written):
            continue  # "b12 3rd": not written as a postcode
        if normal_postcode(written) in own.postcodes or not free(*match.span()):
            continue
        found.append(Finding("postcode", written, *match.span()))
    lenient = phonenumbers.Leniency.POSSIBLE
    for call in phonenumbers.PhoneNumberMatcher(text, "GB", leniency=lenient):
        number = phonenumbers.format_number(call.number, phonenumbers.PhoneNumberFormat.E164)
        if number in own.phones or not free(call.start, call.end):
            continue
        # A number in service; or one written as a number to call (a reserved or foreign
        # range the library cannot place is still someone's number as far as a reader goes).
        called = _CALL.search(text[max(0, call.start - 24) : call.start])
        digits = sum(c.isdigit() for c in call.raw_string)
        if phonenumbers.is_valid_number(call.number) or (called and digits >= 10):
            found.append(Finding("phone", call.raw_string, call.start, call.end))
    return found


_CALL = re.compile(
    r"\b(?:call|phone|tel|telephone|mobile|mob|ring|text|whatsapp|sms|contact|number|on)\b",
    re.IGNORECASE,
)


def check(
    caption: str,
    *,
    people: Iterable[Person] = (),
    own: Own = Own(),
    hospital_pattern: re.Pattern[str] | None = None,
) -> list[Finding]:
    """Everything in the caption that may not be published with it, in reading order."""
    if not caption or not caption.strip():
        return []
    found = find_identifiers(caption, own=own, hospital_pattern=hospital_pattern)
    found += [
        f
        for f in find_people(caption, people)
        if all(f.end <= g.start or f.start >= g.end for g in found)
    ]
    return sorted(found, key=lambda f: (f.start, f.end))
