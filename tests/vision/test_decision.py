"""The clearance decision on plain data (unit tests; encodings are synthetic vectors)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from registry.vision.decision import (
    BadgeInput,
    FaceDecision,
    FaceInput,
    PhotoStatus,
    Review,
    Thresholds,
    TransientRef,
    Via,
    decide,
)

ALICE, BOB = uuid.uuid4(), uuid.uuid4()


def vec(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128)
    return v / np.linalg.norm(v)


def near(base: np.ndarray, distance: float, seed: int = 99) -> np.ndarray:
    """A vector exactly `distance` away from base."""
    direction = np.random.default_rng(seed).normal(size=128)
    direction -= direction.dot(base) * base
    return base + direction / np.linalg.norm(direction) * distance


def face(face_id: int, encoding: np.ndarray | None, x: int = 100, width: int = 100) -> FaceInput:
    return FaceInput(id=face_id, box=(100, x + width, 100 + width, x), encoding=encoding)


def badge_below(f: FaceInput, booking: uuid.UUID | None, code: str = "CODE") -> BadgeInput:
    top, right, bottom, left = f.box
    return BadgeInput(
        code=code, box=(bottom + 60, right - 20, bottom + 120, left + 20), booking_id=booking
    )


def test_a_clear_match_flags_the_photo_with_a_reason() -> None:
    alice = vec(1)
    result = decide(
        faces=[face(1, near(alice, 0.3)), face(2, vec(2), x=400)],
        badges=[],
        opted_out={ALICE},
        references={ALICE: [alice]},
    )
    assert result.status == PhotoStatus.flagged
    first = result.faces[0]
    assert (first.booking_id, first.via, first.decision) == (
        ALICE,
        Via.face,
        FaceDecision.opted_out,
    )
    assert first.distance == pytest.approx(0.3, abs=1e-3)
    assert result.faces[1].decision == FaceDecision.clear
    assert (
        "Face 1 is a strong match for an attendee who opted out, with their reference photo "
        "(distance 0.30)." in result.reasons
    )


def test_grey_zone_needs_review_and_far_is_clear() -> None:
    alice = vec(1)
    grey = decide(
        faces=[face(1, near(alice, 0.55))],
        badges=[],
        opted_out={ALICE},
        references={ALICE: [alice]},
    )
    assert grey.status == PhotoStatus.needs_review
    assert grey.faces[0].decision == FaceDecision.review
    far = decide(
        faces=[face(1, near(alice, 0.8))], badges=[], opted_out={ALICE}, references={ALICE: [alice]}
    )
    assert far.status == PhotoStatus.cleared


def test_minimum_distance_over_an_attendees_references() -> None:
    alice = vec(1)
    result = decide(
        faces=[face(1, near(alice, 0.3))],
        badges=[],
        opted_out={ALICE},
        references={ALICE: [vec(5), alice, vec(6)]},
    )
    assert result.faces[0].distance == pytest.approx(0.3, abs=1e-3)


def test_attendees_who_opted_back_in_are_not_matched() -> None:
    alice = vec(1)
    result = decide(faces=[face(1, alice)], badges=[], opted_out=set(), references={ALICE: [alice]})
    assert result.status == PhotoStatus.cleared


def test_badge_under_a_face_links_it_and_teaches_a_transient_reference() -> None:
    worn = face(1, vec(3))
    result = decide(
        faces=[worn, face(2, vec(4), x=600)],
        badges=[badge_below(worn, ALICE)],
        opted_out={ALICE},
        references={},
    )
    assert result.status == PhotoStatus.flagged
    assert (result.faces[0].via, result.faces[0].booking_id) == (Via.badge, ALICE)
    assert result.faces[1].decision == FaceDecision.clear
    assert [r.tolist() for r in result.new_references[ALICE]] == [vec(3).tolist()]

    # Seen once, the link may be wrong (a bystander next to the badge): elsewhere, a match with
    # it asks a person; corroborated (seen twice, or confirmed), it flags.
    once = [TransientRef(ALICE, r) for r in result.new_references[ALICE]]
    elsewhere = decide(
        faces=[face(7, near(vec(3), 0.2))],
        badges=[],
        opted_out={ALICE},
        references={},
        transient=once,
    )
    assert (elsewhere.faces[0].via, elsewhere.status) == (Via.linked, PhotoStatus.needs_review)
    assert "not confirmed yet" in elsewhere.reasons[0]
    twice = [TransientRef(ALICE, r, corroborated=True) for r in result.new_references[ALICE]]
    confirmed = decide(
        faces=[face(7, near(vec(3), 0.2))],
        badges=[],
        opted_out={ALICE},
        references={},
        transient=twice,
    )
    assert (confirmed.faces[0].via, confirmed.status) == (Via.linked, PhotoStatus.flagged)


def test_a_badge_between_two_faces_is_linked_to_neither() -> None:
    left, right = face(1, vec(3), x=100), face(2, vec(4), x=220)
    between = BadgeInput(code="C", box=(260, 240, 320, 180), booking_id=ALICE)
    result = decide(faces=[left, right], badges=[between], opted_out={ALICE}, references={})
    assert result.new_references == {}  # nobody becomes a reference for Alice
    assert [f.decision for f in result.faces] == [FaceDecision.review, FaceDecision.review]
    assert result.badges[0].face_id is None
    assert result.badges[0].candidates == (1, 2) or result.badges[0].candidates == (2, 1)
    assert result.status == PhotoStatus.flagged  # her badge is visible, so she is there
    assert any("too close to tell which" in r for r in result.reasons)


def test_a_badge_beside_a_face_or_of_the_wrong_size_is_not_theirs() -> None:
    worn = face(1, vec(3))
    top, right, bottom, left = worn.box
    beside = BadgeInput("C", (bottom + 60, right + 260, bottom + 120, right + 200), ALICE)
    huge = BadgeInput("D", (bottom + 60, right + 100, bottom + 260, left - 100), ALICE)
    for badge in (beside, huge):
        result = decide(faces=[worn], badges=[badge], opted_out={ALICE}, references={})
        assert result.faces[0].decision == FaceDecision.clear
        assert result.new_references == {}


def test_opted_out_badge_without_a_face_still_flags() -> None:
    result = decide(
        faces=[],
        badges=[BadgeInput(code="C", box=(10, 50, 50, 10), booking_id=ALICE)],
        opted_out={ALICE},
        references={},
    )
    assert result.status == PhotoStatus.flagged
    assert "The badge of an attendee who opted out is visible" in result.reasons[0]


def test_badges_of_attendees_who_may_appear_and_unknown_codes() -> None:
    worn = face(1, vec(3))
    result = decide(
        faces=[worn],
        badges=[badge_below(worn, BOB), BadgeInput("https://x", (500, 600, 600, 500), None)],
        opted_out={ALICE},
        references={},
    )
    assert result.status == PhotoStatus.cleared
    assert any("not a badge of this event" in r for r in result.reasons)


def test_not_this_person_is_respected_and_confirm_sticks() -> None:
    alice = vec(1)
    faces = [face(1, near(alice, 0.55))]
    ruled_out = decide(
        faces=faces,
        badges=[],
        opted_out={ALICE},
        references={ALICE: [alice]},
        reviews=[Review(face_id=1, booking_id=ALICE, confirmed=False)],
    )
    assert ruled_out.status == PhotoStatus.cleared
    confirmed = decide(
        faces=faces,
        badges=[],
        opted_out={ALICE},
        references={ALICE: [alice]},
        reviews=[Review(face_id=1, booking_id=ALICE, confirmed=True)],
    )
    assert confirmed.status == PhotoStatus.flagged


def test_small_faces_are_reported_not_guessed() -> None:
    result = decide(
        faces=[face(1, None, width=20)], badges=[], opted_out={ALICE}, references={ALICE: [vec(1)]}
    )
    assert result.faces[0].decision == FaceDecision.too_small
    assert result.status == PhotoStatus.cleared
    assert "too small to verify" in result.reasons[0]


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(match=0.7, review=0.6)


def test_a_small_face_that_matches_is_still_flagged() -> None:
    alice = vec(1)
    result = decide(
        faces=[face(1, near(alice, 0.4), width=34), face(2, vec(8), x=500, width=30)],
        badges=[],
        opted_out={ALICE},
        references={ALICE: [alice]},
    )
    assert result.status == PhotoStatus.flagged
    assert [f.decision for f in result.faces] == [FaceDecision.opted_out, FaceDecision.too_small]


@pytest.mark.parametrize("why", ["partly covered", "turned away"])
def test_a_face_that_cannot_be_verified_well_is_reviewed_further_out(why: str) -> None:
    """A partly covered or turned face is further from its own reference than a whole one:
    between the review threshold and the caution one it goes to a person, who is told why;
    a whole face at the same distance is clear, and anything further is clear for both."""
    alice = vec(1)
    t = Thresholds()
    between = (t.review + t.caution) / 2
    cautious = FaceInput(id=1, box=(100, 200, 200, 100), encoding=near(alice, between), caution=why)
    whole = FaceInput(id=2, box=(100, 500, 200, 400), encoding=near(alice, between, seed=5))
    beyond = FaceInput(
        id=3, box=(100, 800, 200, 700), encoding=near(alice, t.caution + 0.03), caution=why
    )
    result = decide(
        faces=[cautious, whole, beyond], badges=[], opted_out={ALICE}, references={ALICE: [alice]}
    )
    assert [f.decision for f in result.faces] == [
        FaceDecision.review,
        FaceDecision.clear,
        FaceDecision.clear,
    ]
    assert result.status == PhotoStatus.needs_review
    assert any(
        f"Face 1 is {why}, so its likeness cannot be verified well" in r for r in result.reasons
    )
    # A strong match is a match, covered or not.
    strong = FaceInput(id=1, box=(100, 200, 200, 100), encoding=near(alice, 0.3), caution=why)
    result = decide(faces=[strong], badges=[], opted_out={ALICE}, references={ALICE: [alice]})
    assert result.faces[0].decision == FaceDecision.opted_out
