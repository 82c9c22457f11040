"""Staff authentication and accounts over the API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from registry.auth import service
from registry.auth.deps import ClientAddress, UserByID
from registry.auth.schemas import StaffCreate, StaffPublic, Token
from registry.auth.security import issue_access_token
from registry.deps import AdminActor, AdminStaff, CurrentStaff, SessionDep, SettingsDep, ThrottleDep
from registry.errors import (
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthorized,
    error_responses,
)

router = APIRouter(prefix="/api/auth", tags=["auth"])


@router.post(
    "/token",
    response_model=Token,
    responses=error_responses(Unauthorized, RateLimited),
)
def issue_token(
    client: ClientAddress,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> Token:
    """Exchange a staff email and password for a bearer token (OAuth2 password flow)."""
    user = service.authenticate(
        session=session,
        throttle=throttle,
        email=form.username,
        password=form.password,
        client=client,
    )
    assert user.id is not None
    token = issue_access_token(
        secret=settings.resolved_secret_key(),
        user_id=user.id,
        version=user.token_version,
        minutes=settings.access_token_minutes,
    )
    return Token(access_token=token, expires_in=settings.access_token_minutes * 60)


@router.get("/me", response_model=StaffPublic, responses=error_responses(Unauthorized, Forbidden))
def me(staff: CurrentStaff) -> StaffPublic:
    """The signed-in staff user."""
    return StaffPublic.model_validate(staff)


@router.get(
    "/users",
    response_model=list[StaffPublic],
    responses=error_responses(Unauthorized, Forbidden),
)
def list_users(staff: AdminStaff, session: SessionDep) -> list[StaffPublic]:
    """Every staff account (admins only)."""
    return [StaffPublic.model_validate(u) for u in service.list_users(session=session)]


@router.post(
    "/users",
    response_model=StaffPublic,
    status_code=201,
    responses=error_responses(Unauthorized, Forbidden, Conflict, Invalid),
)
def create_user(body: StaffCreate, actor: AdminActor, session: SessionDep) -> StaffPublic:
    """Create a staff account (admins only)."""
    user = service.create_user(
        session=session,
        email=body.email,
        role=body.role,
        password=body.password,
        actor=actor,
    )
    return StaffPublic.model_validate(user)


@router.post(
    "/users/{user_id}/disable",
    response_model=StaffPublic,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
def disable_user(actor: AdminActor, user: UserByID, session: SessionDep) -> StaffPublic:
    """Disable a staff account: every session and bearer token of it ends at once (admins)."""
    service.set_active(session=session, actor=actor, user=user, active=False)
    return StaffPublic.model_validate(user)


@router.post(
    "/users/{user_id}/enable",
    response_model=StaffPublic,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
def enable_user(actor: AdminActor, user: UserByID, session: SessionDep) -> StaffPublic:
    """Enable a disabled staff account again (admins); it signs in anew."""
    service.set_active(session=session, actor=actor, user=user, active=True)
    return StaffPublic.model_validate(user)
