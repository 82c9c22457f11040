"""`registry keys ...`: the encryption keys of stored biometric data."""

from __future__ import annotations

from typing import Annotated

import typer

from registry import crypto
from registry.audit.service import CLI
from registry.cli.console import fail, out
from registry.cli.startup import load_settings, migrate_or_fail
from registry.config import ConfigError
from registry.db import unit_of_work
from registry.media import rotation


def rotate(
    old_biometric_key: Annotated[
        str, typer.Option(help="The REGISTRY_BIOMETRIC_KEY used until now (if one was set).")
    ] = "",
    old_secret_key: Annotated[
        str,
        typer.Option(help="The REGISTRY_SECRET_KEY used until now (when no biometric key was)."),
    ] = "",
) -> None:
    """Re-seal every stored face template and thumbnail under the current biometric key, after
    changing REGISTRY_BIOMETRIC_KEY (or the secret key it is derived from)."""
    if not old_biometric_key and not old_secret_key:
        fail("give the old key: --old-biometric-key or --old-secret-key")
    settings = load_settings()
    migrate_or_fail(settings)
    try:
        old = crypto.key_from(biometric_key=old_biometric_key, secret_key=old_secret_key)
    except ConfigError as exc:
        fail(str(exc))
    with unit_of_work() as session:
        report = rotation.rotate(session=session, actor=CLI, old_key=old)
    out.print(
        f"ok: {report.resealed} re-sealed under the current key, {report.current} already were"
    )
    if report.unreadable:
        fail(
            f"{len(report.unreadable)} blob(s) are under neither key (left as they are): "
            + ", ".join(report.unreadable[:5])
        )
