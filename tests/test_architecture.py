"""Dependencies run one way: no import cycles, no late imports of the registry's own modules,
the import-linter contracts in pyproject.toml, and signals that always reach a handler."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import grimp
import pytest
from importlinter import cli as import_linter
from sqlmodel import Session

from registry import reactions, signals
from registry.config import ROOT_DIR

PACKAGE = ROOT_DIR / "registry"


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1:
                        found.append(sorted(group))
    return found


def test_no_module_of_the_registry_imports_itself_round() -> None:
    graph = grimp.build_graph("registry")
    assert _cycles(graph) == []


# The one module whose job is the order of imports: the `registry` command's entry point starts
# the pool's fork server before the web app is imported (the cold start), and nothing imports it
# but `registry/__main__.py`.
LATE_BY_DESIGN = {"registry/launch.py"}


def test_the_registry_never_imports_its_own_modules_inside_functions() -> None:
    late = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if str(path.relative_to(ROOT_DIR)) in LATE_BY_DESIGN:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith(
                    "registry"
                ):
                    late.append(f"{path.relative_to(ROOT_DIR)}:{inner.lineno}")
                if isinstance(inner, ast.Import) and any(
                    a.name.startswith("registry") for a in inner.names
                ):
                    late.append(f"{path.relative_to(ROOT_DIR)}:{inner.lineno}")
    assert late == []


def test_the_import_contracts_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT_DIR)
    assert import_linter.lint_imports(config_filename=str(Path("pyproject.toml"))) == 0


def test_every_signal_is_wired_and_an_unwired_signal_is_an_error(session: Session) -> None:
    reactions.wire()
    reactions.wire()  # idempotent: each reaction is bound once
    for signal in (signals.opt_outs_changed, signals.basis_changed):
        assert len(signal.handlers) == 1, signal.name
    lonely: signals.Signal[signals.BasisChanged] = signals.Signal("lonely", "no handler")
    with pytest.raises(signals.NotWired, match="reactions.wire"):
        lonely.send(session=session, media_ids=[uuid.uuid4()])
