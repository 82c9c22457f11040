"""The identifiers a caption may never carry, found in its normalised copy (`registry.normalise`).

NHS numbers (modulus 11), CHI numbers (a date of birth and modulus 11), hospital numbers (a
configurable pattern), dates of birth written as such, full UK postcodes, phone numbers (Google's
libphonenumber judges each candidate) and email addresses other than the organisation's own.

Any run of separators (spaces, dots, slashes, hyphens; no-break and zero-width spaces are spaces
or nothing in the copy) counts alike inside a number or a postcode, so "943.476.5919",
"9434 765 919" and "LS1 - 4AP" are what they look like. Every pattern runs on RE2 (linear time,
whatever the text) or is a scanner; libphonenumber, whose own matcher backtracks, only ever
sees one short candidate at a time, and at most `MAX_PHONE_TRIES` of them per caption.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Protocol

import phonenumbers
import re2  # google-re2: time linear in the text, whatever the pattern

from registry.normalise import normalise

# Between the digit groups of a number or the halves of a postcode ("double spaces" included).
SEPARATORS = frozenset(" \t./-_\u2013\u2014")
MAX_SEPARATOR_RUN = 3
MAX_PHONE_TRIES = 200  # libphonenumber looks at this many candidates per caption at most
_PHONE_JOINS = SEPARATORS | frozenset("()[]")


class Match(Protocol):
    def start(self, group: int = 0) -> int: ...
    def end(self, group: int = 0) -> int: ...
    def group(self, group: int = 0) -> str: ...


class Pattern(Protocol):
    """A compiled RE2 pattern (its `finditer` runs in time linear in the text)."""

    @property
    def pattern(self) -> str: ...
    def finditer(self, text: str) -> Iterator[Match]: ...
    def sub(self, replacement: str, text: str) -> str: ...


class NotLinear(ValueError):
    """A pattern RE2 cannot run (look-around, back-references, a repetition over 1,000)."""


@functools.lru_cache(maxsize=64)
def linear(source: str) -> Pattern:
    """`source` compiled by RE2; NotLinear saying why when RE2 cannot run it."""
    options = re2.Options()
    options.log_errors = False
    try:
        compiled: Pattern = re2.compile(source, options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise NotLinear(str(reason)) from None
    return compiled


@dataclass(frozen=True)
class Own:
    """The organisation's own contact details: not a finding when they appear."""

    emails: frozenset[str] = frozenset()
    phones: frozenset[str] = frozenset()  # E.164
    postcodes: frozenset[str] = frozenset()  # normalised: letters and digits, upper case


@dataclass(frozen=True)
class Hit:
    """An identifier at `text[start:end]` of the normalised copy."""

    kind: str
    start: int
    end: int


# --- NHS and CHI numbers ---------------------------------------------------------------------


def mod11_valid(digits: str) -> bool:
    """The NHS (and CHI) number check digit: weights 10..2 over the first nine digits."""
    if len(digits) != 10 or not digits.isdigit() or not digits.isascii():
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


def digit_chains(text: str, joins: frozenset[str] = SEPARATORS) -> list[list[tuple[int, int]]]:
    """Runs of digit groups, each group (start, end), joined by at most `MAX_SEPARATOR_RUN`
    characters of `joins`: "943 476 5919" is one chain of three groups."""
    chains: list[list[tuple[int, int]]] = []
    index, size = 0, len(text)
    chain: list[tuple[int, int]] = []
    while index < size:
        if not text[index].isdigit():
            index += 1
            continue
        start = index
        while index < size and text[index].isdigit():
            index += 1
        if chain and _joined(text, chain[-1][1], start, joins):
            chain.append((start, index))
        else:
            if chain:
                chains.append(chain)
            chain = [(start, index)]
    if chain:
        chains.append(chain)
    return chains


def _joined(text: str, end: int, start: int, joins: frozenset[str]) -> bool:
    return start - end <= MAX_SEPARATOR_RUN and all(c in joins for c in text[end:start])


def health_numbers(text: str) -> list[Hit]:
    out = []
    for chain in digit_chains(text):
        i = 0
        while i < len(chain):
            if text[chain[i][0] - 1 : chain[i][0]] == "+":  # a phone number's country code
                i += 1
                continue
            total, j = 0, i
            while j < len(chain) and total < 10:
                total += chain[j][1] - chain[j][0]
                j += 1
            groups = chain[i:j]
            digits = "".join(text[a:b] for a, b in groups)
            if total != 10 or not mod11_valid(digits):
                i += 1
                continue
            lengths = [b - a for a, b in groups]
            dated = _ddmmyy(digits)
            if lengths in ([3, 3, 4], [4, 3, 3]):
                kind = "nhs_number"
            elif dated and len(groups) > 1:
                kind = "chi_number"
            elif dated:
                kind = "health_number"
            else:
                kind = "nhs_number"
            out.append(Hit(kind, groups[0][0], groups[-1][1]))
            i = j
    return out


# --- dates of birth, postcodes, emails ---------------------------------------------------------

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
_DOB = (
    r"(?i)\b(?:d\.?\s?o\.?\s?b\.?|date\s+of\s+birth|birth\s*date|birthday|born(?:\s+on)?|nee?\s+le)"
    rf"\s*[:\-–]?\s*(?:(?:was|is)\s+)?{_DATE}"
)
_SEP = r"[ \t.\-]{0,3}"
_POSTCODE = (
    rf"(?i)\b(?:GIR{_SEP}0AA|[A-PR-UWYZ](?:\d[A-HJKPSTUW]?|[A-HK-Y]\d[ABEHMNPRV-Y]?|\d\d?"
    rf"|[A-HK-Y]\d\d?){_SEP}\d[ABD-HJLNP-UW-Z]{{2}})\b"
)
_AT = r"(?:@|\s*[\[(]\s*at\s*[\])]\s*)"
_DOT = r"(?:\.|\s*[\[(]\s*dot\s*[\])]\s*)"
_EMAIL = (
    rf"(?i)[\p{{L}}\p{{N}}_.+%-]+{_AT}[\p{{L}}\p{{N}}-]+(?:{_DOT}[\p{{L}}\p{{N}}-]+)*"
    rf"{_DOT}(?:\p{{L}}{{2,}}|xn--[a-z0-9-]+)"
)
_ORDINALS = ("st", "nd", "rd", "th")


def _alone(text: str, start: int, end: int) -> bool:
    """Not part of a longer word (RE2's \\b knows only ASCII letters)."""
    return not (start and text[start - 1].isalnum()) and not (
        end < len(text) and text[end].isalnum()
    )


def dates_of_birth(text: str) -> list[Hit]:
    return [Hit("date_of_birth", m.start(), m.end()) for m in linear(_DOB).finditer(text)]


def normal_postcode(value: str) -> str:
    return "".join(c for c in normalise(value).text if c.isalnum()).upper()


def postcodes(text: str) -> list[Hit]:
    out = []
    for match in linear(_POSTCODE).finditer(text):
        written = match.group()
        if not written.isupper() and written[-3:-2].isdigit() and written[-2:].lower() in _ORDINALS:
            continue  # "b12 3rd": not written as a postcode
        if _alone(text, match.start(), match.end()):
            out.append(Hit("postcode", match.start(), match.end()))
    return out


def postcodes_in(text: str) -> list[str]:
    """The postcodes in `text`, normalised (own addresses)."""
    copy = normalise(text).text
    return [normal_postcode(copy[h.start : h.end]) for h in postcodes(copy)]


@functools.lru_cache(maxsize=1024)
def email_key(written: str) -> str:
    """An address as compared with the organisation's own: "[at]" is "@", case folded."""
    copy = normalise(written).text
    copy = linear(r"(?i)\s*[\[(]\s*at\s*[\])]\s*").sub("@", copy)
    return linear(r"(?i)\s*[\[(]\s*dot\s*[\])]\s*").sub(".", copy).casefold()


def emails(text: str) -> list[Hit]:
    return [Hit("email", m.start(), m.end()) for m in linear(_EMAIL).finditer(text)]


# --- phone numbers ------------------------------------------------------------------------------

_CALL = frozenset(
    "call phone tel telephone mobile mob ring text whatsapp sms contact number on".split()
)


def _called(text: str, start: int) -> bool:
    """Is the number written as one to call ("call", "mobile", "on" just before it)?"""
    window = text[max(0, start - 24) : start].casefold()
    word: list[str] = []
    for char in window + " ":
        if char.isalpha():
            word.append(char)
        else:
            if "".join(word) in _CALL:
                return True
            word = []
    return False


@functools.cache
def _national_lengths() -> frozenset[int]:
    """How many digits a GB number has after its leading 0 (libphonenumber's metadata)."""
    metadata = phonenumbers.PhoneMetadata.metadata_for_region("GB")
    assert metadata is not None
    assert metadata.general_desc is not None
    return frozenset(metadata.general_desc.possible_length)


def _plausible(written: str, digits: str) -> bool:
    """Could libphonenumber take these digits for a number at all? (a cheap look first)"""
    if written.startswith("+") or digits.startswith("00"):
        return 8 <= len(digits) <= 17
    return len(digits.removeprefix("0")) in _national_lengths()


@functools.lru_cache(maxsize=4096)
def _parsed(candidate: str) -> tuple[str, bool] | None:
    """(E.164, valid) for a possible phone number, None for anything else."""
    try:
        number = phonenumbers.parse(candidate, "GB")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.is_valid_number(number)


@dataclass
class _Tries:
    left: int = MAX_PHONE_TRIES


def _phone_at(
    text: str, groups: list[tuple[int, int]], own: Own, tries: _Tries
) -> tuple[Hit | None, bool]:
    """Is this run of digit groups someone's phone number? (the hit, whether it was judged)."""
    start, end = groups[0][0], groups[-1][1]
    if text[start - 1 : start] in ("+", "("):  # "+44 113…", "(0113) 496…"
        start -= 1
    digits = "".join(text[a:b] for a, b in groups)
    if not _plausible(text[start:end], digits):
        return None, True
    if tries.left <= 0:
        return None, False
    tries.left -= 1
    parsed = _parsed(text[start:end])
    if parsed is None:
        return None, True
    e164, valid = parsed
    # A number in service; or one written as a number to call (a reserved or foreign range the
    # library cannot place is still someone's number as far as a reader goes).
    if e164 in own.phones or not (valid or (_called(text, start) and len(digits) >= 10)):
        return None, True
    return Hit("phone", start, end), True


class _Taken:
    """Which characters of the copy a finding already holds (a check costs the length of the
    range asked about, not the number of findings so far)."""

    def __init__(self, size: int) -> None:
        self.marks = bytearray(size)

    def free(self, start: int, end: int) -> bool:
        return not any(self.marks[start:end])

    def take(self, hit: Hit) -> Hit:
        self.marks[hit.start : hit.end] = b"\x01" * (hit.end - hit.start)
        return hit


def phones(text: str, own: Own, taken: _Taken) -> list[Hit]:
    """Phone numbers: each run of digit groups (7 to 17 digits) judged whole; a longer run (two
    numbers side by side) judged window by window, the longest first."""
    out: list[Hit] = []
    tries = _Tries()
    for chain in digit_chains(text, _PHONE_JOINS):
        if sum(b - a for a, b in chain) < 7:
            continue
        i = 0
        while i < len(chain):
            if not taken.free(*chain[i]):  # inside a health number
                i += 1
                continue
            windows, digits = [], 0
            for j in range(i, len(chain)):
                digits += chain[j][1] - chain[j][0]
                if digits > 17:
                    break
                if digits >= 7:
                    windows.append(j)
            found = None
            for j in reversed(windows):
                if not taken.free(chain[i][0], chain[j][1]):
                    continue
                hit, judged = _phone_at(text, chain[i : j + 1], own, tries)
                if not judged:
                    return [*out, _unread(text, chain[i][0])]
                if hit is not None:
                    found = (hit, j)
                    break
            if found is None:
                i += 1
                continue
            out.append(found[0])
            i = found[1] + 1
    return out


def _unread(text: str, start: int) -> Hit:
    """More number-like runs than are judged one by one: refused, from here on."""
    return Hit("numbers", start, len(text))


# --- all of them -------------------------------------------------------------------------------


def identifiers(text: str, *, own: Own, hospital: Pattern | None) -> list[Hit]:
    """Every identifier in the normalised copy `text` that is not the organisation's own; the
    first found wins where two overlap (a health number is not also a phone number)."""
    taken = _Taken(len(text))
    found = [taken.take(h) for h in health_numbers(text)]
    if hospital is not None:
        for match in hospital.finditer(text):
            hit = Hit("hospital_number", match.start(), match.end())
            if hit.end > hit.start and taken.free(hit.start, hit.end):
                found.append(taken.take(hit))
    found += [taken.take(h) for h in dates_of_birth(text) if taken.free(h.start, h.end)]
    own_emails = {email_key(e) for e in own.emails}
    found += [
        taken.take(h)
        for h in emails(text)
        if email_key(text[h.start : h.end]) not in own_emails and taken.free(h.start, h.end)
    ]
    found += [
        taken.take(h)
        for h in postcodes(text)
        if normal_postcode(text[h.start : h.end]) not in own.postcodes
        and taken.free(h.start, h.end)
    ]
    found += phones(text, own, taken)
    return found
