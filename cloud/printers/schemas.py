"""HTTP bodies of printers, claim codes and enrolment."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.fields import LengthMm, Material, Name, NozzleMm, Tags


class Request(BaseModel):
    """Base of request bodies: an unknown field is a 422, not silently ignored."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class BuildVolume(BaseModel):
    """The printable volume (same names as ``contract.info.BuildVolume``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    x_mm: LengthMm
    y_mm: LengthMm
    z_mm: LengthMm


class ClaimCodeCreate(Request):
    ttl_s: int = Field(default=3600, ge=60, description="seconds until the code expires (capped by settings)")
    name: Name | None = Field(default=None, description="name of the printer that enrols with it")
    tags: Tags = Field(default_factory=list, description="tags of the printer that enrols with it")


class ClaimCodeCreated(BaseModel):
    id: str
    code: str = Field(description="the one-time code: shown this once; give it to the agent")
    expires_at: datetime


class EnrolRequest(Request):
    claim_code: str = Field(
        min_length=1, max_length=64, description="the code from POST /api/printers/claim-codes"
    )
    name: Name | None = Field(default=None, description="used when the claim code did not set a name")
    tags: Tags = Field(default_factory=list, description="added to the claim code's tags")
    nozzle_mm: NozzleMm | None = None
    material: Material | None = None
    build_volume: BuildVolume | None = None


class EnrolResponse(BaseModel):
    printer_id: str = Field(description="this printer's id: also its MQTT username and client id")
    mqtt_username: str
    mqtt_password: str = Field(description="shown this once; the cloud keeps only a hash")
    mqtt_url: str
    topic_prefix: str = Field(description="topics are <topic_prefix>/<printer_id>/...")
    job_signing_algorithm: Literal["ed25519"] = "ed25519"
    job_signing_public_key: str = Field(description="base64 of the raw 32-byte Ed25519 public key")


class PrinterOut(BaseModel):
    id: str
    name: str
    tags: list[str]
    nozzle_mm: float | None
    material: str | None
    build_volume: BuildVolume | None
    enrolled_at: datetime


class PrinterUpdate(Request):
    """Only the fields given change; ``null`` clears nozzle, material or build volume."""

    name: Name | None = None
    tags: Tags | None = None
    nozzle_mm: NozzleMm | None = None
    material: Material | None = None
    build_volume: BuildVolume | None = None

    @model_validator(mode="after")
    def _name_and_tags_not_null(self) -> PrinterUpdate:
        for field in ("name", "tags"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null (leave it out to keep it)")
        return self
