"""Importing bookings from a CSV exported by an external booking system: preview, then all or
nothing.

Columns are found by their header, whatever the order or case: a name (`name`, `full name`,
`attendee`, or `first name` + `last name`), an `email`, and optionally an opt-out column (a
header mentioning "opt out" or "no photo"; yes/no, true/false, 1/0, y/n, x or empty).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Literal

from sqlmodel import Session

from registry.addresses import one_address
from registry.audit.service import Actor
from registry.errors import Conflict, Invalid, TooLarge
from registry.events import service
from registry.events.models import Event
from registry.plurals import count

MAX_BYTES = 2_000_000
MAX_ROWS = 5_000
TRUE = {"yes", "y", "true", "1", "x", "opt out", "opted out", "no photos"}
FALSE = {"no", "n", "false", "0", ""}

RowStatus = Literal["new", "existing", "error"]


@dataclass
class ImportRow:
    line: int
    name: str
    email: str
    photo_opt_out: bool
    status: RowStatus = "new"
    errors: list[str] = field(default_factory=list)
    manage_url: str | None = None  # set only by the import that created the booking


@dataclass
class ImportPreview:
    rows: list[ImportRow]
    columns: dict[str, str]

    @property
    def errors(self) -> int:
        return sum(1 for r in self.rows if r.status == "error")

    @property
    def new(self) -> int:
        return sum(1 for r in self.rows if r.status == "new")

    @property
    def existing(self) -> int:
        return sum(1 for r in self.rows if r.status == "existing")


def _key(header: str) -> str:
    return re.sub(r"[\s_\-]+", " ", header.strip().lower())


def _find(headers: list[str], *candidates: str) -> str | None:
    for header in headers:
        if _key(header) in candidates:
            return header
    return None


def _text(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise TooLarge(f"The CSV file is larger than {MAX_BYTES // 1_000_000} MB.", field="file")
    if b"\x00" in data[:4096]:
        raise Invalid("This is not a CSV (text) file.", field="file")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Invalid("The CSV file's text encoding is not UTF-8 or Windows-1252.", field="file")


def _reader(text: str) -> csv.DictReader[str]:
    sample = text[:8192]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)


def parse(data: bytes) -> tuple[list[ImportRow], dict[str, str]]:
    """Rows as read, each with its own errors; Invalid when the file as a whole is unusable."""
    reader = _reader(_text(data))
    headers = [h for h in (reader.fieldnames or []) if h]
    name = _find(headers, "name", "full name", "attendee", "attendee name", "delegate")
    first = _find(headers, "first name", "firstname", "given name", "forename")
    last = _find(headers, "last name", "lastname", "surname", "family name")
    email = _find(headers, "email", "e mail", "email address", "e mail address")
    opt = next(
        (h for h in headers if ("opt" in _key(h) and "out" in _key(h)) or "no photo" in _key(h)),
        None,
    )
    if email is None or (name is None and not (first and last)):
        found = ", ".join(repr(h) for h in headers) or "none"
        raise Invalid(
            "The CSV needs a header row with a name column (or first and last name) and an "
            f"email column. Columns found: {found}.",
            field="file",
        )
    columns = {"name": name or f"{first} + {last}", "email": email}
    if opt:
        columns["photo_opt_out"] = opt
    rows: list[ImportRow] = []
    try:
        for record in reader:
            if len(rows) >= MAX_ROWS:
                raise Invalid(f"The CSV has more than {MAX_ROWS} rows; split it.", field="file")
            values = {k: (v or "").strip() for k, v in record.items() if k}
            if not any(values.values()):
                continue  # blank line
            full = (
                values.get(name, "")
                if name
                else f"{values.get(first or '', '')} {values.get(last or '', '')}".strip()
            )
            row = ImportRow(
                line=reader.line_num,
                name=full,
                email=values.get(email, "").lower(),
                photo_opt_out=False,
            )
            if not full:
                row.errors.append("The name is empty.")
            elif len(full) > 200:
                row.errors.append("The name is longer than 200 characters.")
            if one_address(row.email) is None:
                row.errors.append(f"{row.email or 'The email'} is not an email address.")
            if opt:
                flag = _key(values.get(opt, ""))
                if flag in TRUE:
                    row.photo_opt_out = True
                elif flag not in FALSE:
                    row.errors.append(
                        f"The opt-out value {values.get(opt)!r} is not yes/no (or true/false, 1/0)."
                    )
            rows.append(row)
    except csv.Error as exc:
        raise Invalid(
            f"The CSV could not be read near line {reader.line_num}: {exc}.", field="file"
        ) from None
    if not rows:
        raise Invalid("The CSV has a header but no rows.", field="file")
    return rows, columns


def preview(*, session: Session, event: Event, data: bytes) -> ImportPreview:
    """What importing would do, row by row, without writing anything."""
    if not event.bookings_open:
        raise Conflict("Bookings for this event are closed.")
    rows, columns = parse(data)
    seen: dict[str, int] = {}
    for row in rows:
        if row.email in seen and not row.errors:
            row.errors.append(f"The same email is on line {seen[row.email]} already.")
        seen.setdefault(row.email, row.line)
        if row.errors:
            row.status = "error"
        elif service.find_booking(session=session, event=event, email=row.email) is not None:
            row.status = "existing"
    return ImportPreview(rows=rows, columns=columns)


def import_bookings(
    *,
    session: Session,
    actor: Actor,
    event: Event,
    data: bytes,
    send_confirmations: bool = False,
) -> ImportPreview:
    """Create every new booking, or none: any row error refuses the whole file. Each new
    attendee is sent their confirmation (link, notice, badge) only if `send_confirmations`."""
    result = preview(session=session, event=event, data=data)
    if result.errors:
        raise Invalid(
            f"{count(result.errors, 'row')} {'has' if result.errors == 1 else 'have'} errors; "
            "nothing was imported. Fix them and try again.",
            field="file",
            rows=[{"line": r.line, "errors": r.errors} for r in result.rows if r.status == "error"],
        )
    for row in result.rows:
        if row.status == "new":
            booking, _created = service.create_booking(
                session=session,
                actor=actor,
                event=event,
                name=row.name,
                email=row.email,
                photo_opt_out=row.photo_opt_out,
                send_confirmation=send_confirmations,
            )
            row.manage_url = service.manage_url(booking)
    return result
