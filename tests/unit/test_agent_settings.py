"""Agent settings: precedence defaults < TOML < environment < flags, and typos as startup errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from edge_agent.settings import load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(text)
    return path


def test_defaults_need_no_file() -> None:
    settings = load_settings()
    assert settings.baud == 250_000
    assert settings.printer.bufsize == 4


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(
        tmp_path,
        'printer_id = "mk3-a"\nbaud = 115200\nhttp_port = 8080\n[printer]\nmax_tool_c = 300\nbufsize = 8\n',
    )
    monkeypatch.setenv("THREEDPOT_AGENT_HTTP_PORT", "9090")
    monkeypatch.setenv("THREEDPOT_AGENT_PRINTER__BUFSIZE", "16")
    settings = load_settings(path, baud=None, serial_port="/dev/ttyUSB0")
    assert settings.printer_id == "mk3-a"
    assert settings.baud == 115200  # a flag left unset does not override the file
    assert settings.http_port == 9090  # environment beats the file
    assert settings.printer.bufsize == 16
    assert settings.printer.max_tool_c == 300
    assert settings.serial_port == "/dev/ttyUSB0"  # flags beat everything


@pytest.mark.parametrize(
    "text",
    ["bauds = 115200\n", "[printer]\nmax_tool = 300\n", 'printer_id = "a/b"\n', 'api_key = "changeme"\n'],
    ids=["typo", "nested-typo", "bad-pid", "placeholder-key"],
)
def test_mistakes_in_the_file_are_startup_errors(tmp_path: Path, text: str) -> None:
    with pytest.raises(ValidationError):
        load_settings(write(tmp_path, text))


def test_a_missing_config_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"agent\.toml"):
        load_settings(tmp_path / "agent.toml")


def test_the_api_key_never_prints(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, 'api_key = "s3cr3t-k3y"\n'))
    assert "s3cr3t" not in repr(settings)
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "s3cr3t-k3y"


def test_the_example_config_in_deploy_is_valid() -> None:
    settings = load_settings(Path(__file__).parents[2] / "deploy" / "agent.example.toml")
    assert settings.printer.model == "Prusa MK4" and settings.printer.flavour == "auto"
