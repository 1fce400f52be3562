"""Cloud settings and secrets: sources and their order, refused mistakes, persisted generated keys."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from cloud.keys import KeyFileError, parse_signing_key, resolve_secrets
from cloud.settings import CloudSettings, async_database_url, load_settings


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("THREEDPOT_CLOUD_"):
            monkeypatch.delenv(name)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cloud.toml"
    path.write_text(text)
    return path


def test_defaults_need_nothing() -> None:
    settings = load_settings()
    assert settings.data_dir == Path("data/cloud")
    assert settings.database_url == "sqlite+aiosqlite:///data/cloud/cloud.db"
    assert settings.jwt_secret is None
    assert settings.agent_mqtt_url == settings.mqtt_url


def test_database_url_follows_data_dir_and_gets_an_async_driver(tmp_path: Path) -> None:
    assert load_settings(data_dir=tmp_path).database_url == f"sqlite+aiosqlite:///{tmp_path}/cloud.db"
    pg = load_settings(database_url="postgresql://u@db:5432/fleet")
    assert pg.database_url == "postgresql+asyncpg://u@db:5432/fleet"


def test_file_then_environment_then_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        'public_base_url = "https://fleet.example.com/"\n'
        "access_token_lifetime_s = 600\n"
        "[bootstrap_admin]\n"
        'email = "root@example.com"\n'
        "[mosquitto]\n"
        'pid_file = "/run/mosquitto.pid"\n',
    )
    monkeypatch.setenv("THREEDPOT_CLOUD_ACCESS_TOKEN_LIFETIME_S", "900")
    monkeypatch.setenv("THREEDPOT_CLOUD_BOOTSTRAP_ADMIN__ORGANISATION", "Farm")
    settings = load_settings(path, mqtt_url="mqtt://broker:1883")
    assert settings.public_base_url == "https://fleet.example.com"
    assert settings.access_token_lifetime_s == 900
    assert settings.bootstrap_admin.email == "root@example.com"
    assert settings.bootstrap_admin.organisation == "Farm"
    assert settings.mosquitto.pid_file == Path("/run/mosquitto.pid")
    assert settings.mqtt_url == "mqtt://broker:1883"


@pytest.mark.parametrize(
    "text",
    [
        "databse_url = 'sqlite:///x.db'\n",  # a typo
        "[bootstrap_admin]\nemial = 'a@b.c'\n",
        "database_url = 'mysql://x'\n",
        "jwt_secret = 'changeme'\n",
        "jwt_secret = 'too-short'\n",
        "job_signing_key = 'secret'\n",
        "[bootstrap_admin]\npassword = 'password'\n",
        "[bootstrap_admin]\npassword = 'short'\n",
        "mqtt_url = 'http://broker'\n",
        "mqtt_topic_prefix = 'fleet/#'\n",
        "public_base_url = 'ftp://x'\n",
        "access_token_lifetime_s = 5\n",
    ],
)
def test_mistakes_are_startup_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValidationError):
        load_settings(write(tmp_path, text))


def test_a_missing_settings_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"cloud\.toml"):
        load_settings(tmp_path / "cloud.toml")


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.data_dir = Path("/elsewhere")


def test_async_database_url() -> None:
    assert async_database_url("sqlite:///a.db") == "sqlite+aiosqlite:///a.db"
    assert async_database_url("postgres://h/db") == "postgresql+asyncpg://h/db"
    with pytest.raises(ValueError, match="not a URL"):
        async_database_url("cloud.db")


def test_generated_secrets_are_persisted_and_reused(tmp_path: Path) -> None:
    settings = CloudSettings(data_dir=tmp_path)
    first = resolve_secrets(settings)
    second = resolve_secrets(settings)
    assert first.jwt_secret.get_secret_value() == second.jwt_secret.get_secret_value()
    assert len(first.jwt_secret.get_secret_value()) >= 32
    assert first.public_key_b64 == second.public_key_b64
    assert first.mqtt_ingest_password.get_secret_value() == second.mqtt_ingest_password.get_secret_value()
    for name in ("jwt_secret", "job_signing_key", "mqtt_ingest_password"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600
    assert len(base64.b64decode((tmp_path / "job_signing_key").read_text())) == 32


def test_secrets_from_settings_win(tmp_path: Path) -> None:
    key = base64.b64encode(bytes(range(32))).decode()
    settings = CloudSettings(
        data_dir=tmp_path, jwt_secret=SecretStr("x" * 40), job_signing_key=SecretStr(key)
    )
    secrets = resolve_secrets(settings)
    assert secrets.jwt_secret.get_secret_value() == "x" * 40
    assert secrets.public_key_b64 == resolve_secrets(settings).public_key_b64
    assert not (tmp_path / "jwt_secret").exists()
    assert not (tmp_path / "job_signing_key").exists()


@pytest.mark.parametrize("value", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_signing_key_is_refused(value: str) -> None:
    with pytest.raises(KeyFileError):
        parse_signing_key(value)
