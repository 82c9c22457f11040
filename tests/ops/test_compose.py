"""compose.yaml cannot drift from the code (issue 28, item 4; Docker cannot run here): every
service is there with a health check, every command the registry image runs is a real
`registry` command with real options, beat runs exactly once, every REGISTRY_ variable is a
real setting, and every setting a production deployment needs is set for the web app and the
workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml

from registry.cli import app
from registry.config import Settings, required_in_production

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
OURS = {name: s for name, s in SERVICES.items() if s.get("build") == "."}


def _command(argv: list[str]) -> Any:
    """The command `registry ARGV` runs; fails on an unknown command or option."""
    assert argv[0] == "registry", argv
    command: Any = typer.main.get_command(app)
    rest = argv[1:]
    while hasattr(command, "get_command"):  # a group (typer's own click: not click.Group)
        name, rest = rest[0], rest[1:]
        found = command.get_command(click.Context(command), name)
        assert found is not None, f"no command `{name}` in `{' '.join(argv)}`"
        command = found
    options = {o for p in command.params for o in getattr(p, "opts", [])}
    flags = [token.split("=")[0] for token in rest if token.startswith("-")]
    unknown = [flag for flag in flags if flag not in options]
    assert unknown == [], f"`{' '.join(argv)}`: no option {unknown}"
    return command


def test_the_topology_is_complete() -> None:
    assert {"postgres", "redis", "seaweedfs", "web", "worker", "beat"} <= set(SERVICES)
    for name, service in SERVICES.items():
        assert "healthcheck" in service, f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name
    assert set(OURS) == {"web", "worker", "beat"}
    for service in OURS.values():
        assert service["volumes"] == ["registry-var:/data"]


@pytest.mark.parametrize("name", sorted(OURS))
def test_each_service_runs_a_real_registry_command(name: str) -> None:
    argv = OURS[name]["command"]
    command = _command(argv)
    assert command.name in ("serve", "worker")


def test_beat_runs_once_and_the_web_app_uses_the_broker() -> None:
    beats = [n for n, s in OURS.items() if "--beat" in s["command"]]
    assert beats == ["beat"]
    assert "--workers" in OURS["web"]["command"]  # several web processes: needs the broker
    assert OURS["web"]["environment"]["REGISTRY_BROKER_URL"].startswith("redis://redis:")


def test_every_registry_variable_is_a_real_setting_and_production_needs_are_set() -> None:
    known = {f"REGISTRY_{name.upper()}" for name in Settings.model_fields}
    for name, service in OURS.items():
        environment = service["environment"]
        named = {key for key in environment if key.startswith("REGISTRY_")}
        assert named - known == set(), f"{name}: not settings: {named - known}"
        missing = set(required_in_production()) - set(environment)
        assert missing == set(), f"{name} lacks {missing}"
        assert environment["REGISTRY_ENV"] == "production"


def test_the_dockerfile_runs_a_real_command_and_has_the_backup_tools() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    _command(yaml.safe_load(cmd[4:]))
    assert "postgresql-client" in dockerfile  # registry backup / restore on PostgreSQL
