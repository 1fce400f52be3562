"""The test infrastructure itself: our own Mosquitto and throwaway PostgreSQL databases work."""

from __future__ import annotations

import asyncio
import uuid

import aiomqtt
import asyncpg
import pytest

from tests.fixtures.broker import ClientFactory, MosquittoBroker, accepts_tcp
from tests.fixtures.database import DatabaseFactory

pytestmark = pytest.mark.integration


def _topic(name: str) -> str:
    return f"test/{uuid.uuid4().hex[:8]}/{name}"


async def _next_message(client: aiomqtt.Client, timeout_s: float = 5.0) -> aiomqtt.Message:
    async with asyncio.timeout(timeout_s):
        async for message in client.messages:
            return message
    raise AssertionError("message stream ended")


def test_broker_is_ours_on_a_random_loopback_port(mosquitto: MosquittoBroker) -> None:
    assert mosquitto.host == "127.0.0.1"
    assert mosquitto.port != 1883
    assert mosquitto.url == f"mqtt://127.0.0.1:{mosquitto.port}"
    assert mosquitto.running
    assert accepts_tcp(mosquitto.host, mosquitto.port)


async def test_retained_message_round_trip(mqtt_client_factory: ClientFactory) -> None:
    topic = _topic("status")
    publisher = await mqtt_client_factory()
    await publisher.publish(topic, b"online", qos=1, retain=True)

    subscriber = await mqtt_client_factory()
    await subscriber.subscribe(topic, qos=1)
    message = await _next_message(subscriber)
    assert message.topic.matches(topic)
    assert message.payload == b"online"
    assert message.retain


async def test_survives_a_broker_restart(
    mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    before = await mqtt_client_factory()
    await before.publish(_topic("before"), b"1", qos=1)

    port = mosquitto.port
    await mosquitto.restart_async()
    assert mosquitto.port == port
    assert mosquitto.running

    with pytest.raises(aiomqtt.MqttError):  # the old connection is gone ...
        for _ in range(50):
            await before.publish(_topic("lost"), b"x", qos=1, timeout=0.2)
            await asyncio.sleep(0.05)

    topic = _topic("after")  # ... and a reconnect works on the same URL
    subscriber = await mqtt_client_factory()
    await subscriber.subscribe(topic, qos=1)
    publisher = await mqtt_client_factory()
    await publisher.publish(topic, b"again", qos=1)
    assert (await _next_message(subscriber)).payload == b"again"


async def test_throwaway_database_holds_a_table(pg_database: str) -> None:
    assert pg_database.startswith("postgresql://")
    conn = await asyncpg.connect(pg_database)
    try:
        await conn.execute("CREATE TABLE printer (pid text PRIMARY KEY, seq bigint NOT NULL)")
        await conn.execute("INSERT INTO printer VALUES ($1, $2)", "mk4-01", 48211)
        row = await conn.fetchrow("SELECT pid, seq FROM printer")
        assert row is not None
        assert tuple(row) == ("mk4-01", 48211)
    finally:
        await conn.close()


async def test_each_use_gets_its_own_database(pg_database: str, pg_database_factory: DatabaseFactory) -> None:
    other = await pg_database_factory()
    assert other != pg_database
    first = await asyncpg.connect(pg_database)
    second = await asyncpg.connect(other)
    try:
        assert await first.fetchval("SELECT current_database()") != await second.fetchval(
            "SELECT current_database()"
        )
        await first.execute("CREATE TABLE only_here (x int)")
        assert await second.fetchval("SELECT to_regclass('only_here') IS NULL")
    finally:
        await first.close()
        await second.close()
