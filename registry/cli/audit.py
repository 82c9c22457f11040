"""`registry audit ...`: the hash-chained audit log and its signed checkpoints."""

from __future__ import annotations

from datetime import UTC, datetime

from registry import checkpoints
from registry.cli.console import fail, out
from registry.cli.startup import load_settings, migrate_or_fail
from registry.db import unit_of_work
from registry.worker import periodic


def verify() -> None:
    """Check the audit log's hash chain, then against the latest signed checkpoint kept outside
    the database (says which); report the first broken link, a rewrite or a truncation."""

    load_settings()
    with unit_of_work() as session:
        report, point = checkpoints.verify(session=session)
    if not report.ok:
        where = f" at entry {report.first_broken_seq}" if report.first_broken_seq else ""
        fail(f"audit chain broken{where}: {report.problem} ({report.checked} entries checked)")
    out.print(f"ok: {report.checked} audit entries, chain intact")
    if point is None:
        out.print(
            "no external checkpoint yet: run `registry audit checkpoint` (serve writes one hourly)"
        )
    else:
        signed = datetime.fromtimestamp(point.signed_at, UTC).isoformat(timespec="seconds")
        out.print(
            f"checked against checkpoint {point.name} (entry {point.seq}, signed {signed}): "
            "not rewritten, not truncated"
        )


def checkpoint() -> None:
    """Sign the audit chain's head now and store it outside the database (media storage)."""

    settings = load_settings()
    migrate_or_fail(settings)
    out.print(f"ok: checkpoint {periodic.checkpoint_once()} written")
