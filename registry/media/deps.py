"""Load-or-404 dependencies for the media routes: the media a path names.

The API reads the id as a UUID (a malformed one is a 422 naming the parameter); a page reads it
as text, so that a mistyped address gets the same friendly 404 page as an unknown media. Declare
them after the staff dependency: a visitor who is not signed in is turned away before anything
is looked up.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from registry.deps import SessionDep
from registry.media import service
from registry.media.models import Media
from registry.web import path_uuid


def media_by_id(media_id: uuid.UUID, session: SessionDep) -> Media:
    return service.get_media(session=session, media_id=media_id)


def page_media(media_id: str, session: SessionDep) -> Media:
    """The media a page's path names; the 404 page ("No media with this id.") otherwise."""
    return service.get_media(session=session, media_id=path_uuid(media_id, "media"))


MediaByID = Annotated[Media, Depends(media_by_id)]
PageMedia = Annotated[Media, Depends(page_media)]
