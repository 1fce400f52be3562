"""The faults a farm must ride out, each injected while jobs print, then healed.

A ``Fault`` names what it breaks, ``inject(farm, outage_s)`` breaks it, keeps it broken for the
outage and heals it; it returns the bays whose jobs may legitimately pass through ``interrupted``
and the number of extra moves each may execute (a board reset repeats the interrupted layer).

| fault | what happens | correct outcome |
|---|---|---|
| broker restart | Mosquitto stopped for the outage, started again (persistence on) | every job completes |
| cloud kill -9 / SIGTERM | the cloud process dies or stops; started again | every job completes |
| PostgreSQL restart | ``pg_ctl stop -m fast`` for the outage, then start | every job completes |
| agent kill -9 | one agent SIGKILLed mid-print, started again | its job resumes, completes once |
| printer reset | the board resets mid-print | job ``interrupted``; the operator resumes it from the cloud; completes, ≤ 1 layer repeated |
| serial unplug | cable out for a few seconds (inside the replug grace), back in | job continues, completes once |
| line corruption | one printer flips a bit in 1 % of lines, both ways, all along | every job completes, every move once |
| broker cut | one agent's path to the broker severed (the proxy) for the outage | job completes; events arrive after |
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.system.harness import Bay, Farm, wait_for

LAYER_MOVES = 360  # dense_print: 2 loops of 180 segments per layer
RESET_SLACK_MOVES = 2 * LAYER_MOVES + 10  # the interrupted layer again, and the resume's own moves


@dataclass
class Outcome:
    """What the fault allows: bays whose job may go through ``interrupted``, extra moves per bay."""

    interrupted_bays: set[int] = field(default_factory=set)
    extra_moves: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Fault:
    name: str
    inject: Callable[[Farm, float], Outcome]
    expected: str


def _target(farm: Farm) -> Bay:
    """The bay the printer faults hit: one not behind the proxy and without line corruption."""
    for bay in farm.bays:
        if not bay.via_proxy and bay.n not in farm.config.corrupt_ratio:
            return bay
    return farm.bays[-1]


def broker_restart(farm: Farm, outage_s: float) -> Outcome:
    assert farm.broker is not None
    farm.broker.stop()
    time.sleep(outage_s)
    farm.broker.start()
    return Outcome()


def cloud_kill9(farm: Farm, outage_s: float) -> Outcome:
    assert farm.cloud is not None
    farm.cloud.kill()
    time.sleep(outage_s)
    farm.cloud.start()
    return Outcome()


def cloud_sigterm(farm: Farm, outage_s: float) -> Outcome:
    assert farm.cloud is not None
    farm.cloud.stop()
    time.sleep(outage_s)
    farm.cloud.start()
    return Outcome()


def postgres_restart(farm: Farm, outage_s: float) -> Outcome:
    assert farm.pg is not None
    farm.pg.stop("fast")
    time.sleep(outage_s)
    farm.pg.start()
    return Outcome()


def agent_kill9(farm: Farm, outage_s: float) -> Outcome:
    bay = _target(farm)
    bay.agent.kill()
    time.sleep(min(outage_s, 5.0))
    bay.agent.start()
    return Outcome(notes=[f"agent of {bay.name} killed"])


def printer_reset(farm: Farm, outage_s: float) -> Outcome:
    bay = _target(farm)
    assert bay.printer.control("reset")["ok"] is True

    def interrupted() -> bool:
        jobs = bay.agent.get("/api/agent/jobs", params={"include_finished": "true"}).json()["jobs"]
        return any(j["state"] == "interrupted" for j in jobs)

    wait_for(interrupted, 30, f"the agent of {bay.name} marks its job interrupted")
    bay.agent.wait_connected(30)
    wait_for(
        lambda: any(j["state"] == "interrupted" and j["printer_id"] == bay.pid for j in farm.list_jobs()),
        30,
        "the cloud sees the job interrupted",
    )
    farm.command(bay.pid, "resume")  # the operator checked the print and resumes it from the cloud
    return Outcome(
        interrupted_bays={bay.n},
        extra_moves={bay.n: RESET_SLACK_MOVES},
        notes=[f"{bay.name} reset; resumed from the cloud"],
    )


def serial_unplug(farm: Farm, outage_s: float) -> Outcome:
    bay = _target(farm)
    assert bay.printer.control("unplug")["ok"] is True
    wait_for(
        lambda: bay.agent.get("/api/agent/printer").json()["link"] != "connected",
        10,
        "the agent sees the cable go",
    )
    time.sleep(min(outage_s, 5.0))  # inside the agent's replug grace (60 s)
    assert bay.printer.control("replug")["ok"] is True
    return Outcome(notes=[f"{bay.name} unplugged {min(outage_s, 5.0):.0f} s"])


def line_corruption(farm: Farm, outage_s: float) -> Outcome:
    """Nothing to do now: the corrupting printer corrupts all along; wait the outage for its lines."""
    bays = [b for b in farm.bays if b.n in farm.config.corrupt_ratio]
    assert bays, "the farm has no printer started with --corrupt-ratio"
    time.sleep(outage_s)
    notes = []
    for bay in bays:
        stats = bay.printer.stats()
        notes.append(
            f"{bay.name}: --corrupt-ratio {farm.config.corrupt_ratio[bay.n]}; since start"
            f" {stats['corrupted_in']} lines corrupted in, {stats['corrupted_out']} out,"
            f" {stats['resend_requests']} resends"
        )
    return Outcome(notes=notes)


def broker_cut(farm: Farm, outage_s: float) -> Outcome:
    assert farm.proxy is not None
    farm.proxy.sever()
    time.sleep(outage_s)
    farm.proxy.heal()
    return Outcome(notes=[f"bay {farm.config.proxied_bay} cut from the broker {outage_s:.0f} s"])


FAULTS: tuple[Fault, ...] = (
    Fault("broker-restart", broker_restart, "every job completes"),
    Fault("cloud-kill9", cloud_kill9, "every job completes"),
    Fault("cloud-sigterm", cloud_sigterm, "every job completes"),
    Fault("postgres-restart", postgres_restart, "every job completes"),
    Fault("agent-kill9", agent_kill9, "the job resumes and completes, every move once"),
    Fault("printer-reset", printer_reset, "interrupted, resumed from the cloud, completes; ≤ 1 layer again"),
    Fault("serial-unplug", serial_unplug, "the job continues and completes, every move once"),
    Fault("line-corruption", line_corruption, "every job completes, every move once"),
    Fault("broker-cut", broker_cut, "the job completes; its events reach the cloud after the cut"),
)
