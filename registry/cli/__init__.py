"""The `registry` command line: the commands, in the order `registry --help` lists them.

Each command lives in a module named for what it works on; this module only builds the Typer
app and registers them, so the whole command surface reads in one place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import typer

from registry import reactions
from registry.cli import (
    audit,
    backup,
    db,
    keys,
    maintenance,
    media,
    printouts,
    publishing,
    serve,
    staff,
    worker,
)

app = typer.Typer(
    help="Consent & event-media registry.", no_args_is_help=True, add_completion=False
)


@app.callback()
def _start() -> None:
    """Bind signals and mail renderers before any command runs (as the web app and Celery
    workers do): seeding demo bookings, housekeeping's reminders and clearing a folder all send
    signals or queue mail."""
    reactions.wire()


COMMANDS: tuple[Callable[..., Any], ...] = (
    serve.serve,
    worker.worker,
    printouts.badges,
    printouts.signage,
    media.clear,
    maintenance.purge,
    backup.backup,
    backup.restore,
    backup.check,
    maintenance.housekeeping,
    publishing.publishable,
    publishing.verify,
)
for _command in COMMANDS:
    app.command()(_command)
# Started by `registry serve` itself, not by people: left out of --help.
app.command(hidden=True)(serve.sender)


def _group(name: str, about: str, commands: dict[str, Callable[..., Any]]) -> None:
    group = typer.Typer(help=about, no_args_is_help=True)
    for command_name, command in commands.items():
        group.command(command_name)(command)
    app.add_typer(group, name=name)


_group(
    "db",
    "Database schema migrations.",
    {"upgrade": db.upgrade, "downgrade": db.downgrade, "check": db.check},
)
_group(
    "user",
    "Staff accounts.",
    {"create": staff.create, "disable": staff.disable, "enable": staff.enable},
)
_group("audit", "The audit log.", {"verify": audit.verify, "checkpoint": audit.checkpoint})
_group("keys", "Encryption keys.", {"rotate": keys.rotate})
