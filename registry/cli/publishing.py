"""`registry publishable` and `registry verify`: the publish gate's verdict, and a clearance
certificate checked as its recipient would check it."""

from __future__ import annotations

import hashlib
import json
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from registry.cli.console import fail, out
from registry.cli.startup import load_settings
from registry.db import unit_of_work
from registry.errors import Invalid, RegistryError
from registry.media import service as media_service
from registry.publishing import certificates
from registry.publishing import facts as gate_facts
from registry.publishing.certificate_status import Standing, ask_issuer


def publishable(
    media_id: Annotated[str, typer.Argument(help="The media's id.")],
    channel: Annotated[str, typer.Option(help="The channel to publish on.")],
    rendition: Annotated[
        str | None, typer.Option(help="A rendition of the media (e.g. its redacted copy).")
    ] = None,
) -> None:
    """Ask the publish gate whether media may be published on a channel now (exit 0 if so,
    3 if not, with every reason)."""

    load_settings()
    try:
        media_uuid = uuid.UUID(media_id)
        rendition_uuid = uuid.UUID(rendition) if rendition else None
    except ValueError:
        fail("ids look like 3f2b8c4e-...: check the media and rendition ids")
    try:
        with unit_of_work() as session:
            item = media_service.get_media(session=session, media_id=media_uuid)
            verdict = gate_facts.publishable(
                session=session, media=item, channel=channel, rendition_id=rendition_uuid
            )
    except RegistryError as exc:
        fail(exc.message)
    if verdict.allowed:
        out.print(f"allowed: {item.filename} may be published on {channel} now")
        return
    out.print(f"refused: {item.filename} may not be published on {channel}:")
    for reason in verdict.reasons:
        out.print(f"  - {reason}")
    raise typer.Exit(3)


def verify(
    cert: Annotated[
        str, typer.Argument(help="A certificate file, '-' for stdin, or the certificate itself.")
    ],
    jwks: Annotated[
        str | None,
        typer.Option(
            help="Verify offline against this key set (a file, or the service's "
            "/.well-known/jwks.json URL) instead of this installation's own key."
        ),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(help="Also check that this file is exactly the one the certificate names."),
    ] = None,
    offline: Annotated[
        bool, typer.Option(help="Do not ask the issuer whether the certificate was revoked.")
    ] = False,
) -> None:
    """Check a clearance certificate: signature, validity window, (with --file) the file, and
    (online) whether the issuer has revoked it since."""

    token = _read_certificate(cert)
    keys = _read_jwks(jwks) if jwks else None
    if keys is None:
        load_settings()
    try:
        claims = certificates.verify(token, keys=keys)
    except Invalid as exc:
        fail(f"invalid certificate: {exc.message}")
    if file is not None:
        _check_file(file, claims)
    out.print(json.dumps(claims, indent=2))
    if offline:
        out.print("revocation: not checked (--offline)")
    else:
        _check_revocation(claims)
    out.print(f"valid: cleared for {claims.get('channel')} until the certificate expires")


def _read_certificate(cert: str) -> str:
    if cert == "-":
        return sys.stdin.read()
    if len(cert) < 400 and Path(cert).is_file():
        return Path(cert).read_text()
    return cert


def _read_jwks(source: str) -> dict[str, object]:
    try:
        if source.startswith(("http://", "https://")):
            with urllib.request.urlopen(source, timeout=10) as response:  # noqa: S310
                data = json.loads(response.read())
        else:
            data = json.loads(Path(source).read_text())
    except (OSError, ValueError) as exc:
        fail(f"cannot read the key set from {source}: {exc}")
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        fail(f"{source} is not a JWKS document (no 'keys' list)")
    return data


def _check_file(file: Path, claims: dict[str, Any]) -> None:
    try:
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}")
    if f"urn:sha256:{digest}" != claims.get("sub"):
        fail(f"{file} is not the file this certificate clears (sha256 differs)")


def _check_revocation(claims: dict[str, Any]) -> None:
    """Fail when the issuer revoked the certificate or never issued it; only say so when it
    could not be asked."""
    answer = ask_issuer(claims)
    if answer.standing is Standing.unknown:
        # The issuer answered: it knows no such certificate. Not "could not ask".
        fail(
            f"the issuer does not know this certificate ({answer.code} from {answer.url}): "
            "it was not issued there, or not as a certificate"
        )
    if answer.standing is Standing.not_checked:
        out.print(f"revocation: not checked: {answer.problem}")
    elif answer.standing is Standing.revoked:
        fail(
            f"revoked by the issuer ({answer.reason}, at "
            f"{answer.revoked_at}): the basis for this publication has gone"
        )
    else:
        out.print(f"revocation: checked at {answer.url}: not revoked")
