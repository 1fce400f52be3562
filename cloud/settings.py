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
from typing import Annotated, Any, Final, Literal
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
DEFAULT_WEB_DIR: Final = Path(__file__).resolve().parent.parent / "dashboards" / "web" / "dist"
"""The fleet web UI as ``make web`` builds it in this checkout (``dashboards/web/dist``)."""
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


class S3Storage(BaseModel):
    """An S3-compatible bucket (MinIO, Ceph, AWS S3). Keys come from here or the usual AWS environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    endpoint_url: str | None = Field(default=None, description="e.g. http://minio:9000; unset = AWS")
    bucket: Annotated[str, Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$")]
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    key_prefix: Annotated[str, Field(max_length=200, pattern=r"^([A-Za-z0-9._-]+/)*$")] = ""
    addressing_style: Literal["path", "virtual", "auto"] = "path"
    create_bucket: bool = Field(default=False, description="create the bucket at startup when missing")
    part_size_mb: Annotated[int, Field(ge=5, le=512)] = 8

    @field_validator("secret_access_key")
    @classmethod
    def _real_key(cls, value: SecretStr | None) -> SecretStr | None:
        return refuse_placeholder(value, "storage.s3.secret_access_key")


class StorageSettings(BaseModel):
    """Where uploaded files live, and how agents download them (short-lived signed URLs)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["local", "s3"] = "local"
    local_dir: Path | None = Field(default=None, description="default: <data_dir>/files")
    s3: S3Storage | None = None
    max_upload_mb: Annotated[float, Field(gt=0, le=10_240)] = 512.0
    download_url_ttl_s: Annotated[int, Field(ge=30, le=7 * 24 * 3600)] = 900
    url_secret: SecretStr | None = Field(
        default=None, description="HMAC key of download URLs; default: derived from jwt_secret"
    )

    @field_validator("url_secret")
    @classmethod
    def _real_url_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return refuse_placeholder(value, "storage.url_secret")

    @model_validator(mode="after")
    def _s3_configured(self) -> StorageSettings:
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("storage.backend = 's3' needs a [storage.s3] section (bucket, endpoint_url ...)")
        return self


class JobsSettings(BaseModel):
    """The farm queue: dispatcher, staggered starts, offer and command retries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dispatcher: bool = Field(default=True, description="run the dispatcher and retry loop in this process")
    poll_interval_s: Annotated[float, Field(gt=0, le=300)] = 2.0
    claim_batch: Annotated[int, Field(ge=1, le=10_000)] = 200
    stagger_offers: Annotated[int, Field(ge=1, le=10_000)] = 5
    stagger_window_s: Annotated[float, Field(gt=0, le=3600)] = 10.0
    command_ttl_s: Annotated[float, Field(ge=5, le=24 * 3600)] = 120.0
    retry_initial_s: Annotated[float, Field(gt=0, le=3600)] = 3.0
    retry_max_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    publish_attempts: Annotated[int, Field(ge=1, le=1000)] = 8
    offer_answer_timeout_s: Annotated[float, Field(ge=5, le=24 * 3600)] = 300.0
    max_offer_attempts: Annotated[int, Field(ge=1, le=100)] = 5
    manifest_ttl_s: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] = 7 * 24 * 3600


class IngestSettings(BaseModel):
    """The MQTT ingest: how it subscribes, batches and writes (see ``cloud.fleet.ingest``).

    ``enabled``: ``None`` (default) runs the ingest when ``mqtt_url`` is configured explicitly
    (settings file, environment or argument); ``true`` / ``false`` force it on or off.
    ``share_group``: the MQTT 5 shared-subscription group replicas split the load in; empty for a
    plain subscription (one replica only, or a broker without shared subscriptions).
    ``shed_tele_after_s``: a ``tele`` that waited longer than this in the inbox is skipped and counted
    (``tele_shed``): the printer's next one (1 Hz) has arrived behind it, and states, events and acks must
    not queue behind telemetry that is already stale; 0 never sheds.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool | None = None
    share_group: Annotated[str, Field(max_length=64, pattern=r"^[^$+#/\s]*$")] = "ingest"
    client_id: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[^+#/\s]+$")] = "cloud-ingest"
    batch_max_items: Annotated[int, Field(ge=1, le=100_000)] = 2_000
    batch_max_delay_s: Annotated[float, Field(gt=0, le=10)] = 0.05
    max_pending_batches: Annotated[int, Field(ge=1, le=1_000)] = 8
    inbox_max_messages: Annotated[int, Field(ge=100, le=10_000_000)] = 200_000
    shed_tele_after_s: Annotated[float, Field(ge=0, le=3600)] = 1.0
    persistent_session: bool = Field(
        default=False,
        description="keep the broker session across reconnects (client id = client_id, unique per replica)",
    )
    keepalive_s: Annotated[int, Field(ge=5, le=3600)] = 30
    reconnect_min_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    write_retry_max_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    known_printers_refresh_s: Annotated[float, Field(gt=0, le=3600)] = 30.0


class FleetSettings(BaseModel):
    """Fleet state, telemetry retention and the live feed (see ``cloud.fleet``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    raw_retention_s: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] = 6 * 3600
    minute_retention_s: Annotated[int, Field(ge=3600, le=10 * 366 * 24 * 3600)] = 30 * 24 * 3600
    rollup_interval_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 60.0
    summary_cache_s: Annotated[float, Field(ge=0, le=60)] = 1.0
    feed_poll_interval_s: Annotated[float, Field(gt=0, le=60)] = 0.5
    feed_heartbeat_s: Annotated[float, Field(gt=0, le=300)] = 15.0
    feed_client_queue: Annotated[int, Field(ge=1, le=100_000)] = 1_000
    feed_max_clients: Annotated[int, Field(ge=1, le=100_000)] = 1_000


class NotifySettings(BaseModel):
    """Notifications (see ``cloud.notify``): SMTP for e-mail, webhook delivery and its retries, flapping.

    E-mail is off while ``smtp_host`` is unset. A failed delivery (5xx, timeout, refused connection,
    SMTP error) is tried again after ``retry_initial_s * retry_factor ** (attempt - 1)``, capped at
    ``retry_max_s``, ±``retry_jitter`` of it, at most ``max_attempts`` times in all.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    worker: bool = Field(default=True, description="run the delivery worker in this process")
    smtp_host: str | None = None
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 25
    smtp_from: Annotated[str, Field(min_length=3, max_length=254)] = "3D Pot <notifications@3dpot.local>"
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    webhook_timeout_s: Annotated[float, Field(gt=0, le=120)] = 10.0
    retry_initial_s: Annotated[float, Field(gt=0, le=3600)] = 5.0
    retry_factor: Annotated[float, Field(ge=1, le=10)] = 3.0
    retry_max_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 3600.0
    retry_jitter: Annotated[float, Field(ge=0, le=1)] = 0.2
    max_attempts: Annotated[int, Field(ge=1, le=100)] = 8
    poll_interval_s: Annotated[float, Field(gt=0, le=300)] = 5.0
    flap_window_s: Annotated[float, Field(gt=0, le=24 * 3600)] = 600.0
    stream_heartbeat_s: Annotated[float, Field(gt=0, le=300)] = 15.0

    @field_validator("smtp_password")
    @classmethod
    def _real_smtp_password(cls, value: SecretStr | None) -> SecretStr | None:
        return refuse_placeholder(value, "notify.smtp_password")


class MarketSettings(BaseModel):
    """The marketplace (see ``cloud.market``): platform fee, currency, the payment provider's webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fee_bps: Annotated[int, Field(ge=0, le=10_000, description="platform fee, basis points")] = 1000
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="the one currency of listings")] = "EUR"
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC key of the provider's webhooks; default: derived from jwt_secret"
    )
    webhook_tolerance_s: Annotated[int, Field(ge=10, le=3600)] = 300

    @field_validator("webhook_secret")
    @classmethod
    def _real_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        return refuse_placeholder(value, "market.webhook_secret")


class DesignsSettings(BaseModel):
    """The design studio (see ``cloud.designs``): the optional LLM engine and the preview renderer.

    Without ``llm_base_url`` the built-in engine understands every turn; with it, any
    OpenAI-compatible ``POST {llm_base_url}/chat/completions`` is asked first and the built-in
    engine answers whenever it fails (HTTP error, timeout, malformed or invalid answer).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    llm_base_url: str | None = Field(
        default=None, description="e.g. http://127.0.0.1:11434/v1; unset: the built-in engine only"
    )
    llm_model: Annotated[str, Field(min_length=1, max_length=200)] = "gpt-4o-mini"
    llm_api_key: SecretStr | None = None
    llm_timeout_s: Annotated[float, Field(gt=0, le=300)] = 20.0
    render_size_px: Annotated[int, Field(ge=64, le=2048)] = 512
    render_queue_max: Annotated[int, Field(ge=1, le=100_000)] = 1_000

    @field_validator("llm_api_key")
    @classmethod
    def _real_llm_key(cls, value: SecretStr | None) -> SecretStr | None:
        return refuse_placeholder(value, "designs.llm_api_key")

    @field_validator("llm_base_url")
    @classmethod
    def _llm_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("designs.llm_base_url must be an absolute http:// or https:// URL")
        return value.rstrip("/")


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
    web_dir: Path = Field(
        default=DEFAULT_WEB_DIR, description="the built fleet web UI served at / (make web builds it)"
    )

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
    ingest: IngestSettings = IngestSettings()
    fleet: FleetSettings = FleetSettings()

    bootstrap_admin: BootstrapAdmin = BootstrapAdmin()
    password_hashing: PasswordHashing = PasswordHashing()
    login_rate_limit: RateLimit = RateLimit(burst=5, per_minute=5.0)
    enrol_rate_limit: RateLimit = RateLimit(burst=10, per_minute=10.0)
    claim_code_max_ttl_s: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] = 7 * 24 * 3600
    storage: StorageSettings = StorageSettings()
    jobs: JobsSettings = JobsSettings()
    designs: DesignsSettings = DesignsSettings()
    market: MarketSettings = MarketSettings()
    notify: NotifySettings = NotifySettings()

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
