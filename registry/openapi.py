"""The OpenAPI document says what the API really returns on errors.

FastAPI documents every 422 with its own `HTTPValidationError` (`detail` as a list); this API
answers `{"detail": str, "errors": [...]}` (`ValidationErrorBody`). Every operation that takes a
body may also answer 400 (a body that cannot be parsed) and 413 (a body over the limit, refused
before it is read), with `ErrorBody`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from registry.errors import ErrorBody, ValidationErrorBody

_METHODS = ("get", "put", "post", "delete", "patch")


def _ref(name: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}}


def _component(schema: dict[str, Any], model: type[BaseModel]) -> None:
    generated = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, sub in generated.pop("$defs", {}).items():
        components[name] = sub
    components[model.__name__] = generated


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    _component(schema, ErrorBody)
    _component(schema, ValidationErrorBody)
    for item in schema.get("paths", {}).values():
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            if "422" in responses:
                responses["422"] = {
                    "description": "Invalid input",
                    **_ref("ValidationErrorBody"),
                }
            if "requestBody" in operation:
                responses.setdefault(
                    "400", {"description": "The body could not be read", **_ref("ErrorBody")}
                )
                responses.setdefault(
                    "413", {"description": "The body is over the limit", **_ref("ErrorBody")}
                )
    components = schema.get("components", {}).get("schemas", {})
    text = str(schema.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if unused in components and f"/{unused}'" not in text:
            del components[unused]
    return schema


def install(app: FastAPI) -> None:
    """Serve the corrected document at /openapi.json (built once)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    description=app.description,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
