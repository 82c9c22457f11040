"""One error hierarchy: what can go wrong. Services raise these; `exception_handlers` turns them
into JSON for the API or a page for a browser (after the unit of work has rolled back)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from pydantic import BaseModel, Field
from sqlmodel import Session


class ErrorBody(BaseModel):
    """Body of every API error (some add fields: `field`, `reasons`, `rows`)."""

    detail: str


class FieldProblem(BaseModel):
    field: str | None = Field(description="The input at fault (dotted path), if one is")
    message: str
    type: str


class ValidationErrorBody(BaseModel):
    """Body of a 422 for input that does not fit the request's schema."""

    detail: str = Field(description="The problems in one sentence")
    errors: list[FieldProblem]


def rebuilt(cls: type[BaseException], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """An exception as it was, after crossing a process boundary (pickle calls this): made
    without its constructor (whose keyword arguments `args` does not hold), then its state."""
    error = cls.__new__(cls)
    BaseException.__init__(error, *args)
    error.__dict__.update(state)
    return error


class RegistryError(Exception):
    """Base of every error the service reports to a user. It pickles with everything it holds
    (a job's error reaches the web process from a worker as it was raised)."""

    status_code = 400
    title = "Bad request"

    def __reduce__(self) -> tuple[Any, ...]:
        return (rebuilt, (type(self), self.args, dict(self.__dict__)))

    def __init__(self, message: str, *, status_code: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra
        self.headers: dict[str, str] = {}

    def payload(self) -> dict[str, Any]:
        body = {"detail": self.message, **self.extra}
        if self.status_code == 422 and "errors" not in body:
            # Every 422 has the documented shape (`ValidationErrorBody`), whoever refused it.
            field = self.extra.get("field")
            body["errors"] = [
                {
                    "field": field if isinstance(field, str) else None,
                    "message": self.message,
                    "type": "value_error",
                }
            ]
        return body


class Invalid(RegistryError):
    status_code = 422
    title = "Invalid input"


class Unauthorized(RegistryError):
    status_code = 401
    title = "Sign-in required"

    def __init__(self, message: str = "Not authenticated", **extra: Any) -> None:
        super().__init__(message, **extra)
        self.headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(RegistryError):
    status_code = 403
    title = "Not allowed"


class NotFound(RegistryError):
    status_code = 404
    title = "Not found"


class Gone(RegistryError):
    status_code = 410
    title = "No longer available"


class Conflict(RegistryError):
    status_code = 409
    title = "Conflict"


class TooLarge(RegistryError):
    status_code = 413
    title = "Too large"


class UnsupportedMedia(RegistryError):
    status_code = 415
    title = "Unsupported file type"


class RateLimited(RegistryError):
    status_code = 429
    title = "Too many attempts"

    def __init__(self, message: str, *, retry_after: int, **extra: Any) -> None:
        super().__init__(message, **extra)
        self.headers = {"Retry-After": str(retry_after)}


class Unavailable(RegistryError):
    status_code = 503
    title = "Busy"


def error_responses(*errors: type[RegistryError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the errors a route may return."""
    return {err.status_code: {"model": ErrorBody, "description": err.title} for err in errors}


# --- errors that pages answer with a page ----------------------------------------------------


class FormError(RegistryError):
    """A form's input was refused: the page is shown again with the message and what was typed.

    Raised instead of catching an error and rendering in the page handler, so that the unit of
    work always rolls back first: nothing flushed before the error is ever committed. `load`
    reads what the page needs from the database afresh (after the rollback).
    """

    def __init__(
        self,
        cause: RegistryError,
        *,
        template: str,
        context: Mapping[str, Any] | None = None,
        load: Callable[[Session], Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(cause.message, status_code=cause.status_code, **cause.extra)
        self.title = cause.title
        self.headers = dict(cause.headers)
        self.template = template
        self.context = dict(context or {})
        self.load = load


class RedirectWith(RegistryError):
    """Refused, and the browser goes back to `url` with the message shown at `place` (and the
    choices in `keep` restored), after the unit of work has rolled back."""

    def __init__(
        self,
        cause: RegistryError,
        *,
        url: str,
        place: str | None = None,
        keep: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(cause.message, status_code=cause.status_code, **cause.extra)
        self.url = url
        self.place = place
        self.keep = dict(keep or {})


@contextmanager
def _converted(convert: Callable[[RegistryError], RegistryError]) -> Iterator[None]:
    try:
        yield
    except (FormError, RedirectWith):
        raise
    except RegistryError as exc:
        raise convert(exc) from exc


def render_on_error(
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    load: Callable[[Session], Mapping[str, Any]] | None = None,
) -> AbstractContextManager[None]:
    """Within the block, a RegistryError becomes a FormError showing `template` again."""
    return _converted(lambda exc: FormError(exc, template=template, context=context, load=load))


def redirect_on_error(
    url: str, *, place: str | None = None, keep: Mapping[str, Any] | None = None
) -> AbstractContextManager[None]:
    """Within the block, a RegistryError becomes a RedirectWith to `url`."""
    return _converted(lambda exc: RedirectWith(exc, url=url, place=place, keep=keep))
