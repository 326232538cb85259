"""Settings: defaults, the TOML file, ATS_* overrides, and one message per bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ats.errors import ConfigurationError
from ats.settings import load_settings


def test_defaults_put_an_sqlite_file_under_var(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'ats.sqlite3'}"
    assert settings.timezone == "Europe/Brussels"
    assert settings.workflows_dir == tmp_path / "workflows"


def test_environment_variables_override_the_file(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "ats.toml").write_text('default_language = "fr"\nlog_level = "debug"\n')
    settings = load_settings(tmp_path, environ={"ATS_LOG_LEVEL": "warning"})
    assert settings.default_language == "fr"
    assert settings.log_level == "warning"


def test_every_bad_key_is_named_in_one_error(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "ats.toml").write_text(
        'databse_url = "x"\ndefault_language = "es"\ntimezone = "Mars/Olympus"\n'
    )
    with pytest.raises(ConfigurationError) as error:
        load_settings(tmp_path, environ={"ATS_SQLITE_BUSY_TIMEOUT_MS": "soon"})
    message = error.value.message
    for part in (
        "unknown key 'databse_url'",
        "default_language",
        "Mars/Olympus",
        "sqlite_busy_timeout_ms",
    ):
        assert part in message


def test_a_broken_toml_file_is_reported_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "ats.toml").write_text("timezone = \n")
    with pytest.raises(ConfigurationError, match=r"ats\.toml: not valid TOML"):
        load_settings(tmp_path, environ={})


def test_the_committed_example_configuration_loads(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config" / "ats.example.toml"
    settings = load_settings(tmp_path, environ={}, config_file=example)
    assert settings.log_format == "auto"


def test_an_unknown_database_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="database_url"):
        load_settings(tmp_path, environ={"ATS_DATABASE_URL": "mysql://x/y"})
