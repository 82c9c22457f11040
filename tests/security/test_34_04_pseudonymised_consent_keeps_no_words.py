"""Issue 34, item 4: a consent kept (under a pseudonym) as the record of a publication keeps
none of the patient's words. After erasure of a granted, published consent whose purpose and
description held health terms, a street address, a postcode and a nickname, no row of any table
holds any of them, and the record says what it is now and when it was erased (through the API
the staff read it by, too)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.audit.service import SYSTEM
from registry.consent.models import ConsentRequest
from registry.media.models import Media
from registry.rights import erasure
from tests.consent.factories import grant
from tests.rights.scene import rows_mentioning

WORDS = (
    "Charcot",
    "neuroarthropathy",
    "HbA1c",
    "Elm Road",
    "LS6 2AB",
    "Otto",
    "Leeds",
    "amputation",
)


def test_a_pseudonymised_consent_keeps_none_of_the_patients_words(
    client: TestClient,
    admin_headers: dict[str, str],
    session: Session,
    make_consent: Callable[..., ConsentRequest],
    make_media: Callable[..., Media],
) -> None:
    photo = make_media()  # a clinic photo, no event: the consent is its basis
    request = make_consent(
        subject_name="Ottokar Brenner",
        subject_email="otto.b@example.org",
        purpose="Case study: Charcot neuroarthropathy, HbA1c 94, for the members' journal",
        description="Otto (as he likes to be called), who lives at 12 Elm Road, Leeds LS6 2AB, "
        "walking again after a below-knee amputation was avoided.",
        media_ids=[photo.id],
        channels=["internal"],
    )
    grant(session, request)
    published = client.post(
        f"/api/media/{photo.id}/publications",
        json={"channel": "internal", "url": "https://intranet.example/posts/4411"},
        headers=admin_headers,
    )
    assert published.status_code == 201, published.text
    assert rows_mentioning(session, "neuroarthropathy")  # the words were there

    assert erasure.erase_consent(session=session, actor=SYSTEM, request=request) == "pseudonymised"
    session.expire_all()
    assert rows_mentioning(session, *WORDS) == []
    kept = session.get(ConsentRequest, request.id)
    assert kept is not None
    assert kept.purpose.startswith("Erased at the patient's request on ")
    assert erasure.pseudonym(kept) in kept.description
    shown = client.get(f"/api/consent-requests/{request.id}", headers=admin_headers)
    assert shown.status_code == 200
    assert not [w for w in WORDS if w.lower() in shown.text.lower()]
