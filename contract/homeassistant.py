"""Home Assistant: the plain ``cmd/ha`` buttons and the device discovery payload.

``cmd/ha`` carries plain ``pause`` / ``resume`` / ``cancel``. These carry no id, so the agent
treats them as desired states (pause while paused does nothing) and debounces them.

Discovery is Home Assistant's own format (device-based discovery on
``homeassistant/device/<pid>/config``): ``dev`` (device), ``o`` (origin), ``avty`` (availability)
and ``cmps`` (components, each with platform ``p``). It is not one of our versioned payloads, so
it carries no ``schema`` / ``ts``. Inside those objects we use Home Assistant's full option
names, which it accepts alongside the abbreviations (``p``, the platform, is always abbreviated).
"""

from __future__ import annotations

import json
from enum import StrEnum

from pydantic import Field

from contract.envelope import Part
from contract.info import PrinterInfo
from contract.presence import Presence, parse_plain_word
from contract.topics import DEFAULT_TOPICS, Topics


class HaCommand(StrEnum):
    """A Home Assistant button press."""

    PAUSE = "pause"
    RESUME = "resume"
    CANCEL = "cancel"


def parse_ha_command(payload: bytes | bytearray | str) -> HaCommand:
    """Read a ``cmd/ha`` payload; surrounding whitespace and letter case are tolerated."""
    return parse_plain_word(payload, HaCommand, "cmd/ha")


def format_ha_command(command: HaCommand) -> bytes:
    """The bytes to publish on ``cmd/ha``."""
    return command.value.encode("ascii")


class HaDevice(Part):
    """``dev``: the device all components belong to."""

    identifiers: tuple[str, ...] = Field(min_length=1)
    name: str
    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None


class HaOrigin(Part):
    """``o``: the software that publishes the discovery."""

    name: str
    sw_version: str | None = None
    support_url: str | None = None


class HaAvailability(Part):
    """One ``avty`` entry: the component is available while ``topic`` says ``online``."""

    topic: str
    payload_available: str = Presence.ONLINE.value
    payload_not_available: str = Presence.OFFLINE.value


class HaComponent(Part):
    """One entity in ``cmps``; options left ``None`` are not sent."""

    p: str = Field(description="the platform: sensor, button, binary_sensor ...")
    unique_id: str
    name: str | None = None
    state_topic: str | None = None
    value_template: str | None = None
    command_topic: str | None = None
    payload_press: str | None = None
    device_class: str | None = None
    unit_of_measurement: str | None = None
    state_class: str | None = None
    icon: str | None = None


class HaDiscovery(Part):
    """The device discovery payload, published retained."""

    dev: HaDevice
    o: HaOrigin
    avty: tuple[HaAvailability, ...] = ()
    cmps: dict[str, HaComponent]
    qos: int = Field(default=1, ge=0, le=2)


def build_discovery(
    pid: str,
    info: PrinterInfo,
    *,
    topics: Topics = DEFAULT_TOPICS,
    origin: HaOrigin | None = None,
) -> HaDiscovery:
    """The discovery payload for one printer: state and progress sensors, one temperature sensor
    per heater in ``info.heaters``, and pause / resume / cancel buttons on ``cmd/ha``."""
    state_topic = topics.state(pid)
    cmps: dict[str, HaComponent] = {
        "printer_state": HaComponent(
            p="sensor",
            unique_id=f"{pid}_printer_state",
            name="State",
            state_topic=state_topic,
            value_template="{{ value_json.printer_state }}",
            icon="mdi:printer-3d",
        ),
        "progress": HaComponent(
            p="sensor",
            unique_id=f"{pid}_progress",
            name="Progress",
            state_topic=state_topic,
            value_template="{{ ((value_json.job.progress if value_json.job else 0) * 100) | round(1) }}",
            unit_of_measurement="%",
            state_class="measurement",
        ),
    }
    for heater in info.heaters:
        key = json.dumps(heater)
        cmps[f"temp_{heater}"] = HaComponent(
            p="sensor",
            unique_id=f"{pid}_temp_{heater}",
            name=f"{heater} temperature",
            state_topic=state_topic,
            value_template=f"{{{{ value_json.temps[{key}].actual if {key} in value_json.temps else None }}}}",
            device_class="temperature",
            unit_of_measurement="°C",
            state_class="measurement",
        )
    for command in HaCommand:
        cmps[command.value] = HaComponent(
            p="button",
            unique_id=f"{pid}_{command.value}",
            name=command.value.capitalize(),
            command_topic=topics.ha_cmd(pid),
            payload_press=command.value,
        )
    return HaDiscovery(
        dev=HaDevice(identifiers=(pid,), name=pid, model=info.model, sw_version=info.firmware),
        o=origin or HaOrigin(name="3dpot", sw_version=info.agent_version),
        avty=(HaAvailability(topic=topics.status(pid)),),
        cmps=cmps,
    )
