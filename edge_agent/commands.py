"""Commands from the cloud (`cmd/<verb>`) and from Home Assistant (`cmd/ha`), executed once each.

At-least-once delivery, exactly-once effect: a `cmd_id` seen before gets its stored ack again and
nothing runs; a command past `expires_at` is acked `expired` and nothing runs. Every refusal is an
ack with a code, never an exception out of the MQTT loop. Home Assistant buttons carry no id: they
are desired states (pause while paused does nothing), debounced.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from contract.acks import Ack, AckCode, AckStatus
from contract.codec import decode, decode_as
from contract.commands import (
    CommandEnvelope,
    CommandVerb,
    Gcode,
    JobOffer,
    JobRevoke,
    PrintCancel,
)
from contract.envelope import now_ms
from contract.errors import ContractError
from contract.homeassistant import HaCommand, parse_ha_command
from contract.state import PrinterState
from contract.topics import DEFAULT_TOPICS, TopicKind, Topics
from edge_agent.control import AgentControl
from edge_agent.errors import AgentRefusal
from edge_agent.store.processed import ProcessedCommands

log = logging.getLogger(__name__)

HA_DEBOUNCE_S = 2.0


class CommandMetrics(Protocol):
    def count(self, verb: str, outcome: str) -> None: ...


class RemoteControl(AgentControl, Protocol):
    """What commands need beyond the front-door interface."""

    async def run_gcode(self, lines: tuple[str, ...]) -> None: ...

    async def revoke(self, job_id: str, revision: int | None) -> None: ...

    def refresh(self) -> None: ...


OfferHandler = Callable[[JobOffer, Callable[[Ack], Awaitable[None]]], Awaitable[None]]


class CommandHandler:
    def __init__(
        self,
        *,
        pid: str,
        control: RemoteControl,
        processed: ProcessedCommands,
        send_ack: Callable[[Ack], Awaitable[None]],
        offers: OfferHandler,
        metrics: CommandMetrics,
        topics: Topics = DEFAULT_TOPICS,
    ) -> None:
        self.pid = pid
        self._control = control
        self._processed = processed
        self._send_ack = send_ack
        self._offers = offers
        self._metrics = metrics
        self._topics = topics
        self._ha_last: dict[HaCommand, float] = {}
        self._tasks: asyncio.TaskGroup | None = None

    async def run(self) -> None:
        """Owns the tasks of long commands (offer downloads); lives until cancelled."""
        async with asyncio.TaskGroup() as tasks:
            self._tasks = tasks
            try:
                await asyncio.Event().wait()
            finally:
                self._tasks = None

    async def handle(self, topic: str, payload: bytes) -> None:
        """One inbound message (the MQTT link's `on_command`)."""
        try:
            parsed = self._topics.parse(topic)
        except ContractError as exc:
            log.warning("command on a topic we do not know: %s", exc)
            self._metrics.count("unknown", "bad_topic")
            return
        if parsed.pid != self.pid:
            self._metrics.count("unknown", "other_printer")
            return
        if parsed.kind is TopicKind.HA_CMD:
            await self._home_assistant(payload)
        elif parsed.kind is TopicKind.CMD and parsed.verb is not None:
            await self._command(parsed.verb, payload)

    # ---- Home Assistant -----------------------------------------------------------------------

    async def _home_assistant(self, payload: bytes) -> None:
        try:
            command = parse_ha_command(payload)
        except ContractError as exc:
            log.warning("Home Assistant sent %r: %s", payload[:40], exc)
            self._metrics.count("ha", "bad_payload")
            return
        now = time.monotonic()
        if now - self._ha_last.get(command, -HA_DEBOUNCE_S) < HA_DEBOUNCE_S:
            self._metrics.count("ha", "debounced")
            return
        self._ha_last[command] = now
        state = self._control.printer().printer_state
        try:
            if command is HaCommand.PAUSE and state is PrinterState.PRINTING:
                await self._control.pause()
            elif command is HaCommand.RESUME and state is PrinterState.PAUSED:
                await self._control.resume()
            elif command is HaCommand.CANCEL and state in (PrinterState.PRINTING, PrinterState.PAUSED):
                await self._control.cancel()
            else:
                self._metrics.count("ha", "no_change")
                return
        except AgentRefusal as exc:
            log.info("Home Assistant %s refused: %s", command.value, exc)
            self._metrics.count("ha", "refused")
            return
        self._metrics.count("ha", "ok")

    # ---- cloud commands -----------------------------------------------------------------------

    async def _command(self, verb: str, payload: bytes) -> None:
        try:
            envelope = decode_as(CommandEnvelope, payload, what=f"cmd/{verb}")
        except ContractError as exc:
            log.warning("dropped cmd/%s without a readable envelope: %s", verb, exc)
            self._metrics.count(verb, "malformed")
            return
        cmd_id = envelope.cmd_id
        stored = await self._processed.recall(cmd_id)
        if stored is not None:
            self._metrics.count(verb, "repeat")
            await self._send_ack(decode_as(Ack, stored, what="stored ack"))
            return
        if envelope.is_expired(now_ms()):
            await self._ack(verb, cmd_id, AckStatus.EXPIRED, message="arrived after expires_at; not executed")
            return
        try:
            known = CommandVerb(verb)
        except ValueError:
            await self._ack(
                verb, cmd_id, AckStatus.REJECTED, AckCode.UNKNOWN_COMMAND, f"unknown verb {verb!r}"
            )
            return
        try:
            command = decode(known, payload)
        except ContractError as exc:
            await self._ack(verb, cmd_id, AckStatus.REJECTED, AckCode.BAD_ARGS, str(exc))
            return
        if isinstance(command, JobOffer):
            await self._offer(command)
            return
        try:
            await self._execute(command)
        except AgentRefusal as exc:
            await self._ack(verb, cmd_id, AckStatus.REJECTED, exc.code, str(exc))
            return
        except Exception as exc:
            log.exception("cmd/%s %s failed", verb, cmd_id)
            await self._ack(verb, cmd_id, AckStatus.ERROR, None, f"{type(exc).__name__}: {exc}")
            return
        await self._ack(verb, cmd_id, AckStatus.OK)

    async def _execute(self, command: CommandEnvelope) -> None:
        control = self._control
        match command.verb:
            case CommandVerb.PRINT_PAUSE:
                await control.pause()
            case CommandVerb.PRINT_RESUME:
                await control.resume()
            case CommandVerb.PRINT_CANCEL:
                assert isinstance(command, PrintCancel)
                await control.cancel(command.args.job_id)
            case CommandVerb.QUEUE_START:
                await control.start_queue()
            case CommandVerb.QUEUE_PAUSE:
                await control.pause_queue()
            case CommandVerb.JOB_REVOKE:
                assert isinstance(command, JobRevoke)
                await control.revoke(command.args.job_id, command.args.revision)
            case CommandVerb.STATE_REFRESH:
                control.refresh()
            case CommandVerb.GCODE:
                assert isinstance(command, Gcode)
                await control.run_gcode(command.args.lines)

    async def _offer(self, offer: JobOffer) -> None:
        await self._ack("job.offer", offer.cmd_id, AckStatus.RECEIVED)

        async def work() -> None:
            async def ack(value: Ack) -> None:
                await self._remember_and_send("job.offer", value)

            try:
                await self._offers(offer, ack)
            except Exception as exc:
                log.exception("job offer %s failed", offer.args.job_id)
                await ack(self.ack(offer.cmd_id, AckStatus.ERROR, None, f"{type(exc).__name__}: {exc}"))

        if self._tasks is None:
            await work()
        else:
            self._tasks.create_task(work())

    # ---- acks ---------------------------------------------------------------------------------

    @staticmethod
    def ack(cmd_id: str, status: AckStatus, code: str | None = None, message: str | None = None) -> Ack:
        return Ack(ts=now_ms(), cmd_id=cmd_id, status=status, code=code, message=message)

    async def _ack(
        self, verb: str, cmd_id: str, status: AckStatus, code: str | None = None, message: str | None = None
    ) -> None:
        await self._remember_and_send(verb, self.ack(cmd_id, status, code, message))

    async def _remember_and_send(self, verb: str, ack: Ack) -> None:
        await self._processed.remember(ack.cmd_id, ack.model_dump_json(by_alias=True), now_ms())
        self._metrics.count(verb, ack.status.value)
        await self._send_ack(ack)
