"""Annotated dependencies shared by every router: session, settings, the signed-in staff user and
the actor a route's changes are recorded under."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session
from starlette.requests import cookie_parser

from registry.actors import Actor
from registry.auth import service as auth_service
from registry.auth.models import Role, StaffUser
from registry.auth.security import read_access_token, read_session
from registry.auth.throttle import Throttle
from registry.config import Settings, get_settings
from registry.db import get_session
from registry.errors import Forbidden, Unauthorized
from registry.web import SESSION_COOKIE

# scope="function": the unit of work commits before the response is sent, so a client that follows
# a redirect (or reads after a write) always sees the write, and a failed commit is an error
# response, never a success the database did not keep.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
# A row number in a path or query: within the database's integer range, so any other is a 422
# (never an OverflowError from the driver). Every integer a route takes has such a bound.
MAX_ROW = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW)]
RowIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ROW)]


async def settings() -> Settings:
    """The settings (cached): async so that FastAPI does not hop to a worker thread for them."""
    return get_settings()


SettingsDep = Annotated[Settings, Depends(settings)]

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)

# API routes that need no staff login; a test checks every other /api route refuses anonymous calls.
PUBLIC_API_PATHS = frozenset({"/api/auth/token", "/api/certificates/{jti}/status"})


def get_throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.login_throttle
    return throttle


ThrottleDep = Annotated[Throttle, Depends(get_throttle)]


def get_link_throttle(request: Request) -> Throttle:
    throttle: Throttle = request.app.state.link_throttle
    return throttle


LinkThrottleDep = Annotated[Throttle, Depends(get_link_throttle)]


@dataclass(frozen=True)
class SignedIn:
    """Who is signed in, as pages show it: a copy of the account's fields, not the database
    object (which the request's unit of work detaches before an error page is drawn)."""

    id: int
    email: str
    role: Role
    name: str | None


def _remember(request: Request, user: StaffUser) -> None:
    request.state.staff = SignedIn(
        id=int(user.id or 0), email=user.email, role=Role(user.role), name=user.name
    )


def _require(user: StaffUser | None, roles: tuple[Role, ...], request: Request) -> StaffUser:
    if user is None:
        raise Unauthorized("Sign in to continue.")
    _remember(request, user)
    if user.role not in roles:
        raise Forbidden("Your role does not allow this.", required_roles=[r.value for r in roles])
    return user


class StaffRole:
    """API dependency: a valid bearer token of an active user with one of the roles."""

    def __init__(self, *roles: Role) -> None:
        self.roles = roles

    def __call__(
        self,
        request: Request,
        session: SessionDep,
        settings: SettingsDep,
        token: Annotated[str | None, Depends(oauth2_scheme)],
    ) -> StaffUser:
        claims = (
            read_access_token(secret=settings.resolved_secret_key(), token=token) if token else None
        )
        user = auth_service.user_for_claims(session=session, claims=claims)
        if user is None:
            raise Unauthorized("A valid bearer token is required.")
        return _require(user, self.roles, request)


class PageRole:
    """Page dependency: a valid session cookie of an active user with one of the roles."""

    def __init__(self, *roles: Role) -> None:
        self.roles = roles

    def __call__(self, request: Request, session: SessionDep, settings: SettingsDep) -> StaffUser:
        return _require(current_page_user(request, session, settings), self.roles, request)


def current_page_user(request: Request, session: Session, settings: Settings) -> StaffUser | None:
    """The staff user signed in on this browser, if any."""
    value = request.cookies.get(SESSION_COOKIE)
    claims = (
        read_session(
            secret=settings.resolved_secret_key(),
            value=value,
            max_age_seconds=settings.session_hours * 3600,
        )
        if value
        else None
    )
    user = auth_service.user_for_claims(session=session, claims=claims)
    if user is not None:
        _remember(request, user)
    return user


CurrentStaff = Annotated[StaffUser, Depends(StaffRole(Role.admin, Role.comms))]
AdminStaff = Annotated[StaffUser, Depends(StaffRole(Role.admin))]
PageStaff = Annotated[StaffUser, Depends(PageRole(Role.admin, Role.comms))]
PageAdmin = Annotated[StaffUser, Depends(PageRole(Role.admin))]


# The actor a staff route's changes are recorded under. Each checks the same role as its
# staff dependency above (and shares its lookup when a route takes both), so a route that only
# records who acted takes the actor alone.
def _api_actor(staff: CurrentStaff) -> Actor:
    return Actor.staff(staff.id)


def _api_admin_actor(staff: AdminStaff) -> Actor:
    return Actor.staff(staff.id)


def _page_actor(staff: PageStaff) -> Actor:
    return Actor.staff(staff.id)


def _page_admin_actor(staff: PageAdmin) -> Actor:
    return Actor.staff(staff.id)


StaffActor = Annotated[Actor, Depends(_api_actor)]
AdminActor = Annotated[Actor, Depends(_api_admin_actor)]
PageActor = Annotated[Actor, Depends(_page_actor)]
PageAdminActor = Annotated[Actor, Depends(_page_admin_actor)]


def carries_staff_credential(scope: dict[str, Any]) -> bool:
    """Whether a request's headers hold a staff credential with a valid signature (bearer token
    or page session): decided before the body is read, so that only staff get the large body
    limit. Whether the account is still active is checked later, by the route."""
    settings = get_settings()
    secret = settings.resolved_secret_key()
    headers = dict(scope.get("headers") or [])
    scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        if read_access_token(secret=secret, token=token.strip()) is not None:
            return True
    value = cookie_parser(headers.get(b"cookie", b"").decode("latin-1")).get(SESSION_COOKIE)
    return bool(value) and (
        read_session(secret=secret, value=str(value), max_age_seconds=settings.session_hours * 3600)
        is not None
    )


def identify(request: Request) -> None:
    """Note who is signed in on this browser (for an error page's navigation) when no route
    dependency did: a page that does not exist, or a method it does not answer."""
    if getattr(request.state, "staff", None) is not None or not request.cookies.get(SESSION_COOKIE):
        return
    with unit_of_work_for(request.app) as session:
        current_page_user(request, session, get_settings())


def unit_of_work_for(app: FastAPI) -> AbstractContextManager[Session]:
    """A unit of work from the app's own session dependency (tests override it), for work a
    route defers until after its answer is sent (BackgroundTasks)."""
    factory = app.dependency_overrides.get(get_session, get_session)

    @contextmanager
    def unit() -> Iterator[Session]:
        with contextmanager(factory)() as session:
            yield session

    return unit()
