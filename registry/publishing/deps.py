"""Load-or-404 dependencies for the publishing routes: the publication a path names.

The API reads the id as a UUID (a malformed one is a 422 naming the parameter); a page reads it
as text, so that a mistyped address gets the same friendly 404 page as an unknown publication.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from registry.deps import SessionDep
from registry.publishing import service
from registry.publishing.models import Publication
from registry.web import path_uuid


def publication_by_id(publication_id: uuid.UUID, session: SessionDep) -> Publication:
    return service.get_publication(session=session, publication_id=publication_id)


def page_publication(publication_id: str, session: SessionDep) -> Publication:
    """The publication a page's path names; the 404 page otherwise (a mistyped id too)."""
    return service.get_publication(
        session=session, publication_id=path_uuid(publication_id, "publication")
    )


PublicationByID = Annotated[Publication, Depends(publication_by_id)]
PagePublication = Annotated[Publication, Depends(page_publication)]
