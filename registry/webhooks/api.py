"""Webhook endpoints over the API (admins): register, list, delete, rotate the secret, disable
and enable, the delivery log and replay."""

from __future__ import annotations

from fastapi import APIRouter, Response

from registry.deps import AdminActor, AdminStaff, SessionDep
from registry.errors import Forbidden, Invalid, NotFound, Unauthorized, error_responses
from registry.webhooks import service
from registry.webhooks.deps import EndpointByID
from registry.webhooks.models import WebhookDelivery, WebhookEndpoint
from registry.webhooks.schemas import (
    DeliveryPublic,
    EndpointCreated,
    EndpointIn,
    EndpointPublic,
    SecretRotated,
)

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])
ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Invalid)


def _public(endpoint: WebhookEndpoint) -> EndpointPublic:
    return EndpointPublic(
        id=endpoint.id,
        url=endpoint.url,
        events=list(endpoint.events),
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        failures=endpoint.failures,
        created_at=endpoint.created_at,
    )


def _delivery(d: WebhookDelivery) -> DeliveryPublic:
    return DeliveryPublic(
        id=d.id,
        event=d.event,
        state=str(d.state),
        attempts=d.attempts,
        payload=d.payload,
        created_at=d.created_at,
        next_attempt_at=d.next_attempt_at,
        last_attempt_at=d.last_attempt_at,
        last_status=d.last_status,
        last_response=d.last_response,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
    )


@router.post("", status_code=201, response_model=EndpointCreated, responses=ERRORS)
def register(body: EndpointIn, actor: AdminActor, session: SessionDep) -> EndpointCreated:
    """Register a receiver for some events; the answer carries its signing secret, once.
    The address must be https and resolve to public addresses only."""
    endpoint, secret = service.register(
        session=session,
        actor=actor,
        url=body.url,
        events=body.events,
        description=body.description,
    )
    return EndpointCreated(**_public(endpoint).model_dump(), secret=secret)


@router.get("", response_model=list[EndpointPublic], responses=ERRORS)
def list_endpoints(staff: AdminStaff, session: SessionDep) -> list[EndpointPublic]:
    """Every endpoint (never its secret)."""
    return [_public(e) for e in service.endpoints(session=session)]


@router.delete("/{endpoint_id}", status_code=204, responses=ERRORS)
def delete(actor: AdminActor, endpoint: EndpointByID, session: SessionDep) -> Response:
    """Stop sending to it (queued deliveries are dropped; the log is kept)."""
    service.delete(session=session, actor=actor, endpoint=endpoint)
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=SecretRotated, responses=ERRORS)
def rotate(actor: AdminActor, endpoint: EndpointByID, session: SessionDep) -> SecretRotated:
    """A new signing secret; for 24 hours deliveries are signed with the old one too."""
    secret = service.rotate(session=session, actor=actor, endpoint=endpoint)
    assert endpoint.previous_until is not None
    return SecretRotated(secret=secret, previous_valid_until=endpoint.previous_until)


@router.post("/{endpoint_id}/disable", response_model=EndpointPublic, responses=ERRORS)
def disable(actor: AdminActor, endpoint: EndpointByID, session: SessionDep) -> EndpointPublic:
    """Stop sending to it for now (events meanwhile are not queued for it)."""
    service.disable(session=session, actor=actor, endpoint=endpoint)
    return _public(endpoint)


@router.post("/{endpoint_id}/enable", response_model=EndpointPublic, responses=ERRORS)
def enable(actor: AdminActor, endpoint: EndpointByID, session: SessionDep) -> EndpointPublic:
    """Send to a disabled endpoint again (replay what failed meanwhile from its log)."""
    service.enable(session=session, actor=actor, endpoint=endpoint)
    return _public(endpoint)


@router.get("/{endpoint_id}/deliveries", response_model=list[DeliveryPublic], responses=ERRORS)
def deliveries(
    actor: AdminActor, endpoint: EndpointByID, session: SessionDep
) -> list[DeliveryPublic]:
    """The endpoint's delivery log, newest first (the last 100), with each one's last answer."""
    return [_delivery(d) for d in service.deliveries(session=session, endpoint=endpoint)]


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=DeliveryPublic,
    responses=ERRORS,
)
def replay(
    delivery_id: str, actor: AdminActor, endpoint: EndpointByID, session: SessionDep
) -> DeliveryPublic:
    """Send a delivery again now, with the same id."""
    delivery = service.replay(
        session=session, actor=actor, endpoint=endpoint, delivery_id=delivery_id
    )
    return _delivery(delivery)
