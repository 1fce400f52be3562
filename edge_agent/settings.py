"""The agent's settings: defaults < TOML file < environment (`THREEDPOT_AGENT_*`) < command-line flags.

A key the agent does not know is a startup error, at any level, so a typo never passes silently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from contract.topics import validate_pid
from firmware_bridge.flavours import FLAVOURS

PLACEHOLDER_KEYS = frozenset({"changeme", "change-me", "secret", "apikey", "api-key", "password"})


class PrinterProfile(BaseModel):
    """What the printer is: the watchdog's limits and the link's buffer sizes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = "Generic Marlin printer"
    flavour: str = "auto"  # auto = detect from M115; or marlin, prusa, reprapfirmware, klipper, repetier
    build_volume_mm: tuple[float, float, float] = (220.0, 220.0, 250.0)
    nozzle_mm: Annotated[float, Field(gt=0)] = 0.4
    max_tool_c: Annotated[float, Field(gt=0, le=500)] = 275.0
    max_bed_c: Annotated[float, Field(gt=0, le=200)] = 120.0
    bufsize: Annotated[int, Field(ge=1, le=64)] = 4
    rx_buffer_bytes: Annotated[int, Field(ge=16)] = 128
    planner_blocks: Annotated[int, Field(ge=0, le=256)] = 16  # moves the board may hold beyond BUFSIZE
    auto_bed_clear: bool = False
    material: str | None = None

    @field_validator("flavour")
    @classmethod
    def _known_flavour(cls, value: str) -> str:
        if value != "auto" and value.lower() not in FLAVOURS:
            raise ValueError(f"unknown flavour {value!r}; use auto or one of {', '.join(sorted(FLAVOURS))}")
        return value.lower()


class AgentSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="THREEDPOT_AGENT_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    printer_id: str = "printer-1"
    serial_port: str = "/dev/ttyACM0"
    baud: Annotated[int, Field(gt=0)] = 250_000
    mqtt_url: str = "mqtt://127.0.0.1:1883"
    mqtt_username: str | None = None  # default: the printer id
    mqtt_password: SecretStr | None = None
    mqtt_prefix: str = "fleet/v1"
    homeassistant: bool = True  # publish Home Assistant discovery and accept cmd/ha
    ha_mqtt_url: str | None = None  # a second broker for a local Home Assistant
    http_host: str = "0.0.0.0"
    http_port: Annotated[int, Field(ge=0, le=65535)] = 5000
    data_dir: Path = Path("data/agent")
    api_key: SecretStr | None = None  # generated and stored in data_dir when not set
    cloud_public_key: str | None = None  # base64 Ed25519 key that signs job offers (or from enrolment)
    max_upload_mb: Annotated[float, Field(gt=0)] = 512.0
    replug_grace_s: Annotated[float, Field(ge=0)] = 60.0
    idle_heaters_off_s: Annotated[float, Field(ge=0)] = 900.0  # 0 = never
    allow_remote_gcode: tuple[str, ...] = ()  # firmware-altering words allowed anyway, e.g. ("M500",)
    printer: PrinterProfile = PrinterProfile()

    @field_validator("printer_id")
    @classmethod
    def _pid(cls, value: str) -> str:
        return validate_pid(value)

    @field_validator("api_key")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().lower() in PLACEHOLDER_KEYS:
            raise ValueError("api_key is a placeholder: set a real secret")
        return value

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


def load_settings(config_file: Path | None = None, **flags: object) -> AgentSettings:
    """Settings from `config_file` (TOML, optional), the environment, then `flags` (None = not given)."""
    if config_file is not None and not config_file.is_file():
        raise FileNotFoundError(f"config file {config_file} does not exist")

    class _FromFile(AgentSettings):
        model_config = SettingsConfigDict(toml_file=config_file)

    given = {key: value for key, value in flags.items() if value is not None}
    return _FromFile(**given)  # type: ignore[arg-type]
