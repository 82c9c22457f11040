"""`registry purge` and `registry housekeeping`: the periodic jobs, run once by hand."""

from __future__ import annotations

from registry.cli.console import out
from registry.cli.startup import load_settings
from registry.db import unit_of_work
from registry.events import references
from registry.media import biometrics
from registry.worker import periodic


def purge() -> None:
    """Delete biometric data (reference photos, photo face encodings) past retention."""

    load_settings()
    with unit_of_work() as session:
        removed = references.purge_expired(session=session)
        encodings = biometrics.purge_biometrics(session=session)
    out.print(
        f"ok: {removed} reference photo(s) and {encodings} photo face encoding(s) "
        "past retention deleted"
    )


def housekeeping() -> None:
    """Run the periodic jobs once: biometric purge, consent expiries, takedown notices,
    retention (`serve` runs them daily)."""

    load_settings()
    report = periodic.run_once()  # and sends any staff mail still waiting
    deleted = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in report.retention.items() if v)
    out.print(
        f"ok: {report.references_purged} reference photo(s) purged, "
        f"{report.photo_encodings_purged} photo face encoding(s) purged, "
        f"{report.consents_expired} consent(s) marked expired, "
        f"{report.takedowns_noticed} publication(s) newly due for takedown; "
        f"retention: {deleted or 'nothing due'}"
    )
