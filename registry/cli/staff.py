"""`registry user ...`: staff accounts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from registry.audit.service import CLI
from registry.auth import service as auth_service
from registry.auth.models import Role
from registry.cli.console import fail, out
from registry.cli.startup import load_settings, migrate_or_fail
from registry.db import unit_of_work
from registry.errors import RegistryError


def create(
    email: Annotated[str, typer.Argument(help="Email address used to sign in.")],
    role: Annotated[str, typer.Option(help="admin or comms.")] = "comms",
    password: Annotated[
        str | None, typer.Option(help="Password (prompted for when omitted).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="The person's name, shown in histories and logs.")
    ] = None,
) -> None:
    """Create a staff user."""

    if role not in Role.__members__:
        fail(f"unknown role {role!r}: use admin or comms")
    settings = load_settings()
    migrate_or_fail(settings)
    if password is None:
        if not sys.stdin.isatty():
            fail("no --password given and no terminal to ask for one")
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work() as session:
            user = auth_service.create_user(
                session=session,
                email=email,
                role=Role(role),
                password=password,
                actor=CLI,
                name=name,
            )
            out.print(f"created {user.email} ({user.role.value})")
    except RegistryError as exc:
        fail(exc.message)


def disable(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """Disable a staff account: every session and bearer token of it ends at once."""
    _set_active(email, False)


def enable(email: Annotated[str, typer.Argument(help="The account's email.")]) -> None:
    """Enable a disabled staff account again."""
    _set_active(email, True)


def _set_active(email: str, active: bool) -> None:
    settings = load_settings()
    migrate_or_fail(settings)
    try:
        with unit_of_work() as session:
            user = auth_service.get_by_email(
                session=session, email=auth_service.normalise_email(email)
            )
            if user is None:
                fail(f"no staff user {email}")
            auth_service.set_active(session=session, actor=CLI, user=user, active=active)
            words = "enabled" if active else "disabled (every session and token ended)"
            out.print(f"{user.email} {words}")
    except RegistryError as exc:
        fail(exc.message)
