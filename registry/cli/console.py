"""Where the commands write: results on stdout, progress and errors on stderr."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

# soft_wrap: long URLs stay on one line, so they can be copied from the terminal.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int = 1) -> NoReturn:
    """One clear line on stderr and a non-zero exit; no traceback for operator errors."""
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    raise typer.Exit(code)
