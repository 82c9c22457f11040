"""The publishing API: gate, publications (201/200/409/4xx), takedowns, certificates, JWKS."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.consent.models import ConsentRequest
from registry.events.models import Booking, Event
from registry.media.models import Media, MediaStatus
from registry.publishing import certificates
from tests.consent.factories import grant


def test_publishable_answers_with_reasons(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_booking: Callable[..., Booking],
    make_media: Callable[..., Media],
) -> None:
    event = make_event(channels=["internal", "closed_network"])
    alice = make_booking(event=event, opt_out=True)
    ok = make_media(event=event)
    flagged = make_media(event=event, status=MediaStatus.flagged, faces=[("opted_out", alice)])

    allowed = client.get(
        f"/api/media/{ok.id}/publishable?channel=internal", headers=comms_headers
    ).json()
    assert allowed == {"allowed": True, "reasons": []}
    refused = client.get(
        f"/api/media/{flagged.id}/publishable?channel=public_social", headers=comms_headers
    ).json()
    assert refused["allowed"] is False
    assert len(refused["reasons"]) == 2  # an opted-out attendee, and a channel not in the notice


def test_publish_201_then_200_then_certificate_verifies(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_media: Callable[..., Media],
) -> None:
    media = make_media(event=make_event())
    body = {"channel": "closed_network", "url": "https://members.example/posts/9"}
    first = client.post(f"/api/media/{media.id}/publications", json=body, headers=comms_headers)
    assert first.status_code == 201, first.text
    again = client.post(f"/api/media/{media.id}/publications", json=body, headers=comms_headers)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    publication = first.json()
    assert publication["status"] == "live"
    assert publication["file_url"].endswith(publication["rendition_id"])
    download = client.get(publication["file_url"], headers=comms_headers)
    assert download.status_code == 200
    assert download.headers["content-type"] == "image/jpeg"

    check = client.post(
        "/api/certificates/verify",
        json={"certificate": publication["certificate"]},
        headers=comms_headers,
    ).json()
    assert check["valid"] is True
    assert check["claims"]["jti"] == publication["id"]
    forged = publication["certificate"][:-4] + (
        "AAAA" if not publication["certificate"].endswith("AAAA") else "BBBB"
    )
    bad = client.post(
        "/api/certificates/verify", json={"certificate": forged}, headers=comms_headers
    ).json()
    assert bad["valid"] is False
    assert bad["reason"]

    listed = client.get(f"/api/publications?media_id={media.id}", headers=comms_headers).json()
    assert [p["id"] for p in listed] == [publication["id"]]


def test_refused_publication_is_409_with_reasons_and_nothing_recorded(
    client: TestClient,
    comms_headers: dict[str, str],
    make_media: Callable[..., Media],
) -> None:
    media = make_media(faces=[("clear", None)])  # clinical, no consent
    response = client.post(
        f"/api/media/{media.id}/publications", json={"channel": "internal"}, headers=comms_headers
    )
    assert response.status_code == 409
    body = response.json()
    assert body["reasons"]
    assert "needs a patient's consent" in body["reasons"][0]
    assert body["detail"].startswith("Publication refused")
    assert client.get(f"/api/publications?media_id={media.id}", headers=comms_headers).json() == []


def test_bad_publication_requests_are_4xx(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_media: Callable[..., Media],
) -> None:
    media = make_media(event=make_event())
    url = f"/api/media/{media.id}/publications"
    cases = [
        (url, {"channel": "myspace"}, 422),
        (url, {"channel": "internal", "rendition_id": str(uuid.uuid4())}, 404),
        (url, {"channel": "internal", "rendition_id": "nope"}, 422),
        (url, {"channel": "internal", "url": "ftp://x"}, 422),
        (url, {}, 422),
        (f"/api/media/{uuid.uuid4()}/publications", {"channel": "internal"}, 404),
    ]
    for path, body, status in cases:
        response = client.post(path, json=body, headers=comms_headers)
        assert response.status_code == status, (body, response.text)
    assert (
        client.get(
            f"/api/media/{media.id}/publishable?channel=nope", headers=comms_headers
        ).status_code
        == 422
    )
    assert (
        client.get(f"/api/media/{media.id}/publishable", headers=comms_headers).status_code == 422
    )
    assert (
        client.get(f"/api/media/{media.id}/publications", headers=comms_headers).status_code == 405
    )
    assert client.post(url, json={"channel": "internal"}).status_code == 401


def test_takedowns_after_revocation_then_marked(
    client: TestClient,
    comms_headers: dict[str, str],
    session: Session,
    make_media: Callable[..., Media],
    make_consent: Callable[..., ConsentRequest],
) -> None:
    media = make_media(faces=[("clear", None)])
    consent = make_consent(channels=["print"], media_ids=[media.id])
    grant(session, consent)
    publication = client.post(
        f"/api/media/{media.id}/publications",
        json={"channel": "print", "url": "https://print.example/issue-3"},
        headers=comms_headers,
    ).json()
    assert client.get("/api/takedowns", headers=comms_headers).json() == []

    revoke = client.post(
        f"/api/consent-requests/{consent.id}/revoke",
        json={"note": "Phoned to withdraw"},
        headers=comms_headers,
    )
    assert revoke.status_code == 200, revoke.text

    [item] = client.get("/api/takedowns", headers=comms_headers).json()
    assert item["publication_id"] == publication["id"]
    assert item["url"] == "https://print.example/issue-3"
    assert item["channel"] == "print"
    assert "withdrew consent" in item["reasons"][0]
    assert item["requested_at"]
    state = client.get(f"/api/publications/{publication['id']}", headers=comms_headers).json()
    assert state["status"] == "takedown_required"

    done = client.post(
        f"/api/publications/{publication['id']}/takedown",
        json={"note": "Pulled from the web edition"},
        headers=comms_headers,
    )
    assert done.status_code == 200
    assert done.json()["status"] == "taken_down"
    assert client.get("/api/takedowns", headers=comms_headers).json() == []
    assert (
        client.post(
            f"/api/publications/{uuid.uuid4()}/takedown", json={}, headers=comms_headers
        ).status_code
        == 404
    )


def test_a_certificate_is_revoked_when_its_basis_goes_and_says_so_publicly(
    client: TestClient,
    comms_headers: dict[str, str],
    session: Session,
    make_media: Callable[..., Media],
    make_consent: Callable[..., ConsentRequest],
) -> None:
    import jwt

    media = make_media(faces=[("clear", None)])
    consent = make_consent(channels=["print"], media_ids=[media.id])
    grant(session, consent)
    publication = client.post(
        f"/api/media/{media.id}/publications", json={"channel": "print"}, headers=comms_headers
    ).json()
    jti = certificates.verify(publication["certificate"])["jti"]
    status = client.get(f"/api/certificates/{jti}/status")  # public: no token
    assert status.status_code == 200
    assert status.json() == {"status": "valid", "reason": None, "revoked_at": None}
    assert client.get(f"/api/certificates/{uuid.uuid4()}/status").status_code == 404
    assert client.get("/api/certificates/not-an-id/status").status_code == 404

    client.post(
        f"/api/consent-requests/{consent.id}/revoke",
        json={"note": "by phone"},
        headers=comms_headers,
    ).raise_for_status()
    revoked = client.get(f"/api/certificates/{jti}/status").json()
    assert revoked["status"] == "revoked"
    assert revoked["reason"] == "basis_withdrawn"
    assert revoked["revoked_at"]
    assert consent.subject_name not in str(revoked)

    listing = client.get("/.well-known/revoked-certificates")
    assert listing.headers["content-type"] == "application/jwt"
    keys = client.get("/.well-known/jwks.json").json()
    [key] = keys["keys"]
    public = jwt.PyJWK(key).key
    claims = jwt.decode(listing.text, public, algorithms=["EdDSA"])
    assert [r["jti"] for r in claims["revoked"]] == [jti]
    assert claims["revoked"][0]["reason"] == "basis_withdrawn"


def test_jwks_is_public_and_verifies_certificates(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_media: Callable[..., Media],
) -> None:
    media = make_media(event=make_event())
    publication = client.post(
        f"/api/media/{media.id}/publications", json={"channel": "internal"}, headers=comms_headers
    ).json()
    keys = client.get("/.well-known/jwks.json")
    assert keys.status_code == 200
    [key] = keys.json()["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    claims = certificates.verify(publication["certificate"], keys=keys.json())
    assert claims["rendition"]["id"] == publication["rendition_id"]


def test_batch_gate_answers_each_item_and_refuses_unknown_ids_in_place(
    client: TestClient,
    comms_headers: dict[str, str],
    make_event: Callable[..., Event],
    make_media: Callable[..., Media],
) -> None:
    event = make_event(channels=["internal"])
    media = make_media(event=event)
    missing = str(uuid.uuid4())
    items = [
        {"media_id": str(media.id), "channel": "internal"},
        {"media_id": str(media.id), "channel": "print"},
        {"media_id": missing, "channel": "internal"},
        {"media_id": str(media.id), "channel": "internal", "rendition_id": missing},
    ]
    answer = client.post("/api/publishable", json={"items": items}, headers=comms_headers)
    assert answer.status_code == 200, answer.text
    got = [(a["allowed"], a["reasons"][:1]) for a in answer.json()["items"]]
    assert got[0] == (True, [])
    assert got[1][0] is False
    assert "filming notice" in got[1][1][0]
    assert got[2] == (False, ["No media with this id."])
    assert got[3] == (False, ["No such rendition of this media."])

    bad_channel = [{"media_id": str(media.id), "channel": "fax"}]
    assert (
        client.post("/api/publishable", json={"items": bad_channel}, headers=comms_headers)
    ).status_code == 422
    too_many = [{"media_id": str(media.id), "channel": "internal"}] * 1001
    assert (
        client.post("/api/publishable", json={"items": too_many}, headers=comms_headers)
    ).status_code == 422
    assert (
        client.post("/api/publishable", json={"items": []}, headers=comms_headers).status_code
        == 422
    )
