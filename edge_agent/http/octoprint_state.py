"""The agent's views → OctoPrint's state words and shapes (pure functions, no I/O).

link disconnected                 → "Offline"
link error                        → "Offline after error"
connected, printer error          → "Error"                    (not operational, as in OctoPrint)
connected, printing / paused      → "Printing" / "Paused"
connected, anything else          → "Operational"
"""

from __future__ import annotations

from contract.state import LinkState, PrinterState
from edge_agent.control import JobView, PrinterView
from edge_agent.http.octoprint_models import (
    JobFile,
    JobInfo,
    JobOut,
    PrinterOut,
    PrinterStateOut,
    Progress,
    StateFlags,
    Temperature,
)


def state_text(printer: PrinterView) -> str:
    if printer.link is LinkState.DISCONNECTED:
        return "Offline"
    if printer.link is LinkState.ERROR:
        return "Offline after error"
    if printer.printer_state is PrinterState.ERROR:
        return "Error"
    if printer.printer_state is PrinterState.PRINTING:
        return "Printing"
    if printer.printer_state is PrinterState.PAUSED:
        return "Paused"
    return "Operational"


def state_flags(printer: PrinterView) -> StateFlags:
    connected = printer.link is LinkState.CONNECTED
    error = printer.link is LinkState.ERROR or printer.printer_state is PrinterState.ERROR
    operational = connected and not error
    printing = operational and printer.printer_state is PrinterState.PRINTING
    paused = operational and printer.printer_state is PrinterState.PAUSED
    return StateFlags(
        operational=operational,
        printing=printing,
        paused=paused,
        ready=operational and not printing and not paused,
        error=error,
        closed_or_error=not operational,
    )


def error_text(printer: PrinterView) -> str | None:
    if state_flags(printer).error:
        return printer.message or state_text(printer)
    return None


def job_out(job: JobView | None, printer: PrinterView) -> JobOut:
    state = state_text(printer)
    if job is None:
        empty = JobInfo(file=JobFile())
        return JobOut(job=empty, progress=Progress(), state=state, error=error_text(printer))
    info = JobInfo(
        file=JobFile(
            name=job.filename,
            display=job.filename,
            path=job.filename,
            origin="local",
            size=job.size_bytes,
            date=job.created_ms // 1000 if job.created_ms else None,
        ),
        estimated_print_time=job.est_print_s,
    )
    progress = Progress(
        completion=round(min(max(job.progress, 0.0), 1.0) * 100.0, 3),
        filepos=job.file_pos_bytes,
        print_time=int(job.print_duration_s),
        print_time_left=None if job.time_left_s is None else int(job.time_left_s),
        print_time_left_origin=None if job.time_left_s is None else "estimate",
    )
    return JobOut(job=info, progress=progress, state=state, error=error_text(printer))


def printer_out(printer: PrinterView) -> PrinterOut:
    temperature = {
        heater: Temperature(actual=reading.actual, target=reading.target)
        for heater, reading in printer.temps.items()
    }
    state = PrinterStateOut(text=state_text(printer), flags=state_flags(printer), error=error_text(printer))
    return PrinterOut(temperature=temperature, state=state)
