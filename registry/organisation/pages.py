"""The organisation's details page (admins); the dashboard asks for them until they are set."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import Response

from registry.deps import PageAdmin, PageAdminActor, SessionDep
from registry.errors import render_on_error
from registry.organisation import service
from registry.web import page_router, redirect, render

router = page_router()


@router.get("/organisation")
def organisation_form(request: Request, staff: PageAdmin, session: SessionDep) -> Response:
    current = service.profile(session=session)
    return render(
        request,
        "organisation/edit.html",
        {"org": current, "form": current.__dict__},
    )


@router.post("/organisation")
def organisation_save(
    request: Request,
    actor: PageAdminActor,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    email: Annotated[str, Form(max_length=320)] = "",
    address: Annotated[str, Form(max_length=500)] = "",
    privacy_policy_url: Annotated[str, Form(max_length=500)] = "",
    phone: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    form = {
        "name": name,
        "email": email,
        "address": address,
        "privacy_policy_url": privacy_policy_url,
        "phone": phone,
    }
    with render_on_error(
        "organisation/edit.html",
        {"form": form},
        load=lambda s: {"org": service.profile(session=s)},
    ):
        service.update(
            session=session,
            actor=actor,
            name=name,
            email=email,
            address=address,
            privacy_policy_url=privacy_policy_url,
            phone=phone,
        )
    return redirect("/", message="Saved: pages, receipts and emails now name your organisation.")
