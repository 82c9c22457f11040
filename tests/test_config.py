from __future__ import annotations

import re
from pathlib import Path

import pytest

from registry.config import ConfigError, Settings


def test_secret_key_is_required_outside_dev(tmp_path: Path) -> None:
    settings = Settings(env="production", secret_key="", var_dir=tmp_path)
    with pytest.raises(ConfigError, match="REGISTRY_SECRET_KEY must be set"):
        settings.resolved_secret_key()


def test_short_secret_key_is_refused_outside_dev(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="too short"):
        Settings(env="production", secret_key="short", var_dir=tmp_path).resolved_secret_key()


def test_dev_generates_and_keeps_a_secret(tmp_path: Path) -> None:
    first = Settings(env="dev", secret_key="", var_dir=tmp_path).resolved_secret_key()
    second = Settings(env="dev", secret_key="", var_dir=tmp_path).resolved_secret_key()
    assert first == second
    assert len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_defaults_live_under_var_dir(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, database_url="", media_dir=None)
    assert settings.database_url == f"sqlite:///{tmp_path.as_posix()}/registry.db"
    assert settings.media_path() == tmp_path / "media"


@pytest.mark.parametrize("url", ["postgres://u:p@h/db", "postgresql://u:p@h/db"])
def test_postgres_urls_use_psycopg3(url: str) -> None:
    assert Settings(database_url=url).database_url == "postgresql+psycopg://u:p@h/db"


def test_every_setting_is_described() -> None:
    missing = [name for name, f in Settings.model_fields.items() if not f.description]
    assert missing == []


def test_review_threshold_may_not_be_below_the_match(tmp_path: Path) -> None:
    import pydantic

    with pytest.raises(pydantic.ValidationError, match="review_threshold"):
        Settings(var_dir=tmp_path, match_threshold=0.6, review_threshold=0.5)


def _readme_settings() -> list[str]:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("\n## Settings\n") : readme.index("\n## API\n")]
    return re.findall(r"^\| `(REGISTRY_\w+)` \|", section, flags=re.MULTILINE)


def test_readme_lists_every_setting_once_in_the_class_order() -> None:
    """An operator reads the README, not config.py: each setting has its own row there, in the
    same groups and order as the class."""
    expected = [f"REGISTRY_{name.upper()}" for name in Settings.model_fields]
    assert _readme_settings() == expected
