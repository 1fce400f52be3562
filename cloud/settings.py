"""The cloud's settings: defaults < TOML file < environment (``THREEDPOT_CLOUD_*``) < explicit arguments.

Nested groups use ``__`` in the environment: ``THREEDPOT_CLOUD_BOOTSTRAP_ADMIN__EMAIL``,
``THREEDPOT_CLOUD_MOSQUITTO__PID_FILE``. A key the cloud does not know is a startup error at any
level, so a typo never passes silently.

With no settings at all the cloud runs on embedded defaults: SQLite in ``data/cloud/cloud.db``,
secrets generated once and kept in ``data/cloud`` (see ``cloud.keys``), and a first admin whose
password is printed to the log once. Secrets given in settings (``jwt_secret``,
``job_signing_key``, ``bootstrap_admin.password``) are refused when they are placeholders such
as ``changeme``. Several replicas behind a load balancer must be given the same ``jwt_secret``
and ``job_signing_key`` (or share ``data_dir``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from contract.topics import DEFAULT_PREFIX, Topics

ENV_PREFIX: Final = "THREEDPOT_CLOUD_"
DEFAULT_DATA_DIR: Final = Path("data/cloud")
PLACEHOLDER_SECRETS: Final = frozenset(
    {
        "changeme",
        "change-me",
        "change_me",
        "changethis",
        "secret",
        "password",
        "admin",
        "jwt-secret",
        "jwt_secret",
        "apikey",
        "api-key",
        "xxx",
        "todo",
    }
)
JWT_SECRET_MIN_CHARS: Final = 32
_ASYNC_DRIVERS: Final = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def refuse_placeholder(value: SecretStr | None, what: str) -> SecretStr | None:
    """Raise ``ValueError`` when ``value`` is a well-known placeholder rather than a real secret."""
    if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
        raise ValueError(
            f"{what} is a placeholder value: set a real secret or leave it unset to generate one"
        )
    return value


def async_database_url(url: str) -> str:
    """``url`` with the async driver of its database (``postgresql://`` → ``postgresql+asyncpg://``).

    Raises ``ValueError`` for a database other than SQLite or PostgreSQL.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(
            f"database_url {url!r} is not a URL (expected sqlite+aiosqlite:/// or postgresql://)"
        )
    driver = _ASYNC_DRIVERS.get(scheme.lower())
    if driver is None:
        raise ValueError(
            f"database_url scheme {scheme!r} is not supported: use sqlite+aiosqlite:/// or postgresql://"
        )
    return f"{driver}://{rest}"


class BootstrapAdmin(BaseModel):
    """The first organisation and admin, created when the database has no user at all.

    Without ``password`` a random one is generated and written to the log once.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    organisation: Annotated[str, Field(min_length=1, max_length=200)] = "Default"
    email: Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")] = (
        "admin@3dpot.local"
    )
    password: SecretStr | None = None

    @field_validator("password")
    @classmethod
    def _real_password(cls, value: SecretStr | None) -> SecretStr | None:
        refuse_placeholder(value, "bootstrap_admin.password")
        if value is not None and len(value.get_secret_value()) < 8:
            raise ValueError("bootstrap_admin.password must be at least 8 characters long")
        return value


class MosquittoFiles(BaseModel):
    """Where the cloud writes Mosquitto's password file and ACL, and whom it SIGHUPs to reload them.

    Leave ``password_file`` unset when the broker does not use per-device credentials (the
    embedded default). ``pid_file`` is optional: without it the files are written but the broker
    reloads them only when something else signals it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    password_file: Path | None = None
    acl_file: Path | None = None
    pid_file: Path | None = None
    file_mode: Annotated[int, Field(ge=0o400, le=0o777)] = 0o640


class PasswordHashing(BaseModel):
    """argon2id cost. The defaults are argon2-cffi's (RFC 9106 low-memory profile)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_cost: Annotated[int, Field(ge=1, le=20)] = 3
    memory_kib: Annotated[int, Field(ge=1024, le=4 * 1024 * 1024)] = 65_536
    parallelism: Annotated[int, Field(ge=1, le=64)] = 4


class RateLimit(BaseModel):
    """A token bucket: ``burst`` attempts at once, refilled at ``per_minute``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    burst: Annotated[int, Field(ge=1)]
    per_minute: Annotated[float, Field(gt=0)]


class CloudSettings(BaseSettings):
    """Every setting of the cloud service. Build with ``load_settings``; pass it down, never import it."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", frozen=True
    )

    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str = Field(
        default="", description="default: sqlite+aiosqlite:///<data_dir>/cloud.db; postgresql:// works too"
    )
    migrate_on_startup: bool = True
    public_base_url: str = "http://127.0.0.1:8080"

    jwt_secret: SecretStr | None = None
    access_token_lifetime_s: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 3600
    job_signing_key: SecretStr | None = Field(
        default=None, description="base64 of the raw 32-byte Ed25519 private key; generated when unset"
    )
    metrics_token: SecretStr | None = Field(
        default=None, description="when set, /metrics wants 'Authorization: Bearer <token>'"
    )

    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_public_url: str | None = Field(default=None, description="the broker URL given to agents")
    mqtt_topic_prefix: str = DEFAULT_PREFIX
    mqtt_ingest_username: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^:+#/\s]+$")] = (
        "cloud-ingest"
    )
    mqtt_ingest_password: SecretStr | None = None
    mosquitto: MosquittoFiles = MosquittoFiles()

    bootstrap_admin: BootstrapAdmin = BootstrapAdmin()
    password_hashing: PasswordHashing = PasswordHashing()
    login_rate_limit: RateLimit = RateLimit(burst=5, per_minute=5.0)
    enrol_rate_limit: RateLimit = RateLimit(burst=10, per_minute=10.0)
    claim_code_max_ttl_s: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] = 7 * 24 * 3600

    @model_validator(mode="before")
    @classmethod
    def _default_database_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("database_url"):
            data_dir = Path(data.get("data_dir") or DEFAULT_DATA_DIR)
            data = {**data, "database_url": f"sqlite+aiosqlite:///{data_dir / 'cloud.db'}"}
        return data

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return async_database_url(value)

    @field_validator("jwt_secret")
    @classmethod
    def _real_jwt_secret(cls, value: SecretStr | None) -> SecretStr | None:
        refuse_placeholder(value, "jwt_secret")
        if value is not None and len(value.get_secret_value()) < JWT_SECRET_MIN_CHARS:
            raise ValueError(f"jwt_secret must be at least {JWT_SECRET_MIN_CHARS} characters long")
        return value

    @field_validator("job_signing_key", "mqtt_ingest_password", "metrics_token")
    @classmethod
    def _real_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return refuse_placeholder(value, "this secret")

    @field_validator("public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("public_base_url must be an absolute http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("mqtt_url", "mqtt_public_url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("mqtt", "mqtts", "ws", "wss") or not parts.hostname:
            raise ValueError("an MQTT URL looks like mqtt://host:1883 (or mqtts://, ws://, wss://)")
        return value

    @field_validator("mqtt_topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        Topics(prefix=value)  # raises InvalidTopicError (a ValueError) when malformed
        return value

    @property
    def agent_mqtt_url(self) -> str:
        """The broker URL handed to agents at enrolment."""
        return self.mqtt_public_url or self.mqtt_url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


def load_settings(settings_file: Path | None = None, **overrides: object) -> CloudSettings:
    """Settings from ``settings_file`` (TOML, optional), the environment, then ``overrides``.

    An override of ``None`` means "not given". Raises ``FileNotFoundError`` for a missing file and
    ``pydantic.ValidationError`` for anything invalid or unknown.
    """
    if settings_file is not None and not settings_file.is_file():
        raise FileNotFoundError(f"settings file {settings_file} does not exist")

    class _FromFile(CloudSettings):
        model_config = SettingsConfigDict(toml_file=settings_file)

    given = {key: value for key, value in overrides.items() if value is not None}
    return _FromFile(**given)  # type: ignore[arg-type]
