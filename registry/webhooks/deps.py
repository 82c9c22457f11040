"""Load-or-404 dependencies for the webhook routes: the endpoint a path names.

The API reads the id as a UUID (a malformed one is a 422 naming the parameter); a page reads it
as text, so that a mistyped address gets the same friendly 404 page as an unknown endpoint.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from registry.deps import SessionDep
from registry.web import path_uuid
from registry.webhooks import service
from registry.webhooks.models import WebhookEndpoint


def endpoint_by_id(endpoint_id: uuid.UUID, session: SessionDep) -> WebhookEndpoint:
    return service.get_endpoint(session=session, endpoint_id=endpoint_id)


def page_endpoint(endpoint_id: str, session: SessionDep) -> WebhookEndpoint:
    """The endpoint a page's path names; the 404 page otherwise (a mistyped id too)."""
    return service.get_endpoint(
        session=session, endpoint_id=path_uuid(endpoint_id, "webhook endpoint")
    )


EndpointByID = Annotated[WebhookEndpoint, Depends(endpoint_by_id)]
PageEndpoint = Annotated[WebhookEndpoint, Depends(page_endpoint)]
