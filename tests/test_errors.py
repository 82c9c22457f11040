"""Bad input gets a clear 4xx: JSON for the API, a page for browsers; never a 500."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from registry.deps import SessionDep
from registry.errors import Conflict, Invalid, redirect_on_error, render_on_error
from registry.events.models import Booking
from registry.organisation import service as organisation
from registry.organisation.models import Organisation


def test_malformed_json_is_a_422_with_a_plain_detail(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    response = client.post(
        "/api/auth/users",
        content=b'{"email": ',
        headers={**admin_headers, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["detail"] == "The request body is not valid JSON."


def test_wrong_types_name_the_field(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.post(
        "/api/auth/users", json={"email": 5, "role": "boss", "password": []}, headers=admin_headers
    )
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["detail"], str)
    assert {e["field"] for e in body["errors"]} == {"email", "role", "password"}


def test_wrong_query_type_is_a_422(client: TestClient, admin_headers: dict[str, str]) -> None:
    response = client.get("/api/audit?limit=lots", headers=admin_headers)
    assert response.status_code == 422
    assert "limit" in response.json()["detail"]


def test_unknown_api_path_is_json_404(client: TestClient) -> None:
    response = client.get("/api/no-such-thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found"}


def test_wrong_method_is_json_405(client: TestClient) -> None:
    response = client.delete("/api/auth/token")
    assert response.status_code == 405
    assert isinstance(response.json()["detail"], str)


def test_unknown_page_is_a_friendly_404_page(client: TestClient) -> None:
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text
    assert "Traceback" not in response.text


def test_healthz_and_readyz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "detail": None}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "detail": "ready"}  # no database name or host


def test_openapi_documents_the_token_route(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "/api/auth/token" in schema["paths"]
    assert "401" in schema["paths"]["/api/auth/me"]["get"]["responses"]


def test_openapi_documents_the_error_bodies_the_api_really_returns(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    from registry.errors import ErrorBody, ValidationErrorBody

    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert "HTTPValidationError" not in components
    create = schema["paths"]["/api/events"]["post"]["responses"]
    assert create["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/ValidationErrorBody"
    )
    assert {"400", "413"} <= set(create)
    assert set(components["ValidationErrorBody"]["required"]) == {"detail", "errors"}

    invalid = client.post("/api/events", json={"name": ""}, headers=admin_headers)
    assert invalid.status_code == 422
    ValidationErrorBody.model_validate(invalid.json(), strict=True)
    unreadable = client.post(
        "/api/media",
        content=b"--x\r\nnot a multipart body",
        headers={**admin_headers, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert unreadable.status_code == 400
    ErrorBody.model_validate(unreadable.json(), strict=True)
    assert "400" in schema["paths"]["/api/media"]["post"]["responses"]


def test_access_log_never_shows_link_tokens() -> None:
    import logging

    from registry.links import RedactLinkTokens

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/c/abc123.SECRETMAC/receipt?x=1", "1.1", 200),
        None,
    )
    RedactLinkTokens().filter(record)
    assert "SECRETMAC" not in record.getMessage()
    assert "/c/[token]/receipt" in record.getMessage()


def test_an_unhandled_error_on_a_link_page_logs_no_token(
    client: TestClient,
    make_booking: Callable[..., Booking],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from registry.events import service as events

    booking = make_booking()
    token = events.manage_token(booking)

    def broken(**_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(events, "history", broken)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    keep = Keep(level=logging.ERROR)
    target = logging.getLogger("registry")
    # Directly, and enabled: a logging config run by an earlier test (Alembic's) may have
    # disabled existing loggers or their propagation.
    target.addHandler(keep)
    monkeypatch.setattr(target, "disabled", False)
    try:
        page = client.get(f"/b/{token}")
    finally:
        target.removeHandler(keep)
    assert page.status_code == 500
    logged = "\n".join(r.getMessage() for r in records)
    assert "unhandled error on GET /b/[token]" in logged
    assert token not in logged
    assert token.split(".")[1] not in logged


def test_the_unit_of_work_commits_before_the_response_is_sent() -> None:
    from typing import get_args

    from registry.deps import SessionDep

    [depends] = get_args(SessionDep)[1:]
    assert depends.scope == "function"


def test_a_form_error_is_shown_after_the_unit_of_work_rolled_back(
    app: FastAPI, session: Session
) -> None:
    """Whatever a page flushed before its error is never committed: the form page is
    rendered by the error handler, after the rollback, with fresh data."""
    marker = f"flushed-before-the-error-{uuid.uuid4().hex[:8]}"

    @app.post("/test-form")
    def form_page(db: SessionDep) -> None:
        with render_on_error(
            "organisation/edit.html",
            {"form": {"name": marker}},
            load=lambda s: {"org": organisation.profile(session=s)},
        ):
            db.add(Organisation(id=1, name=marker, email="x@example.org", updated_by="test"))
            db.flush()
            raise Invalid("The privacy contact is not an email address.")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/test-form")
    assert response.status_code == 422
    assert "The privacy contact is not an email address." in response.text
    assert f'value="{marker}"' in response.text  # what was typed is shown again
    assert session.get(Organisation, 1) is None  # and what was flushed was rolled back


def test_a_redirect_error_goes_back_with_the_message_and_keeps_nothing(
    app: FastAPI, session: Session
) -> None:
    @app.post("/test-redirect")
    def refused(db: SessionDep) -> None:
        with redirect_on_error("/somewhere#form-h", place="form"):
            db.add(Organisation(id=1, name="half", email="x@example.org", updated_by="test"))
            db.flush()
            raise Conflict("Not now.")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/test-redirect", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/somewhere#form-h"
    assert "registry_flash" in response.headers["set-cookie"]
    assert session.get(Organisation, 1) is None


def test_an_undeclared_method_gets_405_with_every_allowed_method(client: TestClient) -> None:
    events = client.delete("/api/events")
    assert events.status_code == 405
    assert events.headers["allow"] == "GET, HEAD, POST"
    assert events.json() == {"detail": "Method Not Allowed"}
    health = client.request("TRACE", "/healthz")
    assert health.status_code == 405
    assert health.headers["allow"] == "GET, HEAD"


def test_a_rule_the_schema_cannot_express_is_refused_with_the_documented_422_body(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    answer = client.get("/api/publications?channel=", headers=admin_headers)
    assert answer.status_code == 422
    body = answer.json()
    assert "Unknown channel" in body["detail"]
    assert body["errors"] == [
        {"field": "channel", "message": body["detail"], "type": "value_error"}
    ]


def test_a_row_number_beyond_the_database_range_is_a_422_not_a_server_error(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    for number in (2**31, 0, -1):
        answer = client.post(f"/api/auth/users/{number}/disable", headers=admin_headers)
        assert answer.status_code == 422, number
        assert answer.json()["errors"][0]["field"] == "user_id"
    assert (
        client.post("/api/auth/users/2147483647/disable", headers=admin_headers).status_code == 404
    )


def test_text_with_a_nul_character_is_refused_and_nothing_is_written(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    before = client.get("/api/consent-notice", headers=admin_headers).json()
    answer = client.put(
        "/api/consent-notice",
        content=b'{"text": "A notice long enough to be accepted as one.\\u0000"}',
        headers={**admin_headers, "Content-Type": "application/json"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["type"] == "nul_character"
    assert client.get("/api/consent-notice", headers=admin_headers).json() == before
    query = client.get("/api/publications?channel=print%00", headers=admin_headers)
    assert query.status_code == 422
    page = client.post(
        "/events/x/link",
        content=b"email=a%00@example.org",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 422
    assert "NUL" in page.text
