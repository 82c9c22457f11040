"""Issue 34, item 10: an address field takes exactly one address, never a display name with
another address behind it. `"victim@x" <attacker@evil.example>` was accepted by the staff API
(pydantic's EmailStr keeps the part in angle brackets) and the attacker's address stored: every
address field of the API now refuses it (422) and stores nothing (a real server over HTTP)."""

from __future__ import annotations

import pytest

from tests.live import Live, new_event

FORGED = [
    '"victim@example.org" <attacker@evil.example>',
    "Victim <attacker@evil.example>",
    "victim@example.org <attacker@evil.example>",
    "victim@example.org, attacker@evil.example",
]


@pytest.mark.parametrize("address", FORGED)
def test_every_address_field_refuses_a_display_name_or_a_second_address(
    live: Live, address: str
) -> None:
    with live.client("admin") as admin:
        event = new_event(admin)
        answers = {
            "booking": admin.post(
                f"/api/events/{event['id']}/bookings",
                json={"name": "Vic Tim", "email": address, "send_confirmation": False},
            ),
            "consent request": admin.post(
                "/api/consent-requests",
                json={
                    "subject_name": "Vic Tim",
                    "subject_email": address,
                    "purpose": "A case study",
                    "description": "One photo",
                    "channels": ["internal"],
                    "media_ids": [],
                },
            ),
            "staff user": admin.post(
                "/api/auth/users",
                json={"email": address, "role": "comms", "password": "a long enough password"},
            ),
            "subject request": admin.post("/api/subject-requests", json={"email": address}),
        }
        for what, answer in answers.items():
            assert answer.status_code == 422, f"{what}: {answer.status_code} {answer.text}"
            assert "evil.example" not in answer.text.split('"input"')[0]
        assert admin.get(f"/api/events/{event['id']}/bookings").json() == []
        users = admin.get("/api/auth/users").json()
        assert not [u for u in users if "evil.example" in u["email"]]
