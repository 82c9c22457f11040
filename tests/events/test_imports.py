from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.auth.models import Role, StaffUser
from registry.errors import Conflict, Invalid, TooLarge
from registry.events import imports, service
from registry.events.models import Booking, Event
from registry.mail import service as mail_service
from tests.auth.factories import csrf_from, login_page

MakeEvent = Callable[..., Event]

GOOD = (
    b"Email Address;First Name;Last Name;Photo opt-out\n"
    b"ana@example.org;Ana;Silva;yes\n"
    b"\n"
    b"ben@example.org;Ben;Okafor;no\n"
    b"CAL@example.org;Cal;Ng;\n"
)


def names(session: Session, event: Event) -> dict[str, bool]:
    return {b.email: b.photo_opt_out for b in service.list_bookings(session=session, event=event)}


def test_columns_are_found_by_header_in_any_order_and_delimiter(
    session: Session, make_event: MakeEvent
) -> None:
    event = make_event()
    result = imports.import_bookings(session=session, actor=SYSTEM, event=event, data=GOOD)
    assert result.new == 3
    assert names(session, event) == {
        "ana@example.org": True,
        "ben@example.org": False,
        "cal@example.org": False,
    }
    assert result.columns["photo_opt_out"] == "Photo opt-out"


def test_any_row_error_imports_nothing_and_lists_every_error(
    session: Session, make_event: MakeEvent
) -> None:
    event = make_event()
    data = (
        b"name,email,no photos\n"
        b"Ana,ana@example.org,yes\n"
        b",nobody@example.org,no\n"
        b"Ben,not-an-email,no\n"
        b"Cal,cal@example.org,perhaps\n"
        b"Ana again,ana@example.org,no\n"
    )
    preview = imports.preview(session=session, event=event, data=data)
    errors = {r.line: r.errors for r in preview.rows if r.status == "error"}
    assert sorted(errors) == [3, 4, 5, 6]
    assert "name is empty" in errors[3][0]
    assert "not an email address" in errors[4][0]
    assert "'perhaps'" in errors[5][0]
    assert "line 2" in errors[6][0]
    with pytest.raises(Invalid) as refused:
        imports.import_bookings(session=session, actor=SYSTEM, event=event, data=data)
    assert len(refused.value.extra["rows"]) == 4
    assert names(session, event) == {}


def test_existing_bookings_are_skipped_not_duplicated(
    session: Session, make_event: MakeEvent, make_booking: Callable[..., Booking]
) -> None:
    event = make_event()
    make_booking(event=event, email="ana@example.org")
    result = imports.import_bookings(session=session, actor=SYSTEM, event=event, data=GOOD)
    assert (result.new, result.existing) == (2, 1)
    assert len(service.list_bookings(session=session, event=event)) == 3


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "header"),
        (b"foo,bar\n1,2\n", "Columns found: 'foo', 'bar'"),
        (b"name,email\n", "no rows"),
        (b"\x00\x01\x02PK binary", "not a CSV"),
        (b'name,email\n"Ana,ana@example.org\n' + b"x" * 200_000, "could not be read"),
    ],
)
def test_unusable_files_are_refused_clearly(
    session: Session, make_event: MakeEvent, data: bytes, message: str
) -> None:
    with pytest.raises(Invalid, match=message):
        imports.preview(session=session, event=make_event(), data=data)


def test_windows_1252_files_are_read(session: Session, make_event: MakeEvent) -> None:
    data = "name,email\nJosé Müller,jose@example.org\n".encode("cp1252")
    [row] = imports.preview(session=session, event=make_event(), data=data).rows
    assert row.name == "José Müller"


def test_huge_files_and_closed_events_are_refused(session: Session, make_event: MakeEvent) -> None:
    with pytest.raises(TooLarge):
        imports.preview(session=session, event=make_event(), data=b"x" * (imports.MAX_BYTES + 1))
    closed = make_event()
    service.update_event(session=session, actor=SYSTEM, event=closed, bookings_open=False)
    with pytest.raises(Conflict):
        imports.preview(session=session, event=closed, data=GOOD)


def test_api_dry_run_then_import(
    client: TestClient, comms_headers: dict[str, str], make_event: MakeEvent, session: Session
) -> None:
    event = make_event()
    url = f"/api/events/{event.id}/bookings/import"
    files = {"file": ("export.csv", GOOD, "text/csv")}
    dry = client.post(url, files=files, data={"dry_run": "true"}, headers=comms_headers)
    assert dry.status_code == 200, dry.text
    assert dry.json()["imported"] is False
    assert dry.json()["new"] == 3
    assert names(session, event) == {}
    done = client.post(url, files=files, headers=comms_headers)
    assert done.json()["imported"] is True
    assert len(names(session, event)) == 3
    bad = client.post(
        url, files={"file": ("x.csv", b"name,email\nA,nope\n", "text/csv")}, headers=comms_headers
    )
    assert bad.status_code == 422
    assert bad.json()["rows"] == [{"line": 2, "errors": ["nope is not an email address."]}]


def test_staff_page_previews_then_imports(
    client: TestClient,
    make_staff: Callable[..., StaffUser],
    make_event: MakeEvent,
    session: Session,
) -> None:
    event = make_event()
    login_page(client, make_staff(Role.comms))
    form = client.get(f"/events/{event.id}/import")
    preview = client.post(
        f"/events/{event.id}/import",
        files={"file": ("export.csv", GOOD, "text/csv")},
        data={"csrf_token": csrf_from(form.text)},
    )
    assert preview.status_code == 200, preview.text
    assert "Import 3 bookings" in preview.text
    assert names(session, event) == {}
    csv_text = preview.text.split('name="csv_text" hidden aria-hidden="true">')[1].split("</")[0]
    import html

    done = client.post(
        f"/events/{event.id}/import/confirm",
        data={"csv_text": html.unescape(csv_text), "csrf_token": csrf_from(preview.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert len(names(session, event)) == 3


def test_an_import_without_confirmations_records_no_notice_until_it_is_shown(
    session: Session,
    make_event: Callable[..., Event],
    client: TestClient,
    make_staff: Callable[..., StaffUser],
) -> None:
    """Imported without confirmations, nobody has seen the notice: the record says so, the event
    page counts them; a confirmation delivered by a mail server, or the private page opened,
    records the version shown, once."""
    event = make_event()
    result = imports.import_bookings(
        session=session,
        actor=SYSTEM,
        event=event,
        data=b"name,email\nAda Import,ada.import@example.org\nBo Import,bo.import@example.org\n",
    )
    assert result.new == 2
    ada, bo = service.list_bookings(session=session, event=event)
    assert (ada.notice_version, bo.notice_version) == (None, None)
    assert mail_service.state_counts(session=session).get("queued", 0) == 0
    login_page(client, make_staff(role=Role.comms))
    page = client.get(f"/events/{event.id}").text
    assert "not yet shown" in page
    assert "<strong>2</strong> not yet shown the filming notice" in page
    # Bo opens the private page: the notice shown there is recorded.
    client.get(f"/b/{service.manage_token(bo)}")
    session.refresh(bo)
    assert bo.notice_version == event.filming_notice_version
    actions = [str(h.action) for h in service.history(session=session, booking=bo)]
    assert actions == ["booked", "notice_shown"]
    assert (
        "<strong>1</strong> not yet shown the filming notice"
        in client.get(f"/events/{event.id}").text
    )
