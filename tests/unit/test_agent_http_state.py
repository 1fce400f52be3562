"""Pure pieces of the HTTP API: OctoPrint state words and shapes, key lookup, when a key is required."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from contract.state import HeaterReading, LinkState, PrinterState
from edge_agent.control import JobState, JobView, PrinterView
from edge_agent.http.app import describe_errors
from edge_agent.http.auth import presented_key, requires_key
from edge_agent.http.octoprint_state import job_out, printer_out, state_flags, state_text


def printer(link: LinkState = LinkState.CONNECTED, state: PrinterState = PrinterState.STANDBY) -> PrinterView:
    temps = {
        "tool0": HeaterReading(actual=210.4, target=210.0),
        "bed": HeaterReading(actual=59.8, target=60.0),
    }
    return PrinterView(link=link, printer_state=state, port="/dev/ttyACM0", baud=250_000, temps=temps)


@pytest.mark.parametrize(
    ("link", "state", "text", "operational", "ready", "error"),
    [
        (LinkState.DISCONNECTED, PrinterState.STANDBY, "Offline", False, False, False),
        (LinkState.ERROR, PrinterState.STANDBY, "Offline after error", False, False, True),
        (LinkState.CONNECTED, PrinterState.ERROR, "Error", False, False, True),
        (LinkState.CONNECTED, PrinterState.STANDBY, "Operational", True, True, False),
        (LinkState.CONNECTED, PrinterState.COMPLETE, "Operational", True, True, False),
        (LinkState.CONNECTED, PrinterState.CANCELLED, "Operational", True, True, False),
        (LinkState.CONNECTED, PrinterState.PRINTING, "Printing", True, False, False),
        (LinkState.CONNECTED, PrinterState.PAUSED, "Paused", True, False, False),
    ],
)
def test_state_words_and_flags(
    link: LinkState, state: PrinterState, text: str, operational: bool, ready: bool, error: bool
) -> None:
    view = printer(link, state)
    flags = state_flags(view)
    assert state_text(view) == text
    assert (flags.operational, flags.ready, flags.error) == (operational, ready, error)
    assert flags.closed_or_error is (not operational)
    assert flags.printing is (text == "Printing") and flags.paused is (text == "Paused")
    assert flags.sd_ready is False


def test_printer_shape_uses_octoprint_spelling() -> None:
    body = printer_out(printer()).model_dump(mode="json")
    assert body["temperature"]["tool0"] == {"actual": 210.4, "target": 210.0, "offset": 0}
    assert body["state"]["text"] == "Operational"
    assert body["state"]["flags"]["closedOrError"] is False and body["state"]["flags"]["sdReady"] is False
    assert body["sd"] == {"ready": False}


def test_job_shape_without_a_job_is_all_nulls() -> None:
    body = job_out(None, printer()).model_dump(mode="json")
    assert body["job"]["file"] == {
        "name": None, "display": None, "path": None, "origin": None, "size": None, "date": None,
    }  # fmt: skip
    assert body["progress"]["completion"] is None and body["state"] == "Operational"
    assert body["job"]["filament"] is None and body["error"] is None


def test_job_shape_while_printing() -> None:
    job = JobView(
        job_id="j1", filename="box.gcode", state=JobState.PRINTING, priority=0, position=1.0,
        size_bytes=1000, source="upload", progress=0.4215, file_pos_bytes=421, print_duration_s=61.7,
        est_print_s=600.0, time_left_s=300.2, created_ms=1_700_000_000_500,
    )  # fmt: skip
    body = job_out(job, printer(state=PrinterState.PRINTING)).model_dump(mode="json")
    assert body["state"] == "Printing"
    assert body["job"]["file"]["name"] == "box.gcode" and body["job"]["file"]["date"] == 1_700_000_000
    assert body["job"]["estimatedPrintTime"] == 600.0
    assert body["progress"] == {
        "completion": 42.15, "filepos": 421, "printTime": 61, "printTimeLeft": 300,
        "printTimeLeftOrigin": "estimate",
    }  # fmt: skip


def test_error_text_comes_from_the_printer_message() -> None:
    view = PrinterView(
        link=LinkState.CONNECTED,
        printer_state=PrinterState.ERROR,
        port="p",
        baud=1,
        message="Thermal Runaway",
    )
    assert job_out(None, view).error == "Thermal Runaway"
    assert printer_out(view).state.error == "Thermal Runaway"


def request_with(headers: dict[str, str], query: str = "") -> Request:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    return Request(
        {"type": "http", "method": "GET", "path": "/", "headers": raw, "query_string": query.encode()}
    )


@pytest.mark.parametrize(
    ("headers", "query", "key"),
    [
        ({"X-Api-Key": "k1"}, "", "k1"),
        ({}, "apikey=k2", "k2"),
        ({"Authorization": "Bearer k3"}, "", "k3"),
        ({"Authorization": "bearer  k3 "}, "", "k3"),
        ({"X-Api-Key": "k1", "Authorization": "Bearer k3"}, "apikey=k2", "k1"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "", None),
        ({"Authorization": "Bearer "}, "", None),
        ({"X-Api-Key": ""}, "", None),
        ({}, "", None),
    ],
)
def test_presented_key(headers: dict[str, str], query: str, key: str | None) -> None:
    assert presented_key(request_with(headers, query)) == key


@pytest.mark.parametrize(
    ("host", "needed"),
    [
        ("127.0.0.1", False),
        ("127.1.2.3", False),
        ("::1", False),
        ("[::1]", False),
        ("localhost", False),
        ("LOCALHOST", False),
        ("0.0.0.0", True),
        ("::", True),
        ("192.168.1.20", True),
        ("printer.local", True),
        ("", True),
    ],
)
def test_requires_key(host: str, needed: bool) -> None:
    assert requires_key(host) is needed


def test_validation_errors_read_as_one_line() -> None:
    errors = [
        {"loc": ("body", "priority"), "msg": "Input should be a valid integer"},
        {"loc": (), "msg": "give priority, before, or both"},
        "not a dict",
    ]
    assert describe_errors(errors) == (
        "body.priority: Input should be a valid integer; give priority, before, or both"
    )
    assert describe_errors([]) == "invalid request"
