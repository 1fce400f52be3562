"""The outbox pump: unpublished rows go out on ``evt`` at QoS 1, in ``seq`` order, each marked
published only after the broker's PUBACK.

A window of up to ``window`` rows is in flight at once (all handed to paho in ``seq`` order, so
they reach the broker, and its subscribers, in that order); rows are marked strictly in ``seq``
order as their PUBACKs arrive. When the connection drops mid-window the marked rows are a
prefix, and the next connection starts again at the first unmarked row: a subscriber may see
the tail of a window twice, never a gap and never a later event before an earlier one's first
delivery. Rows are re-read from the store on every window, so a restart of the agent resumes
the same way.

``aiomqtt.Client.publish`` at QoS 1 returns only once the PUBACK arrived (aiomqtt 2.5.1,
``client.py``: ``publish`` registers an ``asyncio.Event`` under the message id and awaits it;
``_on_publish`` sets it, and paho calls ``on_publish`` for QoS 1 only from
``_handle_pubackcomp``), or raises ``MqttError`` on timeout or a lost connection.
"""

from __future__ import annotations

import asyncio
from typing import NoReturn

import aiomqtt
from prometheus_client import Counter

from contract.codec import encode
from contract.events import Event, EventType
from edge_agent.store.outbox import Outbox, OutboxEvent


def event_payload(row: OutboxEvent) -> bytes:
    """The contract ``Event`` of an outbox row, encoded; ``ts`` is when the event happened."""
    event = Event(
        ts=row.ts_ms,
        event_id=row.event_id,
        seq=row.seq,
        event_type=EventType(row.event_type),
        job_id=row.job_id,
        data=row.data,
    )
    return encode(event)


async def pump_outbox(
    client: aiomqtt.Client,
    outbox: Outbox,
    topic: str,
    wake: asyncio.Event,
    published: Counter,
    *,
    window: int,
) -> NoReturn:
    """Publish unpublished rows until cancelled or the connection fails (``MqttError``).

    ``wake`` is set by whoever appends rows; it is cleared before each read, so a row appended
    while a window is in flight is picked up right after it.
    """
    while True:
        wake.clear()
        rows = await outbox.unpublished(limit=window)
        if not rows:
            await wake.wait()
            continue
        await _send_window(client, outbox, topic, rows, published)


async def _send_window(
    client: aiomqtt.Client, outbox: Outbox, topic: str, rows: list[OutboxEvent], published: Counter
) -> None:
    payloads = [event_payload(row) for row in rows]
    async with asyncio.TaskGroup() as tg:
        # Tasks start in creation order, and each hands its PUBLISH to paho in its first step.
        sends = [tg.create_task(client.publish(topic, payload, qos=1)) for payload in payloads]
        for row, send in zip(rows, sends, strict=True):
            await send
            await _mark_published(outbox, row.seq)
            published.inc()


async def _mark_published(outbox: Outbox, seq: int) -> None:
    """Mark one row, finishing the store's transaction even if we are cancelled meanwhile.

    The pump is cancelled whenever the connection drops. A transaction cancelled between its
    ``BEGIN`` and its ``try`` would leave the shared SQLite connection inside a transaction, so
    the mark runs to its end (a millisecond) before the cancellation goes on.
    """
    mark = asyncio.ensure_future(outbox.mark_published(seq))
    try:
        await asyncio.shield(mark)
    except asyncio.CancelledError:
        await mark
        raise
