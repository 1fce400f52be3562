"""The ingest's pure core (decoding, batch folding), the rollup's fold and the feed's bounded queues."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from cloud.fleet.batching import Batch, Batcher
from cloud.fleet.decoding import Decoder, Dropped, DropReason, EventItem, PresenceItem, StateItem, TeleItem
from cloud.fleet.feed import Subscriber
from cloud.fleet.rollup import fold
from contract.codec import decode, encode
from contract.presence import Presence
from contract.topics import TopicKind, Topics

ENROLLED = {"pr-a", "pr-b"}
STATE = (
    b'{"schema":1,"ts":1764060000123,"seq":5,"link":"connected","printer_state":"printing",'
    b'"queue":{"state":"ready","length":0},"temps":{"tool0":{"actual":215.3,"target":215.0}}}'
)
TELE = b'{"schema":1,"ts":1764060000123,"seq":5,"temps":{"bed":{"actual":60.1,"target":60.0}}}'
EVENT = b'{"schema":1,"ts":1764060000123,"seq":6,"event_id":"e1","event_type":"job.started"}'
decoder = Decoder(Topics())


@pytest.mark.parametrize(
    ("topic", "payload", "expected"),
    [
        ("fleet/v1/pr-a/state", STATE, StateItem),
        ("fleet/v1/pr-a/tele", TELE, TeleItem),
        ("fleet/v1/pr-a/evt", EVENT, EventItem),
        ("fleet/v1/pr-a/status", b"online", PresenceItem),
        ("fleet/v1/pr-a/evt", EVENT[:-1] + b',"pid":"pr-a"}', EventItem),
        ("fleet/v1/pr-a/evt", EVENT[:-1] + b',"pid":"pr-b"}', DropReason.PID_MISMATCH),
        ("fleet/v1/pr-a/evt", EVENT[:-1] + b',"printer_id":"pr-b"}', DropReason.PID_MISMATCH),
        ("fleet/v1/pr-zzz/evt", EVENT, DropReason.UNKNOWN_PRINTER),
        ("fleet/v1/pr-a/evt", b"{oops", DropReason.INVALID_JSON),
        ("fleet/v1/pr-a/evt", EVENT.replace(b'"schema":1', b'"schema":9'), DropReason.SCHEMA),
        ("fleet/v1/pr-a/evt", EVENT.replace(b'"schema":1,', b""), DropReason.SCHEMA),
        ("fleet/v1/pr-a/evt", b"[1,2]", DropReason.INVALID_PAYLOAD),
        ("fleet/v1/pr-a/state", TELE, DropReason.INVALID_PAYLOAD),
        ("fleet/v1/pr-a/tele", TELE.replace(b"60.1", b"NaN"), DropReason.INVALID_PAYLOAD),
        ("fleet/v1/pr-a/evt", EVENT.replace(b"job.started", b"job.\\u0000"), DropReason.INVALID_PAYLOAD),
        ("fleet/v1/pr-a/status", b"maybe", DropReason.INVALID_PAYLOAD),
        ("fleet/v1/pr-a/cmd/print.pause", EVENT, DropReason.TOPIC),
        ("fleet/v1/pr-a/b/evt", EVENT, DropReason.TOPIC),
        ("other/v1/pr-a/evt", EVENT, DropReason.TOPIC),
    ],
)
def test_decoder(topic: str, payload: bytes, expected: type | DropReason) -> None:
    result = decoder.decode(topic, payload, ENROLLED)
    if isinstance(expected, DropReason):
        assert isinstance(result, Dropped), result
        assert result.reason is expected
        assert result.detail
    else:
        assert isinstance(result, expected), result
        assert result.pid == "pr-a"


def test_a_batch_keeps_the_newest_state_and_each_event_once() -> None:
    batch = Batch()
    snapshot = decode(TopicKind.STATE, STATE)
    for seq in (5, 9, 7):
        batch.add(StateItem("pr-a", snapshot.model_copy(update={"seq": seq})))
    event = decode(TopicKind.EVT, EVENT)
    batch.add(EventItem("pr-a", event))
    batch.add(EventItem("pr-a", event))
    batch.add(PresenceItem("pr-a", Presence.ONLINE))
    batch.add(PresenceItem("pr-a", Presence.OFFLINE))
    assert len(batch) == 7
    assert batch.states["pr-a"].state.seq == 9
    assert list(batch.events) == ["e1"]
    assert batch.presence["pr-a"].presence is Presence.OFFLINE
    assert dict(batch.messages) == {"state": 3, "evt": 2, "status": 2}
    assert encode(batch.states["pr-a"].state)


async def test_the_batcher_makes_the_reader_wait_when_the_writer_is_behind() -> None:
    waits: list[int] = []
    batcher = Batcher(max_items=2, max_delay_s=10, max_batches=1, on_wait=lambda: waits.append(1))
    item = PresenceItem("pr-a", Presence.ONLINE)
    for _ in range(2):
        await batcher.add(item)  # fills and queues the first batch
    await batcher.add(item)
    blocked = asyncio.ensure_future(batcher.add(item))  # second batch full, queue full: waits
    await asyncio.sleep(0.01)
    assert not blocked.done() and waits == [1]
    assert len(await batcher.get()) == 2
    await asyncio.wait_for(blocked, 1)
    assert len(await batcher.get()) == 2


def test_rollup_fold_means_maxima_and_last_values() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        ("pr-a", t0 + timedelta(seconds=2), {"tool0": {"actual": 220.0, "target": 220.0}}, 0.2),
        (
            "pr-a",
            t0,
            {"tool0": {"actual": 200.0, "target": 200.0}, "bed": {"actual": 60.0, "target": 60.0}},
            0.1,
        ),
        ("pr-b", t0, {"tool0": {"actual": "bad"}}, None),
    ]
    folds = fold(rows)
    a = folds["pr-a"]
    assert a.samples == 2 and a.progress == 0.2
    assert a.heaters["tool0"].stats() == {"mean": 210.0, "max": 220.0, "target": 220.0}
    assert a.heaters["bed"].stats() == {"mean": 60.0, "max": 60.0, "target": 60.0}
    assert folds["pr-b"].heaters["tool0"].stats() == {"mean": None, "max": None, "target": None}


def test_a_slow_feed_client_is_dropped_not_buffered() -> None:
    subscriber = Subscriber("org", max_frames=2)
    assert subscriber.offer(b"1") and subscriber.offer(b"2")
    assert not subscriber.offer(b"3")
    assert subscriber.dropped
    assert subscriber.queue.qsize() == 1 and subscriber.queue.get_nowait() is None
    assert not subscriber.offer(b"4")
