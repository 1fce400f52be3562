"""The wire contract: every model round-trips, and bad input fails with a ContractError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from contract import (
    Ack,
    AckStatus,
    BuildVolume,
    CancelArgs,
    CommandEnvelope,
    CommandVerb,
    ContractError,
    Event,
    EventType,
    Gcode,
    GcodeArgs,
    HaCommand,
    HaDiscovery,
    HeaterReading,
    InvalidJsonError,
    InvalidPayloadError,
    InvalidTopicError,
    JobManifest,
    JobOffer,
    JobProgress,
    JobRevoke,
    JobRevokeArgs,
    LinkState,
    Presence,
    PrintCancel,
    PrinterInfo,
    PrinterState,
    PrintPause,
    PrintResume,
    QueuePause,
    QueueSnapshot,
    QueueStart,
    QueueState,
    StartPolicy,
    StateRefresh,
    StateSnapshot,
    Telemetry,
    Topic,
    TopicKind,
    Topics,
    UnsupportedSchemaError,
    build_discovery,
    decode,
    encode,
    parse_topic,
    validate_pid,
)

TS = 1_764_060_000_123

DOC_STATE_EXAMPLE = b"""
{"schema":1,"ts":1764060000123,"seq":48211,"link":"connected",
 "printer_state":"printing","message":"",
 "queue":{"state":"ready","length":2},
 "job":{"job_id":"01JD8Z...","filename":"bracket.gcode","progress":0.4231,
        "print_duration":1834.2,"filament_used":5234.2,"current_layer":57,"total_layer":210,"eta_s":2400},
 "temps":{"tool0":{"actual":215.3,"target":215.0,"power":0.41},"bed":{"actual":60.1,"target":60.0}}}
"""

INFO = PrinterInfo(
    ts=TS,
    model="Prusa MK4",
    firmware="Marlin 2.1.2.1",
    agent_version="0.1.0",
    boot_id="b-1",
    capabilities=("gcode", "homeassistant"),
    heaters=("tool0", "bed"),
    build_volume=BuildVolume(x_mm=250, y_mm=210, z_mm=220),
    nozzle_diameter_mm=0.4,
    material="PLA",
)
STATE = StateSnapshot(
    ts=TS,
    seq=7,
    link=LinkState.CONNECTED,
    printer_state=PrinterState.PAUSED,
    message="filament runout",
    queue=QueueSnapshot(state=QueueState.PAUSED, length=0),
    job=JobProgress(job_id="j1", filename="a.gcode", progress=0.5, print_duration=10.5, filament_used=3.0),
    temps={
        "tool0": HeaterReading(actual=200.0, target=210.0, power=0.9),
        "bed": HeaterReading(actual=20, target=0),
    },
)
MANIFEST = JobManifest(
    job_id="01JD8Z",
    revision=2,
    filename="bracket.gcode",
    url="https://cloud.example/files/bracket.gcode?sig=abc",
    sha256="a" * 64,
    size=123_456,
    est_print_s=3600.0,
    filament_mm=5234.2,
    start_policy=StartPolicy.MANUAL,
    not_after=TS + 86_400_000,
    signature="c2lnbmF0dXJl",
)
ENVELOPE: dict[str, Any] = {"ts": TS, "cmd_id": "c-1", "issued_at": TS, "expires_at": TS + 60_000}

# (kind to decode with, model instance)
ROUND_TRIPS: list[tuple[TopicKind | CommandVerb, BaseModel]] = [
    (TopicKind.INFO, INFO),
    (TopicKind.INFO, PrinterInfo(ts=TS, model="m", firmware="", agent_version="1", boot_id="b")),
    (TopicKind.STATE, STATE),
    (
        TopicKind.STATE,
        StateSnapshot(
            ts=TS,
            seq=0,
            link=LinkState.DISCONNECTED,
            printer_state=PrinterState.STANDBY,
            queue=QueueSnapshot(state=QueueState.READY, length=3),
        ),
    ),
    (TopicKind.TELE, Telemetry(ts=TS, seq=1, temps=STATE.temps, progress=0.25, layer=12)),
    (TopicKind.TELE, Telemetry(ts=TS, seq=2)),
    (
        TopicKind.EVT,
        Event(
            ts=TS,
            event_id="e-1",
            seq=3,
            event_type=EventType.JOB_FAILED,
            job_id="j1",
            data={"reason": "thermal runaway", "nested": {"a": [1, 2.5, None, True]}},
        ),
    ),
    (TopicKind.EVT, Event(ts=TS, event_id="e-2", seq=4, event_type=EventType.QUEUE_CHANGED)),
    (TopicKind.ACK, Ack(ts=TS, cmd_id="c-1", status=AckStatus.REJECTED, code="not_ready", message="busy")),
    (TopicKind.ACK, Ack(ts=TS, cmd_id="c-2", status=AckStatus.OK, result={"lines": 2})),
    (TopicKind.CMD, CommandEnvelope(**ENVELOPE)),
    (CommandVerb.PRINT_PAUSE, PrintPause(**ENVELOPE)),
    (CommandVerb.PRINT_RESUME, PrintResume(**ENVELOPE)),
    (CommandVerb.PRINT_CANCEL, PrintCancel(**ENVELOPE, args=CancelArgs(job_id="j1"))),
    (CommandVerb.QUEUE_START, QueueStart(**ENVELOPE)),
    (CommandVerb.QUEUE_PAUSE, QueuePause(**ENVELOPE)),
    (CommandVerb.JOB_OFFER, JobOffer(**ENVELOPE, args=MANIFEST)),
    (CommandVerb.JOB_REVOKE, JobRevoke(**ENVELOPE, args=JobRevokeArgs(job_id="j1", revision=2))),
    (CommandVerb.STATE_REFRESH, StateRefresh(**ENVELOPE)),
    (CommandVerb.GCODE, Gcode(**ENVELOPE, args=GcodeArgs(lines=("M104 S0", "G28")))),
    (TopicKind.HA_DISCOVERY, build_discovery("mk4-01", INFO)),
]
JSON_KINDS = sorted({kind for kind, _ in ROUND_TRIPS if kind is not TopicKind.HA_DISCOVERY}, key=str)


def _ids(case: tuple[TopicKind | CommandVerb, BaseModel]) -> str:
    return f"{case[0].value}-{type(case[1]).__name__}"


def _valid_json(kind: TopicKind | CommandVerb) -> dict[str, Any]:
    """A valid wire object for ``kind`` (first table entry)."""
    model = next(model for k, model in ROUND_TRIPS if k == kind)
    result: dict[str, Any] = json.loads(encode(model))  # type: ignore[arg-type]
    return result


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=_ids)
def test_round_trip_keeps_type_and_values(case: tuple[TopicKind | CommandVerb, BaseModel]) -> None:
    kind, model = case
    wire = encode(model)  # type: ignore[arg-type]
    back = decode(kind, wire)
    assert type(back) is type(model)
    assert back == model
    assert encode(back) == wire


@pytest.mark.parametrize("case", ROUND_TRIPS, ids=_ids)
def test_encode_is_compact_json(case: tuple[TopicKind | CommandVerb, BaseModel]) -> None:
    wire = encode(case[1])  # type: ignore[arg-type]
    obj = json.loads(wire)
    assert isinstance(obj, dict)
    assert wire == json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@pytest.mark.parametrize("kind", JSON_KINDS, ids=str)
def test_every_contract_payload_carries_schema_and_ts(kind: TopicKind | CommandVerb) -> None:
    obj = _valid_json(kind)
    assert obj["schema"] == 1
    assert obj["ts"] == TS


@pytest.mark.parametrize(
    ("kind", "payload", "expected"),
    [
        (TopicKind.STATUS, b"online", Presence.ONLINE),
        (TopicKind.STATUS, b"offline", Presence.OFFLINE),
        (TopicKind.STATUS, b" Online\n", Presence.ONLINE),
        (TopicKind.HA_CMD, b"pause", HaCommand.PAUSE),
        (TopicKind.HA_CMD, b"resume", HaCommand.RESUME),
        (TopicKind.HA_CMD, b"CANCEL", HaCommand.CANCEL),
    ],
)
def test_plain_text_payloads(kind: TopicKind, payload: bytes, expected: Presence | HaCommand) -> None:
    decoded = decode(kind, payload)
    assert decoded is expected
    assert decode(kind, encode(decoded)) is expected


@pytest.mark.parametrize(
    ("kind", "payload"),
    [(TopicKind.STATUS, b"maybe"), (TopicKind.STATUS, b"\xff\xfe"), (TopicKind.HA_CMD, b"explode")],
)
def test_bad_plain_text_payloads(kind: TopicKind, payload: bytes) -> None:
    with pytest.raises(InvalidPayloadError):
        decode(kind, payload)


# ---------------------------------------------------------------- schema and versioning


@pytest.mark.parametrize("kind", JSON_KINDS, ids=str)
@pytest.mark.parametrize("schema", [2, 0, "1", None, True])
def test_unknown_schema_rejected(kind: TopicKind | CommandVerb, schema: object) -> None:
    obj = _valid_json(kind) | {"schema": schema}
    with pytest.raises(UnsupportedSchemaError, match="schema") as info:
        decode(kind, json.dumps(obj).encode())
    assert isinstance(info.value, ContractError)
    assert isinstance(info.value.__cause__, ValidationError)


@pytest.mark.parametrize("kind", JSON_KINDS, ids=str)
def test_missing_schema_rejected_on_the_wire(kind: TopicKind | CommandVerb) -> None:
    obj = _valid_json(kind)
    del obj["schema"]
    with pytest.raises(UnsupportedSchemaError, match="no 'schema'"):
        decode(kind, json.dumps(obj).encode())


def test_unknown_schema_is_a_clear_validation_error_on_the_model() -> None:
    with pytest.raises(ValidationError, match="unsupported schema 2: this peer speaks schema 1"):
        StateSnapshot.model_validate(json.loads(DOC_STATE_EXAMPLE) | {"schema": 2})


@pytest.mark.parametrize("kind", JSON_KINDS, ids=str)
def test_fields_from_a_newer_peer_are_ignored(kind: TopicKind | CommandVerb) -> None:
    obj = _valid_json(kind) | {"added_in_v1_5": {"x": 1}, "colour": "red"}
    expected = decode(kind, json.dumps(_valid_json(kind)).encode())
    decoded = decode(kind, json.dumps(obj).encode())
    assert decoded == expected
    assert b"added_in_v1_5" not in encode(decoded)  # type: ignore[arg-type]


def test_nested_fields_from_a_newer_peer_are_ignored() -> None:
    obj = json.loads(DOC_STATE_EXAMPLE)
    obj["job"]["nozzle_wear"] = 0.1
    obj["temps"]["bed"]["zone"] = 3
    snapshot = decode(TopicKind.STATE, json.dumps(obj).encode())
    assert b"nozzle_wear" not in encode(snapshot)
    assert b"zone" not in encode(snapshot)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize("kind", JSON_KINDS, ids=str)
@pytest.mark.parametrize("payload", [b"", b"{", b"not json", b'{"schema":1,}', b"\xff\xfe\x00"])
def test_invalid_json_is_a_contract_error(kind: TopicKind | CommandVerb, payload: bytes) -> None:
    with pytest.raises(InvalidJsonError, match="not valid JSON") as info:
        decode(kind, payload)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("payload", [b"[1,2]", b'"state"', b"42", b"null"])
def test_json_that_is_not_an_object(payload: bytes) -> None:
    with pytest.raises(InvalidPayloadError, match="must be a JSON object"):
        decode(TopicKind.STATE, payload)


@pytest.mark.parametrize(
    ("kind", "change", "problem"),
    [
        (TopicKind.STATE, {"printer_state": "exploded"}, "printer_state"),
        (TopicKind.STATE, {"link": "wifi"}, "link"),
        (TopicKind.STATE, {"seq": -1}, "seq"),
        (TopicKind.STATE, {"ts": "yesterday"}, "ts"),
        (TopicKind.STATE, {"temps": {"bed": {"target": 60}}}, "temps.bed.actual"),
        (TopicKind.STATE, {"job": {"filename": "a", "progress": 1.5}}, "job.progress"),
        (TopicKind.TELE, {"progress": -0.1}, "progress"),
        (TopicKind.EVT, {"event_type": "job.exploded"}, "event_type"),
        (TopicKind.ACK, {"status": "maybe"}, "status"),
        (TopicKind.ACK, {"cmd_id": ""}, "cmd_id"),
        (CommandVerb.PRINT_PAUSE, {"expires_at": 1}, "expires_at is before issued_at"),
        (CommandVerb.GCODE, {"args": {"lines": []}}, "args.lines"),
        (CommandVerb.GCODE, {"args": {"lines": ["G28\nM112"]}}, "newlines"),
        (CommandVerb.JOB_OFFER, {"args": {"url": "file:///etc/passwd"}}, "args.url"),
        (CommandVerb.JOB_REVOKE, {"args": {"job_id": ""}}, "args.job_id"),
    ],
)
def test_wrong_shape_is_a_contract_error(
    kind: TopicKind | CommandVerb, change: dict[str, Any], problem: str
) -> None:
    obj = _valid_json(kind)
    for key, value in change.items():
        obj[key] = obj[key] | value if isinstance(value, dict) and isinstance(obj.get(key), dict) else value
    with pytest.raises(InvalidPayloadError, match=problem.replace(".", r"\.")):
        decode(kind, json.dumps(obj).encode())


def test_bad_args_still_yield_the_cmd_id_through_the_bare_envelope() -> None:
    obj = _valid_json(CommandVerb.GCODE) | {"args": {"lines": 3}}
    wire = json.dumps(obj).encode()
    with pytest.raises(InvalidPayloadError):
        decode(CommandVerb.GCODE, wire)
    assert decode(TopicKind.CMD, wire).cmd_id == "c-1"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filename", "../etc/passwd"),
        ("filename", "a\\b.gcode"),
        ("sha256", "A" * 64),
        ("sha256", "a" * 63),
        ("revision", 0),
        ("size", -1),
        ("url", "ftp://x/y"),
        ("start_policy", "yolo"),
    ],
)
def test_manifest_refuses_bad_fields(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        JobManifest.model_validate(MANIFEST.model_dump() | {field: value})


# ---------------------------------------------------------------- doc example


def test_state_example_from_the_doc_validates() -> None:
    snapshot = decode(TopicKind.STATE, DOC_STATE_EXAMPLE)
    assert snapshot.seq == 48211
    assert snapshot.link is LinkState.CONNECTED
    assert snapshot.printer_state is PrinterState.PRINTING
    assert snapshot.queue == QueueSnapshot(state=QueueState.READY, length=2)
    assert snapshot.job is not None
    assert snapshot.job.total_layer == 210
    assert snapshot.job.eta_s == 2400
    assert snapshot.temps["tool0"].power == 0.41
    assert snapshot.temps["bed"].power is None
    assert json.loads(encode(snapshot)) == json.loads(DOC_STATE_EXAMPLE) | {"message": ""}


# ---------------------------------------------------------------- signing


GOLDEN_CANONICAL = (
    b'{"est_print_s":3600.0,"filament_mm":5234.2,"filename":"bracket.gcode","job_id":"01JD8Z",'
    b'"not_after":1764146400123,"revision":2,"sha256":"' + b"a" * 64 + b'","size":123456,'
    b'"start_policy":"manual","url":"https://cloud.example/files/bracket.gcode?sig=abc"}'
)


def test_canonical_bytes_are_stable() -> None:
    assert MANIFEST.canonical_bytes() == GOLDEN_CANONICAL


def test_canonical_bytes_exclude_the_signature() -> None:
    assert MANIFEST.with_signature("other").canonical_bytes() == MANIFEST.canonical_bytes()
    assert b"signature" not in MANIFEST.canonical_bytes()


@pytest.mark.parametrize("order", ["forward", "reversed", "shuffled"])
def test_canonical_bytes_independent_of_field_order(order: str) -> None:
    items = list(json.loads(MANIFEST.model_dump_json()).items())
    if order == "reversed":
        items.reverse()
    elif order == "shuffled":
        items = items[1::2] + items[0::2]
    wire = json.dumps(dict(items), indent=2).encode()
    assert JobManifest.model_validate_json(wire).canonical_bytes() == GOLDEN_CANONICAL


def test_canonical_bytes_change_with_any_signed_field() -> None:
    for field, value in [("revision", 3), ("sha256", "b" * 64), ("size", 1), ("url", "https://x/y")]:
        assert MANIFEST.model_copy(update={field: value}).canonical_bytes() != GOLDEN_CANONICAL


def test_canonical_bytes_keep_unicode_as_utf8() -> None:
    manifest = MANIFEST.model_copy(update={"filename": "Halterung-größe.gcode"})
    assert "größe".encode() in manifest.canonical_bytes()


# ---------------------------------------------------------------- topics


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("fleet/v1/mk4-01/status", Topic("mk4-01", TopicKind.STATUS)),
        ("fleet/v1/mk4-01/info", Topic("mk4-01", TopicKind.INFO)),
        ("fleet/v1/mk4-01/state", Topic("mk4-01", TopicKind.STATE)),
        ("fleet/v1/mk4-01/tele", Topic("mk4-01", TopicKind.TELE)),
        ("fleet/v1/mk4-01/evt", Topic("mk4-01", TopicKind.EVT)),
        ("fleet/v1/mk4-01/ack", Topic("mk4-01", TopicKind.ACK)),
        ("fleet/v1/mk4-01/cmd/print.pause", Topic("mk4-01", TopicKind.CMD, "print.pause")),
        ("fleet/v1/mk4-01/cmd/job.offer", Topic("mk4-01", TopicKind.CMD, "job.offer")),
        ("fleet/v1/mk4-01/cmd/ha", Topic("mk4-01", TopicKind.HA_CMD)),
        ("homeassistant/device/mk4-01/config", Topic("mk4-01", TopicKind.HA_DISCOVERY)),
        ("fleet/v1/Prusa MK4 #2?/state".replace("#", "n"), Topic("Prusa MK4 n2?", TopicKind.STATE)),
    ],
)
def test_topic_parse_and_build_round_trip(topic: str, expected: Topic) -> None:
    parsed = parse_topic(topic)
    assert parsed == expected
    assert Topics().build(parsed.pid, parsed.kind, parsed.verb) == topic


@pytest.mark.parametrize("verb", list(CommandVerb), ids=str)
def test_every_verb_has_a_topic_and_a_payload_kind(verb: CommandVerb) -> None:
    topics = Topics(prefix="acme/fleet/v1")
    topic = topics.cmd("p1", verb)
    assert topic == f"acme/fleet/v1/p1/cmd/{verb.value}"
    assert topics.parse(topic).payload_kind is verb


def test_configurable_prefix_and_filters() -> None:
    topics = Topics(prefix="acme/v1", ha_prefix="ha")
    assert topics.state("p1") == "acme/v1/p1/state"
    assert topics.ha_discovery("p1") == "ha/device/p1/config"
    assert topics.ha_status() == "ha/status"
    assert topics.cmd_filter("p1") == "acme/v1/p1/cmd/#"
    assert topics.fleet_filter(TopicKind.EVT) == "acme/v1/+/evt"
    assert topics.fleet_filter(TopicKind.STATE, share_group="ingest") == "$share/ingest/acme/v1/+/state"
    with pytest.raises(InvalidTopicError):
        topics.parse("fleet/v1/p1/state")


@pytest.mark.parametrize(
    "pid", ["", "a/b", "a+b", "a#", "+", "#", "x" * 65, "tab\there", "nul\x00", "del\x7f"], ids=repr
)
def test_bad_pids_are_rejected(pid: str) -> None:
    with pytest.raises(InvalidTopicError, match="printer id"):
        validate_pid(pid)
    with pytest.raises(InvalidTopicError):
        Topics().state(pid)


@pytest.mark.parametrize("pid", ["a", "x" * 64, "mk4-01", "printer_7.lab", "Drucker-Ä"])
def test_good_pids_are_accepted(pid: str) -> None:
    assert validate_pid(pid) == pid


@pytest.mark.parametrize(
    "topic",
    [
        "fleet/v1/p1",
        "fleet/v1/p1/unknown",
        "fleet/v1/p1/state/extra",
        "fleet/v1//state",
        "fleet/v1/+/state",
        "fleet/v1/p1/cmd/#",
        "fleet/v1/p1/cmd",
        "fleet/v1/p1/cmd/a/b",
        "fleet/v2/p1/state",
        "homeassistant/device/a/b/config",
        "other/p1/state",
    ],
)
def test_bad_topics_are_rejected(topic: str) -> None:
    with pytest.raises(InvalidTopicError):
        parse_topic(topic)


def test_unknown_verb_parses_but_has_no_payload_kind() -> None:
    parsed = parse_topic("fleet/v1/p1/cmd/self.destruct")
    assert parsed.verb == "self.destruct"
    with pytest.raises(InvalidTopicError, match="unknown command verb"):
        _ = parsed.payload_kind


@pytest.mark.parametrize(
    ("kind", "verb"), [(TopicKind.CMD, None), (TopicKind.STATE, "print.pause"), (TopicKind.CMD, "ha")]
)
def test_build_refuses_wrong_verb_use(kind: TopicKind, verb: str | None) -> None:
    with pytest.raises(InvalidTopicError):
        Topics().build("p1", kind, verb)


@pytest.mark.parametrize("prefix", ["", "/fleet", "fleet/", "fleet/+/v1", "$SYS", "a//b"])
def test_bad_prefixes_are_rejected(prefix: str) -> None:
    with pytest.raises(InvalidTopicError):
        Topics(prefix=prefix)


# ---------------------------------------------------------------- commands, acks, HA


def test_command_expiry() -> None:
    command = PrintPause(**ENVELOPE)
    assert not command.is_expired(TS + 60_000)
    assert command.is_expired(TS + 60_001)
    assert MANIFEST.is_expired(MANIFEST.not_after + 1)


def test_commands_without_args_accept_a_missing_args_object() -> None:
    wire = json.dumps({"schema": 1, **ENVELOPE}).encode()
    assert decode(CommandVerb.STATE_REFRESH, wire) == StateRefresh(**ENVELOPE)


@pytest.mark.parametrize(
    ("status", "terminal"),
    [(AckStatus.RECEIVED, False), (AckStatus.ACCEPTED, False)]
    + [(s, True) for s in AckStatus if s not in (AckStatus.RECEIVED, AckStatus.ACCEPTED)],
)
def test_ack_terminal_statuses(status: AckStatus, terminal: bool) -> None:
    assert status.is_terminal is terminal


def test_models_are_frozen() -> None:
    with pytest.raises(ValidationError):
        STATE.seq = 8  # type: ignore[misc]


def test_discovery_payload_shape() -> None:
    obj = json.loads(encode(build_discovery("mk4-01", INFO)))
    assert set(obj) == {"dev", "o", "avty", "cmps", "qos"}
    assert "schema" not in obj
    assert obj["avty"] == [
        {"topic": "fleet/v1/mk4-01/status", "payload_available": "online", "payload_not_available": "offline"}
    ]
    assert obj["cmps"]["pause"] == {
        "p": "button",
        "unique_id": "mk4-01_pause",
        "name": "Pause",
        "command_topic": "fleet/v1/mk4-01/cmd/ha",
        "payload_press": "pause",
    }
    assert obj["cmps"]["temp_tool0"]["state_topic"] == "fleet/v1/mk4-01/state"
    assert obj["dev"]["identifiers"] == ["mk4-01"]
    assert isinstance(decode(TopicKind.HA_DISCOVERY, json.dumps(obj).encode()), HaDiscovery)
