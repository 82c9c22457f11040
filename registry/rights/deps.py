"""Load-or-404 dependencies for the people's-rights routes: the subject request a path names."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends

from registry.deps import SessionDep
from registry.rights import requests
from registry.rights.models import SubjectRequest


def subject_request_by_id(request_id: uuid.UUID, session: SessionDep) -> SubjectRequest:
    return requests.get(session=session, request_id=request_id)


SubjectRequestByID = Annotated[SubjectRequest, Depends(subject_request_by_id)]
