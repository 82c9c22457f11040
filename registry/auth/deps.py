"""Dependencies of the staff account routes: the client a sign-in comes from (what the login
throttle counts) and the account a path names (load-or-404)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from registry.auth import service
from registry.auth.models import StaffUser
from registry.deps import RowId, SessionDep


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def user_by_id(user_id: RowId, session: SessionDep) -> StaffUser:
    return service.get_user(session=session, user_id=user_id)


ClientAddress = Annotated[str, Depends(client_address)]
UserByID = Annotated[StaffUser, Depends(user_by_id)]
