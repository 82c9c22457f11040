"""A revocation and a publication racing: the revocation is never missed.

Each request runs in its own transaction on its own connection, as in production (no test
rollback). On PostgreSQL the publication locks the consent rows it reads and the revocation
locks the request; on SQLite the publication takes the write lock before it reads. Either the
publication is refused (the revocation came first) or it was recorded first and the revocation
put it on the takedown list in the same transaction.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlmodel import col, select

from registry.audit.service import SYSTEM, Actor
from registry.consent import decisions as consent_decisions
from registry.consent import notices as consent_notices
from registry.consent import service as consents
from registry.consent.models import ConsentAction, ConsentEvent
from registry.db import unit_of_work
from registry.media import service as media_service
from registry.media.models import MediaFace, MediaStatus
from registry.publishing import service, takedowns
from registry.publishing.models import Publication
from tests.publishing.factories import jpeg_with_gps

ROUNDS = 20


def _setup() -> tuple[uuid.UUID, uuid.UUID]:
    with unit_of_work() as session:
        [(media, _)] = media_service.upload(
            session=session,
            actor=SYSTEM,
            files=[media_service.Upload("race.jpg", jpeg_with_gps(random.randrange(250)))],
            event=None,
        )
        media.status = MediaStatus.cleared
        session.add(media)
        session.add(MediaFace(media_id=media.id, number=1, top=1, right=50, bottom=50, left=1))
        request = consents.create_request(
            session=session,
            actor=SYSTEM,
            subject_name="Racing Patient",
            purpose="A case study for members.",
            description="One photo.",
            channels=["closed_network"],
            media_ids=[media.id],
        )
        consent_decisions.decide(
            session=session,
            request=request,
            decision="grant",
            notice_version=consent_notices.current_notice(session=session).version,
        )
        return media.id, request.id


@pytest.fixture
def committed(engine: Engine) -> Iterator[list[tuple[uuid.UUID, uuid.UUID]]]:
    made: list[tuple[uuid.UUID, uuid.UUID]] = []
    yield made
    # Other tests share this database inside rolled-back transactions: leave nothing behind
    # that they could see (the audit log is append-only and stays, still a valid chain).
    with engine.begin() as conn:
        # consent_event refuses DELETE unless an erasure permit names the request (as an
        # erasure does, inside its transaction).
        for media_id, request_id in made:
            params = {
                "m": str(media_id) if conn.dialect.name == "postgresql" else media_id.hex,
                "r": str(request_id) if conn.dialect.name == "postgresql" else request_id.hex,
            }
            conn.execute(text("INSERT INTO erasure_permit (record_id) VALUES (:r)"), params)
            for sql in (
                "DELETE FROM publication WHERE media_id = :m",
                "DELETE FROM rendition WHERE media_id = :m",
                "DELETE FROM media_face WHERE media_id = :m",
                "DELETE FROM consent_media WHERE media_id = :m",
                "DELETE FROM consent_event WHERE request_id = :r",
                "DELETE FROM consent_request WHERE id = :r",
                "DELETE FROM media WHERE id = :m",
                "DELETE FROM erasure_permit WHERE record_id = :r",
            ):
                conn.execute(text(sql), params)
        conn.execute(text("DELETE FROM outbox_message"))


def _race(
    media_id: uuid.UUID, request_id: uuid.UUID, round_number: int
) -> tuple[int, list[BaseException]]:
    """Revoke and publish at once, each in its own transaction; (refusals, errors)."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    refused = 0

    def revoke() -> None:
        try:
            start.wait()
            time.sleep(random.uniform(0, 0.012))  # land before, during or after publishing
            with unit_of_work() as session:
                request = consents.get_request(session=session, request_id=request_id, lock=True)
                consent_decisions.revoke_for_patient(
                    session=session, actor=SYSTEM, request=request, note="race"
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    def publish() -> None:
        nonlocal refused
        try:
            start.wait()
            with unit_of_work() as session:
                media = media_service.get_media(session=session, media_id=media_id)
                service.publish(
                    session=session,
                    actor=Actor.staff(1),
                    media=media,
                    channel="closed_network",
                    url=f"https://members.example/{round_number}",
                )
        except service.Refused:
            refused += 1
        except BaseException as exc:  # noqa: BLE001 - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=revoke), threading.Thread(target=publish)]
    if round_number % 2:
        threads.reverse()  # vary which starts first
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return refused, errors


def test_concurrent_revoke_and_publish_never_misses_the_revocation(
    committed: list[tuple[uuid.UUID, uuid.UUID]],
) -> None:
    outcomes = {"refused": 0, "published_then_taken_down": 0}
    for round_number in range(ROUNDS):
        media_id, request_id = _setup()
        committed.append((media_id, request_id))
        refused, errors = _race(media_id, request_id, round_number)
        assert not errors, errors
        outcomes["refused"] += refused

        with unit_of_work() as session:
            publication = session.exec(
                select(Publication).where(Publication.media_id == media_id)
            ).first()
            revoked_at = session.exec(
                select(ConsentEvent.at).where(
                    ConsentEvent.request_id == request_id,
                    col(ConsentEvent.action) == ConsentAction.revoked,
                )
            ).one()
            if publication is not None:
                # Recorded before the revocation, and the revocation noticed it at once.
                assert publication.published_at <= revoked_at
                assert publication.takedown_requested_at is not None
                assert [p.id for p, _ in takedowns.takedowns(session=session)].count(
                    publication.id
                ) == 1
                outcomes["published_then_taken_down"] += 1
    assert sum(outcomes.values()) == ROUNDS, outcomes
