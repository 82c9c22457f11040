"""Load-or-404 dependencies for the consent routes: the request a path's id or link names.

`...ForUpdate` loads it locked, for a route that decides on it (decisions and publications
that rest on one request are serialised).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from registry.consent import links, service
from registry.consent.models import ConsentRequest
from registry.deps import SessionDep
from registry.web import path_uuid


def request_by_id(request_id: uuid.UUID, session: SessionDep) -> ConsentRequest:
    return service.get_request(session=session, request_id=request_id)


def request_by_id_for_update(request_id: uuid.UUID, session: SessionDep) -> ConsentRequest:
    return service.get_request(session=session, request_id=request_id, lock=True)


def page_consent(request_id: str, session: SessionDep) -> ConsentRequest:
    """The request a staff page's path names; the 404 page otherwise (a mistyped id too)."""
    return service.get_request(session=session, request_id=path_uuid(request_id, "consent request"))


def page_consent_for_update(request_id: str, session: SessionDep) -> ConsentRequest:
    return service.get_request(
        session=session, request_id=path_uuid(request_id, "consent request"), lock=True
    )


def linked_consent(token: str, session: SessionDep) -> ConsentRequest:
    """The request the patient's link (`/c/{token}`) names: 404 for a forged or replaced link,
    410 once it expired or the record was erased."""
    return links.request_for_token(session=session, token=token)


def linked_consent_for_update(token: str, session: SessionDep) -> ConsentRequest:
    return links.request_for_token(session=session, token=token, lock=True)


RequestByID = Annotated[ConsentRequest, Depends(request_by_id)]
RequestByIDForUpdate = Annotated[ConsentRequest, Depends(request_by_id_for_update)]
PageConsent = Annotated[ConsentRequest, Depends(page_consent)]
PageConsentForUpdate = Annotated[ConsentRequest, Depends(page_consent_for_update)]
LinkedConsent = Annotated[ConsentRequest, Depends(linked_consent)]
LinkedConsentForUpdate = Annotated[ConsentRequest, Depends(linked_consent_for_update)]
