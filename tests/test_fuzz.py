"""The whole API surface fuzzed from its own OpenAPI document (schemathesis): every response's
status code must be one the document lists for that operation, its body must fit the documented
schema and content type, an undeclared method must get 405 with an exact `Allow`, and nothing
may be a server error.

A fixed seed (derandomized) and a bounded number of examples per operation keep the run
deterministic and short. Not checked: that every schema-valid request is accepted (rules across
fields, such as an end before a start, or an email at a special-use domain, are refused with a
documented 422 that JSON Schema cannot express).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

# More for a deeper local run: REGISTRY_FUZZ_EXAMPLES=200 pytest tests/test_fuzz.py
MAX_EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_EXAMPLES", "20"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    unsupported_method,
    allow_header_conformance,
]


def test_every_operation_answers_as_documented(app: FastAPI, admin_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations, failures = 0, []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # a part of the document schemathesis cannot read
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            case.call_and_validate(headers=admin_headers, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - reported together
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:2000])
    print(f"fuzzed {operations} operations, {MAX_EXAMPLES} examples each: {len(failures)} failed")  # noqa: T201
    assert not failures, "\n\n".join(failures)


STATEFUL_EXAMPLES = int(os.environ.get("REGISTRY_FUZZ_SCENARIOS", "15"))


def test_sequences_of_operations_answer_as_documented(
    app: FastAPI, admin_headers: dict[str, str]
) -> None:
    """The stateful phase: schemathesis links operations by the ids one returns and another
    takes (an event made, then booked, its booking re-issued, erased ...) and runs sequences of
    them; every answer of every step is checked as above (issue 26, item 17: a 409 it reached
    was not in the document)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    machine = schema.as_state_machine()
    transitions = schema.statistic.transitions if hasattr(schema, "statistic") else None

    class Workflow(machine):  # type: ignore[valid-type, misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": admin_headers}

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)

    Workflow.run(
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=8,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
    )
    print(f"stateful: {STATEFUL_EXAMPLES} scenarios; links {transitions}")  # noqa: T201
