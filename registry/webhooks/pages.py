"""Webhook pages (admins): register an endpoint, its delivery log, replay, rotate the secret,
disable, enable and delete; the same service calls as the API."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Form, Request
from fastapi.responses import Response
from sqlmodel import Session

from registry.crypto import DecryptionFailed
from registry.db import utcnow
from registry.deps import PageAdmin, PageAdminActor, SessionDep
from registry.errors import Invalid, redirect_on_error, render_on_error
from registry.web import page_router, redirect, render
from registry.webhooks import service
from registry.webhooks.deps import PageEndpoint
from registry.webhooks.models import EVENTS, WebhookEndpoint

router = page_router()

# What each event tells the receiver, in words (the payloads carry ids, never names).
EVENT_WORDS = {
    "publication.takedown_required": "A published post must come down (consent withdrawn or "
    "expired, an objection, an opt-out). Carries the post's address and a reason class.",
    "media.cleared": "A photo or video was cleared for use.",
    "media.flagged": "A photo or video was flagged: it may not be used as it is.",
    "consent.revoked": "A patient withdrew consent; carries the media it covered.",
    "booking.opted_out": "An attendee opted out of photos at an event (which event, never who).",
}


def _list_context(session: Session) -> dict[str, Any]:
    return {
        "endpoints": service.endpoints(session=session),
        "events": [(e, EVENT_WORDS.get(e, "")) for e in EVENTS],
    }


# The secret crosses the redirect sealed (the flash cookie is signed, not encrypted), so it is
# readable only on the page that shows it, once.
def _hand_over(endpoint: WebhookEndpoint, secret: str, message: str) -> Response:
    sealed = base64.urlsafe_b64encode(service.seal(endpoint.id, secret)).decode()
    return redirect(
        f"/webhooks/{endpoint.id}#secret", message=message, place="secret", keep={"secret": sealed}
    )


def _reveal(endpoint_id: uuid.UUID) -> Callable[[str], str | None]:
    def reveal(sealed: str) -> str | None:
        try:
            return service.unseal(endpoint_id, base64.urlsafe_b64decode(sealed))
        except (DecryptionFailed, binascii.Error, ValueError):
            return None  # sealed for another endpoint, or under an older key

    return reveal


@router.get("/webhooks")
def webhooks_list(request: Request, staff: PageAdmin, session: SessionDep) -> Response:
    return render(request, "webhooks/list.html", {**_list_context(session), "form": {}})


@router.post("/webhooks")
def webhooks_register(
    request: Request,
    actor: PageAdminActor,
    session: SessionDep,
    url: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
) -> Response:
    form = {"url": url, "description": description, "events": events or []}
    with render_on_error("webhooks/list.html", {"form": form}, load=_list_context):
        endpoint, secret = service.register(
            session=session,
            actor=actor,
            url=url,
            events=events or [],
            description=description,
        )
    return _hand_over(
        endpoint, secret, "Registered. Copy its signing secret now: it is shown only this once."
    )


@router.get("/webhooks/{endpoint_id}")
def webhook_detail(
    request: Request, staff: PageAdmin, endpoint: PageEndpoint, session: SessionDep
) -> Response:
    return render(
        request,
        "webhooks/detail.html",
        {
            "endpoint": endpoint,
            "deliveries": service.deliveries(session=session, endpoint=endpoint),
            "event_words": EVENT_WORDS,
            "reveal": _reveal(endpoint.id),
            "now": utcnow(),
        },
    )


@router.post("/webhooks/{endpoint_id}/rotate-secret")
def webhook_rotate(
    request: Request, actor: PageAdminActor, endpoint: PageEndpoint, session: SessionDep
) -> Response:
    with redirect_on_error(f"/webhooks/{endpoint.id}"):
        secret = service.rotate(session=session, actor=actor, endpoint=endpoint)
    return _hand_over(
        endpoint,
        secret,
        "New signing secret: copy it now, it is shown only this once. The old one keeps "
        "signing beside it for 24 hours.",
    )


@router.post("/webhooks/{endpoint_id}/disable")
def webhook_disable(
    request: Request, actor: PageAdminActor, endpoint: PageEndpoint, session: SessionDep
) -> Response:
    with redirect_on_error(f"/webhooks/{endpoint.id}"):
        service.disable(session=session, actor=actor, endpoint=endpoint)
    return redirect(
        f"/webhooks/{endpoint.id}",
        message="Disabled: nothing is sent to it until it is enabled again.",
    )


@router.post("/webhooks/{endpoint_id}/enable")
def webhook_enable(
    request: Request, actor: PageAdminActor, endpoint: PageEndpoint, session: SessionDep
) -> Response:
    with redirect_on_error(f"/webhooks/{endpoint.id}"):
        service.enable(session=session, actor=actor, endpoint=endpoint)
    return redirect(
        f"/webhooks/{endpoint.id}",
        message="Enabled: new events are sent to it again. Replay what failed meanwhile below.",
    )


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay")
def webhook_replay(
    request: Request,
    delivery_id: str,
    actor: PageAdminActor,
    endpoint: PageEndpoint,
    session: SessionDep,
) -> Response:
    with redirect_on_error(f"/webhooks/{endpoint.id}#deliveries", place="deliveries"):
        delivery = service.replay(
            session=session,
            actor=actor,
            endpoint=endpoint,
            delivery_id=delivery_id,
        )
    return redirect(
        f"/webhooks/{endpoint.id}#deliveries",
        message=f"Sending {delivery.event} ({delivery.id}) again, with the same id.",
        place="deliveries",
    )


@router.post("/webhooks/{endpoint_id}/delete")
def webhook_delete(
    request: Request,
    actor: PageAdminActor,
    endpoint: PageEndpoint,
    session: SessionDep,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    with redirect_on_error(f"/webhooks/{endpoint.id}#delete", place="delete"):
        if confirm != "delete":
            raise Invalid("Tick the box to confirm that it is to be deleted.")
        service.delete(session=session, actor=actor, endpoint=endpoint)
    return redirect("/webhooks", message=f"Deleted the endpoint {endpoint.url}.")
