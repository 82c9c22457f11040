"""The service's logs: text for a terminal (the default) or one JSON object a line
(`REGISTRY_LOG_FORMAT=json`) for a log shipper, with the context of what was being done.

Context travels in context variables: the request id (taken from `X-Request-ID` or made, and
returned on every response by `RequestContext`), the route template, and a job's id and media
id. A job started by a request carries the request's id (its payload names it), so one id ties
an upload to the clearance it caused. Log lines never carry a token (paths are redacted and
routes are templates), a name, an address or a mail body: only ids and counts are put in the
context, and the messages say what happened, not to whom.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from registry import links

REQUEST_ID = "x-request-id"
_ALLOWED_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "registry_log_context", default=None
)


def current() -> dict[str, Any]:
    """The fields of the current context (request id, route, job id, media id ...)."""
    return dict(_context.get() or {})


def request_id() -> str | None:
    value = current().get("request_id")
    return str(value) if value else None


@contextlib.contextmanager
def context(**fields: Any) -> Iterator[None]:
    """Add fields to every log line written inside the block (ids, never personal data)."""
    token = _context.set({**current(), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def new_request_id(given: str | None = None) -> str:
    """The caller's id when it is a sane one (letters, digits, . _ : -; at most 128), else new."""
    if given and _ALLOWED_ID.match(given):
        return given
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the context's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": links.redact(record.getMessage()),
        }
        entry.update(current())
        for key in ("route", "method", "status", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["error"] = links.redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


TEXT = "%(levelname)s:     %(name)s: %(message)s"


def uvicorn_config(*, level: str, fmt: str) -> dict[str, Any]:
    """uvicorn's `log_config`: its lines in the service's format (JSON, or TEXT) from the first."""
    # uvicorn sets up its loggers (a supervisor's, then each web process's) before the app's
    # lifespan runs `configure`: with its default, "Started server process" and "Waiting for
    # application startup" were plain text under json (and in text, unlike the lines after).
    upper = level.upper()
    access: dict[str, Any]
    if fmt == "json":
        default: dict[str, Any] = {"()": JsonFormatter}
        # As in `configure`: our own access line replaces uvicorn's (no handler: not written).
        access = {"handlers": [], "propagate": False}
    else:
        default = {"format": TEXT}
        access = {"handlers": ["access"], "level": upper, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": default,
            # In text the access line stays uvicorn's own, as `configure` leaves it.
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
            },
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "default",
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "access",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            # Propagates to "uvicorn"'s handler (`configure`, run before it under json, had
            # turned that off).
            "uvicorn.error": {"handlers": [], "level": upper, "propagate": True},
            "uvicorn.access": access,
        },
    }


def configure(*, level: str, fmt: str) -> None:
    """Route the service's loggers (and the web server's) to stderr in the chosen format."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    for name in ("registry", "uvicorn", "uvicorn.error", "celery"):
        target = logging.getLogger(name)
        # (Celery gives its logger a NullHandler: that is no handler.)
        real = [h for h in target.handlers if not isinstance(h, logging.NullHandler)]
        if fmt == "json" or not real:
            target.handlers = [handler]
        target.setLevel(level.upper())
        target.propagate = False
    access = logging.getLogger("uvicorn.access")
    if fmt == "json":
        # Python's warnings (a library's, Celery's as root) are lines too: through the log.
        logging.captureWarnings(True)
        warnings = logging.getLogger("py.warnings")
        warnings.handlers, warnings.propagate = [handler], False
        # Our own access line (route template, status, duration, request id) replaces
        # uvicorn's, whose raw path could hold a private link's token.
        access.handlers, access.propagate, access.disabled = [], False, True
