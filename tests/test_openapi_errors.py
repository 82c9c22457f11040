"""Every status an API route can answer is in its OpenAPI `responses` (issue 26, item 17).

The routes' code is walked: the route function, its dependencies and, transitively, every
function of the registry it calls (by name, through modules and classes), collecting the
`RegistryError` classes raised on the way (not those a surrounding `try` catches). Each one's
status must be documented for the route, so a generated client knows every answer it can get.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
import types
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from registry import errors
from registry.main import ROUTERS

MAX_DEPTH = 8
# Raised where the middleware or FastAPI answer, not the route: documented on every route by
# FastAPI itself (422) or outside the document (413 bodies refused before any route runs).
ANSWERED_ELSEWHERE = {413}
# Errors the page helpers turn into redirects: pages are not in the document.
PAGE_ONLY = {errors.FormError, errors.RedirectWith}


def _registry_function(value: Any) -> Callable[..., Any] | None:
    function = getattr(value, "__func__", value)
    if isinstance(value, type):
        function = vars(value).get("__call__")  # a dependency class: its __call__
    elif value is not None and not isinstance(value, types.FunctionType | types.MethodType):
        function = vars(type(value)).get("__call__")  # a dependency instance
    if isinstance(function, types.FunctionType) and function.__module__.startswith("registry"):
        return function
    return None


@cache
def _tree(function: Callable[..., Any]) -> ast.AST | None:
    try:
        return ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None


def _resolve(node: ast.AST, scope: dict[str, Any]) -> Any:
    """What a name or dotted attribute refers to in a function's globals."""
    if isinstance(node, ast.Name):
        return scope.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _resolve(node.value, scope)
        return getattr(base, node.attr, None) if base is not None else None
    if isinstance(node, ast.Call):
        return _resolve(node.func, scope)
    return None


def _caught(handlers: list[ast.ExceptHandler], scope: dict[str, Any]) -> set[type]:
    caught: set[type] = set()
    for handler in handlers:
        kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for kind in kinds:
            value = _resolve(kind, scope) if kind is not None else BaseException
            if isinstance(value, type):
                caught.add(value)
    return caught


def _raised(
    function: Callable[..., Any], depth: int, seen: set[Any]
) -> set[type[errors.RegistryError]]:
    if function in seen or depth > MAX_DEPTH:
        return set()
    seen.add(function)
    tree = _tree(function)
    if tree is None:
        return set()
    scope = {**function.__globals__, **inspect.getclosurevars(function).nonlocals}
    found: set[type[errors.RegistryError]] = set()

    def visit(node: ast.AST, catching: set[type]) -> None:
        if isinstance(node, ast.Try):
            inner = catching | _caught(node.handlers, scope)
            for statement in node.body:
                visit(statement, inner)
            for branch in [*node.handlers, *node.orelse, *node.finalbody]:
                visit(branch, catching)
            return
        if isinstance(node, ast.Raise) and node.exc is not None:
            kind = _resolve(node.exc, scope)
            if isinstance(kind, type) and issubclass(kind, errors.RegistryError):
                if not any(issubclass(kind, c) for c in catching):
                    found.add(kind)
        if isinstance(node, ast.Call):
            target = _registry_function(_resolve(node.func, scope))
            if target is not None:
                for kind in _raised(target, depth + 1, seen):
                    if not any(issubclass(kind, c) for c in catching):
                        found.add(kind)
        for child in ast.iter_child_nodes(node):
            visit(child, catching)

    visit(tree, set())
    return found


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _api_routes() -> Iterator[APIRoute]:
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                yield route


def test_every_error_a_route_can_raise_is_documented() -> None:
    missing = []
    for route in _api_routes():
        raised: set[type[errors.RegistryError]] = set()
        for dependant in _dependants(route.dependant):
            function = _registry_function(dependant.call)
            if function is not None:
                raised |= _raised(function, 0, set())
        documented = {int(code) for code in route.responses if str(code).isdigit()}
        for kind in raised - PAGE_ONLY:
            status = kind.status_code
            if status not in documented and status not in ANSWERED_ELSEWHERE:
                methods = sorted(route.methods or ())
                missing.append(f"{methods} {route.path}: {status} ({kind.__name__})")
    assert sorted(set(missing)) == [], "\n".join(sorted(set(missing)))


def test_the_walk_finds_what_it_should() -> None:
    """The walk itself: a known route's raised errors (so the test above cannot pass empty)."""
    [reissue] = [r for r in _api_routes() if r.path == "/api/bookings/{booking_id}/manage-link"]
    raised: set[type[errors.RegistryError]] = set()
    for dependant in _dependants(reissue.dependant):
        function = _registry_function(dependant.call)
        if function is not None:
            raised |= _raised(function, 0, set())
    assert {errors.Conflict, errors.NotFound, errors.Unauthorized, errors.Forbidden} <= raised
