"""Enrolment: exchange an operator's one-time claim code for this printer's identity in the fleet.

    3dpot agent --enrol CODE --cloud-url https://cloud.example --serial-port /dev/ttyACM0

The cloud answers with the printer id, MQTT credentials and broker URL, the topic prefix and the
public key that signs job offers. They are kept in `<data_dir>/enrolment.json` (mode 0600) and fill
every setting the operator did not set explicitly, on this start and every later one.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError, field_validator

from contract.topics import validate_pid
from edge_agent.settings import AgentSettings

log = logging.getLogger(__name__)

FILENAME = "enrolment.json"


class EnrolmentError(Exception):
    """The cloud refused the claim code, or could not be reached; the message says which."""


class Enrolment(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    printer_id: str
    mqtt_username: str
    mqtt_password: SecretStr
    mqtt_url: str
    topic_prefix: str
    job_signing_public_key: str
    cloud_url: str = ""

    @field_validator("printer_id")
    @classmethod
    def _pid(cls, value: str) -> str:
        return validate_pid(value)


def enrolment_path(data_dir: Path) -> Path:
    return data_dir / FILENAME


def load_enrolment(data_dir: Path) -> Enrolment | None:
    path = enrolment_path(data_dir)
    if not path.is_file():
        return None
    try:
        return Enrolment.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise EnrolmentError(f"{path} is damaged ({exc.error_count()} problems): enrol again") from None


def save_enrolment(data_dir: Path, enrolment: Enrolment) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = enrolment_path(data_dir)
    payload = enrolment.model_dump(mode="json")
    payload["mqtt_password"] = enrolment.mqtt_password.get_secret_value()
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(payload, fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    temporary.replace(path)
    return path


def enrol(cloud_url: str, claim_code: str, settings: AgentSettings, *, timeout_s: float = 15.0) -> Enrolment:
    """POST the claim code (with what this printer is) to `<cloud_url>/api/enrol`."""
    profile = settings.printer
    x, y, z = profile.build_volume_mm
    body: dict[str, object] = {
        "claim_code": claim_code,
        "nozzle_mm": profile.nozzle_mm,
        "build_volume": {"x_mm": x, "y_mm": y, "z_mm": z},
    }
    if profile.material:
        body["material"] = profile.material
    url = cloud_url.rstrip("/") + "/api/enrol"
    try:
        response = httpx.post(url, json=body, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise EnrolmentError(f"could not reach the cloud at {cloud_url}: {exc}") from None
    if response.status_code not in (200, 201):
        try:
            detail = response.json().get("message") or response.text
        except ValueError:
            detail = response.text
        raise EnrolmentError(f"the cloud refused the claim code ({response.status_code}): {detail}")
    try:
        enrolment = Enrolment.model_validate({**response.json(), "cloud_url": cloud_url})
    except (ValueError, ValidationError) as exc:
        raise EnrolmentError(f"the cloud's answer is not an enrolment: {exc}") from None
    path = save_enrolment(settings.data_dir, enrolment)
    log.info("enrolled as %s; credentials kept in %s", enrolment.printer_id, path)
    return enrolment


def apply_enrolment(settings: AgentSettings, enrolment: Enrolment) -> AgentSettings:
    """`settings` with the enrolment filling every field the operator did not set explicitly."""
    explicit = settings.model_fields_set
    values = {
        "printer_id": enrolment.printer_id,
        "mqtt_url": enrolment.mqtt_url,
        "mqtt_username": enrolment.mqtt_username,
        "mqtt_password": enrolment.mqtt_password,
        "mqtt_prefix": enrolment.topic_prefix,
        "cloud_public_key": enrolment.job_signing_public_key,
    }
    update = {key: value for key, value in values.items() if key not in explicit}
    return settings.model_copy(update=update)
