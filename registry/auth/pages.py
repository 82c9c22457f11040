"""Sign-in, sign-out and staff account pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from registry.auth import service
from registry.auth.deps import ClientAddress, UserByID
from registry.auth.models import Role
from registry.auth.security import issue_session
from registry.deps import (
    PageAdmin,
    PageAdminActor,
    SessionDep,
    SettingsDep,
    ThrottleDep,
    current_page_user,
)
from registry.errors import redirect_on_error, render_on_error
from registry.web import SESSION_COOKIE, page_router, redirect, render, safe_next, set_cookie

router = page_router()


@router.get("/login")
def login_form(
    request: Request, session: SessionDep, settings: SettingsDep, next: str = "/"
) -> Response:
    if current_page_user(request, session, settings):
        return redirect(safe_next(next))
    return render(request, "auth/login.html", {"next": safe_next(next)})


@router.post("/login")
def login(
    client: ClientAddress,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    with render_on_error("auth/login.html", {"next": safe_next(next), "email": email}):
        user = service.authenticate(
            session=session,
            throttle=throttle,
            email=email,
            password=password,
            client=client,
        )
    assert user.id is not None
    response = redirect(safe_next(next))
    set_cookie(
        response,
        SESSION_COOKIE,
        issue_session(
            secret=settings.resolved_secret_key(), user_id=user.id, version=user.token_version
        ),
        max_age=settings.session_hours * 3600,
    )
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Sign out: the session ends on the server too (every session and token of the user), so
    a copy of the cookie is worthless."""
    user = current_page_user(request, session, settings)
    if user is not None:
        service.sign_out(session=session, user=user)
    response = redirect("/login", message="You are signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/staff/{user_id}/active")
def staff_set_active(
    actor: PageAdminActor,
    user: UserByID,
    session: SessionDep,
    active: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    with redirect_on_error("/staff"):
        service.set_active(session=session, actor=actor, user=user, active=active == "yes")
    words = "enabled" if user.is_active else "disabled: every session and token of it has ended"
    return redirect("/staff", message=f"{user.email} is {words}.")


@router.get("/staff")
def staff_list(request: Request, staff: PageAdmin, session: SessionDep) -> Response:
    return render(
        request,
        "auth/staff.html",
        {"users": service.list_users(session=session), "roles": list(Role)},
    )


@router.post("/staff")
def staff_create(
    request: Request,
    actor: PageAdminActor,
    session: SessionDep,
    email: Annotated[str, Form(max_length=320)] = "",
    name: Annotated[str, Form(max_length=200)] = "",
    role: Annotated[str, Form(max_length=16)] = "comms",
    password: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    with render_on_error(
        "auth/staff.html",
        {"roles": list(Role), "form": {"email": email, "name": name, "role": role}},
        load=lambda s: {"users": service.list_users(session=s)},
    ):
        user = service.create_user(
            session=session,
            email=email,
            name=name,
            role=role,
            password=password,
            actor=actor,
        )
    return redirect("/staff", message=f"Created {user.email} ({user.role.value}).")
