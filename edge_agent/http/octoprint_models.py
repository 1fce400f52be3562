"""OctoPrint's JSON shapes, as far as slicers read them (PrusaSlicer, OrcaSlicer, Cura's OctoPrint plugin).

Fields are snake_case here and camelCase on the wire (`effective_print` ↔ `effectivePrint`), OctoPrint's
spelling; `None` is sent as `null` where OctoPrint sends `null` (no job, no estimate).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

OCTOPRINT_VERSION = "1.10.0"
OCTOPRINT_API = "0.1"
PROFILE_ID = "_default"


class OctoModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


class VersionOut(OctoModel):
    api: str = OCTOPRINT_API
    server: str = OCTOPRINT_VERSION
    text: str


class ServerOut(OctoModel):
    version: str = OCTOPRINT_VERSION
    safemode: str | None = None


class FileRefs(OctoModel):
    resource: str
    download: str


class UploadedFile(OctoModel):
    name: str
    display: str
    origin: Literal["local"] = "local"
    path: str
    refs: FileRefs


class UploadedFiles(OctoModel):
    local: UploadedFile


class UploadOut(OctoModel):
    done: bool = True
    effective_print: bool
    effective_select: bool
    files: UploadedFiles


class FileEntry(OctoModel):
    name: str
    display: str
    path: str
    type: Literal["machinecode"] = "machinecode"
    type_path: list[str] = Field(default_factory=lambda: ["machinecode", "gcode"])
    origin: Literal["local"] = "local"
    size: int
    date: int  # Unix seconds
    hash: str  # SHA-256 (OctoPrint's is a different digest; slicers do not compare it)
    refs: FileRefs


class FileList(OctoModel):
    files: list[FileEntry]
    free: int | None = None  # bytes free in the files folder
    total: int | None = None


class FileCommand(OctoModel):
    """`POST /api/files/local/{name}`: OctoPrint's `select` command (others are not offered)."""

    command: Literal["select"]
    print: bool = False


class JobFile(OctoModel):
    name: str | None = None
    display: str | None = None
    path: str | None = None
    origin: Literal["local"] | None = None
    size: int | None = None
    date: int | None = None


class JobInfo(OctoModel):
    file: JobFile
    estimated_print_time: float | None = None
    filament: None = None
    last_print_time: float | None = None
    user: str | None = None


class Progress(OctoModel):
    completion: float | None = None  # percent 0..100
    filepos: int | None = None
    print_time: int | None = None
    print_time_left: int | None = None
    print_time_left_origin: str | None = None


class JobOut(OctoModel):
    job: JobInfo
    progress: Progress
    state: str
    error: str | None = None


class JobCommand(OctoModel):
    command: Literal["start", "cancel", "restart", "pause"]
    action: Literal["pause", "resume", "toggle"] = "toggle"


class Temperature(OctoModel):
    actual: float
    target: float
    offset: float = 0


class StateFlags(OctoModel):
    operational: bool
    printing: bool
    paused: bool
    pausing: bool = False
    cancelling: bool = False
    finishing: bool = False
    resuming: bool = False
    ready: bool
    error: bool
    closed_or_error: bool
    sd_ready: bool = False


class PrinterStateOut(OctoModel):
    text: str
    flags: StateFlags
    error: str | None = None


class SdState(OctoModel):
    ready: bool = False


class PrinterOut(OctoModel):
    temperature: dict[str, Temperature]
    sd: SdState = Field(default_factory=SdState)
    state: PrinterStateOut


class ProfileRef(OctoModel):
    id: str = PROFILE_ID
    name: str = "3D Pot"


class ConnectionCurrent(OctoModel):
    state: str
    port: str | None
    baudrate: int | None
    printer_profile: str = PROFILE_ID


class ConnectionOptions(OctoModel):
    ports: list[str]
    baudrates: list[int]
    printer_profiles: list[ProfileRef] = Field(default_factory=lambda: [ProfileRef()])
    port_preference: str | None
    baudrate_preference: int | None
    printer_profile_preference: str = PROFILE_ID
    autoconnect: bool = True


class ConnectionOut(OctoModel):
    current: ConnectionCurrent
    options: ConnectionOptions


class ApiSettings(OctoModel):
    allow_cross_origin: bool = False


class FeatureSettings(OctoModel):
    sd_support: bool = False
    temperature_graph: bool = True
    gcode_viewer: bool = False


class WebcamSettings(OctoModel):
    webcam_enabled: bool = False
    timelapse_enabled: bool = False
    stream_url: str = ""
    snapshot_url: str = ""
    flip_h: bool = False
    flip_v: bool = False
    rotate90: bool = False


class SettingsOut(OctoModel):
    api: ApiSettings = Field(default_factory=ApiSettings)
    feature: FeatureSettings = Field(default_factory=FeatureSettings)
    webcam: WebcamSettings = Field(default_factory=WebcamSettings)
    plugins: dict[str, dict[str, str]] = Field(default_factory=dict)


class ExtruderProfile(OctoModel):
    count: int
    nozzle_diameter: float | None = None
    shared_nozzle: bool = False


class PrinterProfile(OctoModel):
    id: str = PROFILE_ID
    name: str = "3D Pot"
    model: str = "3D Pot printer"
    color: str = "default"
    default: bool = True
    current: bool = True
    heated_bed: bool
    heated_chamber: bool
    extruder: ExtruderProfile


class ProfilesOut(OctoModel):
    profiles: dict[str, PrinterProfile]
