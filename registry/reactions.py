"""The one place where domains' reactions to each other's signals are bound (and the renderers of
each domain's email kinds registered with the outbox).

events and consent send signals (`registry.signals`); media re-clears an event's photos when its
opt-outs change, and publishing notices takedowns when a basis changes. `wire()` is idempotent and
is called by everything that runs domain code: the app factory, the CLI, the Celery worker and
the test fixtures.
"""

from __future__ import annotations

from registry import signals
from registry.audit import service as audit
from registry.consent import letters as consent_letters
from registry.events import letters as event_letters
from registry.media import biometrics, reclear
from registry.publishing import takedowns
from registry.webhooks import delivery as webhook_delivery
from registry.webhooks import service as webhooks


def wire() -> None:
    """Bind every reaction to its signal (safe to call more than once)."""
    signals.on(signals.opt_outs_changed, reclear.on_opt_outs_changed)
    signals.on(signals.basis_changed, takedowns.on_basis_changed)
    signals.on(signals.retention_changed, biometrics.on_retention_changed)
    # Every audited change outside systems subscribe to becomes a webhook delivery (outbox),
    # sent after commit.
    audit.observe(webhooks.on_audited)
    webhook_delivery.install()
    # Who composes each kind of email when the outbox sends it.
    event_letters.register()
    consent_letters.register()
