"""The publish gate's five rules, table-driven: each case flips exactly one fact."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from registry.publishing.gate import (
    BadgeFact,
    ConsentFact,
    EventFact,
    FaceFact,
    Facts,
    RenditionFact,
    check,
)

ALICE = uuid.uuid4()  # an attendee who opted out
BOB = uuid.uuid4()  # an attendee who did not
EXPIRY = datetime(2027, 6, 1, tzinfo=UTC)


def event(**changes: object) -> EventFact:
    base = EventFact(
        id=uuid.uuid4(),
        name="Spring Conference",
        channels=("public_social", "closed_network", "internal", "print"),
        notice_version=1,
        opted_out=frozenset({ALICE}),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def consent(status: str = "granted", channels: tuple[str, ...] = ("public_social",)) -> ConsentFact:
    return ConsentFact(
        id=uuid.uuid4(),
        subject="Sam Patient",
        status=status,
        channels=channels,
        expires_at=EXPIRY,
        changed_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def event_photo(**changes: object) -> Facts:
    """A cleared event photo showing Bob (not opted out) and a stranger."""
    base = Facts(
        media_id=uuid.uuid4(),
        sha256="a" * 64,
        status="cleared",
        event=event(),
        faces=(FaceFact(1, "clear"), FaceFact(2, "clear", booking_id=None)),
        badges=(BadgeFact("BOBCODE234", booking_id=BOB, name="Bob"),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def clinical(**changes: object) -> Facts:
    """Clinical media (no event) showing one face, with one granted consent."""
    base = Facts(
        media_id=uuid.uuid4(),
        sha256="b" * 64,
        status="cleared",
        faces=(FaceFact(1, "clear"),),
        consents=(consent(),),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


ALICE_FACE = FaceFact(3, "opted_out", booking_id=ALICE, name="Alice")
ALICE_BADGE = BadgeFact("ALICECODE2", booking_id=ALICE, name="Alice")
REDACTED = RenditionFact(
    id=uuid.uuid4(),
    kind="redacted",
    sha256="c" * 64,
    verified=True,
    obscured_faces=frozenset({3}),
    obscured_badges=frozenset({"ALICECODE2"}),
)
FLAGGED = {"status": "flagged", "faces": (FaceFact(1, "clear"), ALICE_FACE)}

# (case, facts, channel, allowed, a phrase every refusal must contain)
CASES = [
    # The baselines: allowed.
    ("event photo, nobody opted out", event_photo(), "public_social", True, None),
    ("clinical photo, one consent", clinical(), "public_social", True, None),
    # Rule 1: clearance final, nothing to review.
    ("still pending", event_photo(status="pending"), "internal", False, "still being checked"),
    ("processing", event_photo(status="processing"), "internal", False, "still being checked"),
    ("failed", event_photo(status="failed", failure="truncated"), "internal", False, "truncated"),
    (
        "a face to review",
        event_photo(
            status="needs_review",
            faces=(FaceFact(1, "review", booking_id=ALICE, name="Alice"),),
        ),
        "internal",
        False,
        "reviewer must confirm",
    ),
    (
        "a face to review, even with a redacted copy",
        event_photo(
            status="needs_review",
            faces=(FaceFact(3, "review", booking_id=ALICE, name="Alice"),),
            rendition=REDACTED,
        ),
        "internal",
        False,
        "reviewer must confirm",
    ),
    (
        "too small to verify is reported, not blocking",
        event_photo(faces=(FaceFact(1, "too_small"),)),
        "internal",
        True,
        None,
    ),
    # Rule 2: nobody who opted out (now) is visible, unless a verified redaction hides them.
    ("opted-out face", event_photo(**FLAGGED), "internal", False, "Alice"),
    (
        "opted-out badge only",
        event_photo(status="flagged", badges=(ALICE_BADGE,)),
        "internal",
        False,
        "the badge of Alice",
    ),
    (
        "verified redacted copy hides her",
        event_photo(**FLAGGED, badges=(ALICE_BADGE,), rendition=REDACTED),
        "public_social",
        True,
        None,
    ),
    (
        "redacted copy not verified",
        event_photo(**FLAGGED, rendition=replace(REDACTED, verified=False)),
        "internal",
        False,
        "failed its check",
    ),
    (
        "a video's redaction still being made",
        event_photo(
            **FLAGGED,
            rendition=replace(
                REDACTED, sha256="", verified=False, status="processing", progress=0.42
            ),
        ),
        "internal",
        False,
        "still being made (42% done)",
    ),
    (
        "a video's redaction that could not be made",
        event_photo(
            **FLAGGED, rendition=replace(REDACTED, sha256="", verified=False, status="failed")
        ),
        "internal",
        False,
        "could not be made",
    ),
    (
        "a redaction being made, even where nobody needs hiding",
        event_photo(rendition=replace(REDACTED, sha256="", status="pending", progress=0.0)),
        "public_social",
        False,
        "still being made",
    ),
    (
        "redacted before she opted out (face)",
        event_photo(**FLAGGED, rendition=replace(REDACTED, obscured_faces=frozenset())),
        "internal",
        False,
        "redact the photo again",
    ),
    (
        "redacted copy misses her badge",
        event_photo(
            status="flagged",
            badges=(ALICE_BADGE,),
            rendition=replace(REDACTED, obscured_badges=frozenset()),
        ),
        "internal",
        False,
        "redact the photo again",
    ),
    (
        "a clean (unredacted) copy does not hide anyone",
        event_photo(**FLAGGED, rendition=replace(REDACTED, kind="clean")),
        "internal",
        False,
        "verified redacted copy instead",
    ),
    (
        "she opted back in (face still cached as hers, but not opted out now)",
        event_photo(**FLAGGED, event=event(opted_out=frozenset())),
        "internal",
        True,
        None,
    ),
    # Rule 3: every linked consent granted now and covering the channel.
    (
        "consent pending",
        clinical(consents=(consent("pending"),)),
        "public_social",
        False,
        "not been given",
    ),
    (
        "consent declined",
        clinical(consents=(consent("declined"),)),
        "public_social",
        False,
        "declined",
    ),
    (
        "consent revoked",
        clinical(consents=(consent("revoked"),)),
        "public_social",
        False,
        "withdrew",
    ),
    (
        "consent expired",
        clinical(consents=(consent("expired"),)),
        "public_social",
        False,
        "expired",
    ),
    (
        "consent does not cover the channel",
        clinical(consents=(consent(channels=("internal",)),)),
        "public_social",
        False,
        "does not cover our public social media",
    ),
    (
        "one of two consents revoked",
        clinical(
            faces=(FaceFact(1, "clear"), FaceFact(2, "clear")),
            consents=(consent(), consent("revoked")),
        ),
        "public_social",
        False,
        "withdrew",
    ),
    (
        "an event photo with a patient's consent revoked",
        event_photo(consents=(consent("revoked"),)),
        "public_social",
        False,
        "withdrew",
    ),
    # Rule 4: media not from an event needs consent, one per face.
    (
        "clinical without consent",
        clinical(consents=()),
        "public_social",
        False,
        "needs a patient's consent",
    ),
    (
        "clinical with no faces still needs consent",
        clinical(faces=(), consents=()),
        "internal",
        False,
        "needs a patient's consent",
    ),
    (
        "two faces, one consent",
        clinical(faces=(FaceFact(1, "clear"), FaceFact(2, "clear"))),
        "public_social",
        False,
        "more consent needed",
    ),
    (
        "two faces, two consents",
        clinical(
            faces=(FaceFact(1, "clear"), FaceFact(2, "clear")), consents=(consent(), consent())
        ),
        "public_social",
        True,
        None,
    ),
    (
        "two faces, one consent, one staff member who consented otherwise",
        clinical(faces=(FaceFact(1, "clear"), FaceFact(2, "clear", consented_otherwise="staff:1"))),
        "public_social",
        True,
        None,
    ),
    (
        "only staff who consented otherwise still needs one consent",
        clinical(faces=(FaceFact(1, "clear", consented_otherwise="staff:1"),), consents=()),
        "public_social",
        False,
        "needs a patient's consent",
    ),
    # Rule 5: the event notice covers the channel.
    (
        "notice names internal only",
        event_photo(event=event(channels=("internal",))),
        "public_social",
        False,
        "told attendees images would be used on internal staff communications",
    ),
    (
        "notice names internal: internal is fine",
        event_photo(event=event(channels=("internal",))),
        "internal",
        True,
        None,
    ),
    (
        "notice names no channels",
        event_photo(event=event(channels=())),
        "internal",
        False,
        "no channels",
    ),
]


@pytest.mark.parametrize(
    ("facts", "channel", "allowed", "phrase"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_gate_rule(facts: Facts, channel: str, allowed: bool, phrase: str | None) -> None:
    verdict = check(facts, channel)
    assert verdict.allowed is allowed, verdict.reasons
    if allowed:
        assert verdict.reasons == []
    else:
        assert phrase is not None
        assert any(phrase in r for r in verdict.reasons), verdict.reasons


def test_every_failing_rule_is_reported_not_just_the_first() -> None:
    facts = event_photo(
        status="flagged",
        faces=(ALICE_FACE,),
        consents=(consent("revoked"),),
        event=event(channels=("internal",)),
    )
    reasons = check(facts, "public_social").reasons
    assert len(reasons) == 3
    assert any("Alice" in r for r in reasons)
    assert any("withdrew" in r for r in reasons)
    assert any("filming notice" in r for r in reasons)


def test_allowed_verdict_names_its_basis_and_earliest_expiry() -> None:
    early = replace(consent(), expires_at=datetime(2027, 1, 1, tzinfo=UTC))
    facts = clinical(
        faces=(FaceFact(1, "clear"), FaceFact(2, "clear")), consents=(consent(), early)
    )
    verdict = check(facts, "public_social")
    assert verdict.allowed
    assert set(verdict.consent_ids) == {c.id for c in facts.consents}
    assert verdict.expires_at == datetime(2027, 1, 1, tzinfo=UTC)
