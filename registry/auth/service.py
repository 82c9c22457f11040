"""Staff accounts: creation, sign-in and resolving tokens to users."""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session, col, select

from registry.addresses import one_address
from registry.audit import service as audit
from registry.audit.service import Actor
from registry.auth.models import Role, StaffUser
from registry.auth.security import (
    TokenClaims,
    hash_password,
    needs_rehash,
    verify_password,
)
from registry.auth.throttle import Throttle, progressive_wait
from registry.errors import Conflict, Invalid, NotFound, RateLimited, Unauthorized

MIN_PASSWORD_LENGTH = 10
# A client address may try several accounts (a shared clinic network), so it gets more room.
_ADDRESS_FACTOR = 4


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(*, session: Session, email: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.email == normalise_email(email))).first()


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        roles = " or ".join(r.value for r in Role)
        raise Invalid(f"Choose a role: {roles}.", field="role") from None


def create_user(
    *,
    session: Session,
    email: str,
    role: Role | str,
    password: str,
    actor: Actor,
    name: str | None = None,
) -> StaffUser:
    """Create a staff account; the email must be new, the role one there is and the password
    long enough."""
    role = _role(role)
    email = normalise_email(email)
    name = (name or "").strip()[:200] or None
    if one_address(email) is None:
        raise Invalid("Enter one valid email address.", field="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    if get_by_email(session=session, email=email):
        raise Conflict(f"A staff user with the email {email} exists already.")
    user = StaffUser(email=email, name=name, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="staff_user.created",
        entity_type="staff_user",
        entity_id=user.id,
        after={"role": role.value},
        personal={"email": email, "name": name},
    )
    return user


def set_password(*, session: Session, user: StaffUser, password: str, actor: Actor) -> StaffUser:
    """Replace the password and end every existing token and session of the user."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"The password must have at least {MIN_PASSWORD_LENGTH} characters.", field="password"
        )
    user.password_hash = hash_password(password)
    user.token_version += 1
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="staff_user.password_changed",
        entity_type="staff_user",
        entity_id=user.id,
    )
    return user


def set_active(*, session: Session, actor: Actor, user: StaffUser, active: bool) -> StaffUser:
    """Disable (or enable again) a staff account. Disabling ends every session and bearer token
    of the account at once. The last active admin cannot be disabled (nobody could undo it)."""
    if user.is_active == active:
        return user
    if not active and user.role == Role.admin:
        admins = session.exec(
            select(StaffUser).where(
                StaffUser.role == Role.admin, col(StaffUser.is_active).is_(True)
            )
        ).all()
        if len(admins) <= 1:
            raise Conflict("This is the last active admin: enable or add another admin first.")
    user.is_active = active
    user.token_version += 1
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=actor,
        action="staff_user.enabled" if active else "staff_user.disabled",
        entity_type="staff_user",
        entity_id=user.id,
        after={"is_active": active},
    )
    return user


def sign_out(*, session: Session, user: StaffUser) -> None:
    """End every session and token of the user (a copied cookie stops working too)."""
    user.token_version += 1
    session.add(user)
    session.flush()
    audit.record(
        session=session,
        actor=Actor.staff(user.id),
        action="staff_user.signed_out",
        entity_type="staff_user",
        entity_id=user.id,
    )


def get_user(*, session: Session, user_id: int) -> StaffUser:
    user = session.get(StaffUser, user_id)
    if user is None:
        raise NotFound("No staff account with this id.")
    return user


def authenticate(
    *,
    session: Session,
    throttle: Throttle,
    email: str,
    password: str,
    client: str,
) -> StaffUser:
    """The user for these credentials; the same error whether the account exists or not.

    A network that guesses too much is stopped (429) for the window. An account under attack is
    never locked: after `login_max_failures` failures each further try must wait a little longer
    (2, 4, 8 … at most 30 s after the latest failure), whoever sends it, so guessing slows to a
    crawl while the owner waits at most half a minute."""
    email = normalise_email(email)
    user_key, client_key = f"user:{email}", f"client:{client}"
    wait = throttle.retry_after([(client_key, _ADDRESS_FACTOR)])
    if wait:
        raise RateLimited(
            f"Too many failed sign-in attempts from your network. Try again in {wait} seconds.",
            retry_after=wait,
        )
    count, since_last = throttle.recent(user_key)
    wait = progressive_wait(count, since_last, free=throttle.max_failures)
    if wait:
        raise RateLimited(
            f"Several wrong passwords were tried for this account: wait {wait} seconds before "
            "trying again.",
            retry_after=wait,
        )
    user = get_by_email(session=session, email=email)
    ok = verify_password(user.password_hash if user else None, password)
    if not (ok and user is not None and user.is_active):
        throttle.fail([user_key, client_key])
        raise Unauthorized("Incorrect email or password.")
    throttle.clear(user_key)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.add(user)
    return user


def user_for_claims(*, session: Session, claims: TokenClaims | None) -> StaffUser | None:
    """The active user a token or session names, if it is still valid for them."""
    if claims is None:
        return None
    user = session.get(StaffUser, claims.user_id)
    if user is None or not user.is_active or user.token_version != claims.version:
        return None
    return user


def list_users(*, session: Session) -> list[StaffUser]:
    return list(session.exec(select(StaffUser).order_by(StaffUser.email)).all())


def display_name(user: StaffUser) -> str:
    """How pages name a member of staff: their name and email, or the email alone."""
    return f"{user.name} ({user.email})" if user.name else user.email


def display_names(*, session: Session, labels: Iterable[str]) -> dict[str, str]:
    """Readable names for actor labels as the records store them ("staff:12" -> "Jo Bloggs
    (jo@example.org)"); labels that are not staff (patient, attendee, system) map to words."""
    ids = {
        int(label.split(":", 1)[1])
        for label in labels
        if label.startswith("staff:") and label.split(":", 1)[1].isdigit()
    }
    users = (
        session.exec(select(StaffUser).where(col(StaffUser.id).in_(sorted(ids)))).all()
        if ids
        else []
    )
    names = {f"staff:{u.id}": display_name(u) for u in users}
    return {label: names.get(label, ACTOR_WORDS.get(label, label)) for label in labels}


ACTOR_WORDS = {
    "system": "the registry (automatic)",
    "cli": "the command line",
    "patient": "the patient",
    "guardian": "the patient's representative",
    "attendee": "the attendee",
}
