"""Notifications end to end, on SQLite and PostgreSQL: printers publish over a real Mosquitto, the
ingest's hooks notify; a webhook receiver (a small HTTP server on loopback) checks signatures and
fails once; e-mail lands on a local aiosmtpd server; the live stream is read over a real uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from cloud.notify import notify
from cloud.notify.delivery import DeliveryWorker
from cloud.notify.signing import DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from contract.events import EventType
from tests.fixtures.broker import ClientFactory, MosquittoBroker, free_port
from tests.fixtures.cloud import CloudFactory, CloudHarness
from tests.integration.test_cloud_collab import serve
from tests.integration.test_cloud_ingest import eventually, fake_printer, ingest_cloud

pytestmark = pytest.mark.integration

FAST_NOTIFY = {"retry_initial_s": 0.2, "retry_jitter": 0.0, "poll_interval_s": 0.2, "max_attempts": 3}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookReceiver:
    """A minimal HTTP/1.1 server: records each request, answers with the next of ``statuses`` (then 200)."""

    statuses: deque[int] = field(default_factory=deque)
    requests: list[Received] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await reader.readline():  # the request line; b"" when the client closed
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests.append(Received(headers, body))
                status = self.statuses.popleft() if self.statuses else 200
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode())
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def webhook_receiver(*statuses: int) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver(statuses=deque(statuses))
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/hooks/3dpot"
    async with server:
        yield receiver


class Mailbox:
    """An aiosmtpd handler keeping what it was sent."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        content = envelope.content
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else str(content)
        self.messages.append((list(envelope.rcpt_tos), text))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Any:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller.port, mailbox
    finally:
        controller.stop()


async def _notifications(cloud: CloudHarness, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    response = await cloud.client.get("/api/notifications", headers=headers or cloud.admin_headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


async def _webhook(cloud: CloudHarness, url: str, kinds: list[str]) -> dict[str, Any]:
    response = await cloud.client.post(
        "/api/webhooks", json={"url": url, "kinds": kinds}, headers=cloud.admin_headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_job_completion_notifies_in_the_app_and_by_a_signed_webhook_retried_after_a_500(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto, notify=FAST_NOTIFY)
    _, foreign = await cloud.add_organisation("Org B")
    printer = await fake_printer(cloud, mqtt_client_factory)
    async with webhook_receiver(500) as receiver:
        hook = await _webhook(cloud, receiver.url, ["job.completed", "job.failed"])
        other = await _webhook(cloud, receiver.url + "/printers-only", ["printer.error"])
        await printer.event(EventType.JOB_STARTED)  # not a notification
        completed = await printer.event(EventType.JOB_COMPLETED)
        await printer.event(
            EventType.JOB_COMPLETED, event_id=completed.event_id, seq=completed.seq
        )  # replayed

        async def two_requests() -> bool:
            return len(receiver.requests) >= 2

        await eventually(two_requests, what="the webhook and its retry")
        await asyncio.sleep(0.5)  # nothing more may arrive
        assert len(receiver.requests) == 2
        first, retry = receiver.requests
        assert first.headers[DELIVERY_HEADER.lower()] == retry.headers[DELIVERY_HEADER.lower()]
        assert first.body == retry.body
        for request in receiver.requests:
            assert request.headers[EVENT_HEADER.lower()] == "job.completed"
            assert verify(
                hook["secret"],
                request.headers[TIMESTAMP_HEADER.lower()],
                request.body,
                request.headers[SIGNATURE_HEADER.lower()],
                now=time.time(),
            )
            assert not verify(
                "whsec_wrong",
                request.headers[TIMESTAMP_HEADER.lower()],
                request.body,
                request.headers[SIGNATURE_HEADER.lower()],
                now=time.time(),
            )
        body = json.loads(retry.body)
        assert body["kind"] == "job.completed"
        assert body["data"]["printer_id"] == printer.pid and body["data"]["job_id"] == "job-1"

    async def delivered() -> list[dict[str, Any]] | None:
        response = await cloud.client.get(
            f"/api/webhooks/{hook['id']}/deliveries", headers=cloud.admin_headers
        )
        items: list[dict[str, Any]] = response.json()
        return items if items and items[0]["status"] == "delivered" else None

    deliveries = await eventually(delivered, what="the delivery recorded as delivered")
    assert len(deliveries) == 1
    assert [a["status_code"] for a in deliveries[0]["history"]] == [500, 200]
    assert deliveries[0]["id"] == first.headers[DELIVERY_HEADER.lower()]
    other_deliveries = await cloud.client.get(
        f"/api/webhooks/{other['id']}/deliveries", headers=cloud.admin_headers
    )
    assert other_deliveries.json() == []

    notes = await _notifications(cloud)
    assert [n["kind"] for n in notes] == ["job.completed"]
    assert notes[0]["title"].startswith("Job job-1 completed on ")
    assert await _notifications(cloud, foreign) == []
    assert (await cloud.client.get(f"/api/webhooks/{hook['id']}", headers=foreign)).status_code == 404

    read = await cloud.client.post(f"/api/notifications/{notes[0]['id']}/read", headers=cloud.admin_headers)
    assert read.status_code == 204
    unread = await cloud.client.get(
        "/api/notifications", params={"unread": True}, headers=cloud.admin_headers
    )
    assert unread.json() == []
    assert (
        await cloud.client.post(f"/api/notifications/{notes[0]['id']}/read", headers=foreign)
    ).status_code == 404


async def test_a_flapping_printer_does_not_flood(
    cloud_factory: CloudFactory, mosquitto: MosquittoBroker, mqtt_client_factory: ClientFactory
) -> None:
    cloud = await ingest_cloud(cloud_factory, mosquitto, notify={**FAST_NOTIFY, "flap_window_s": 600.0})
    printer = await fake_printer(cloud, mqtt_client_factory)
    await printer.raw("status", b"online")

    async def online() -> bool:
        body = (
            await cloud.client.get(f"/api/fleet/printers/{printer.pid}", headers=cloud.admin_headers)
        ).json()
        return bool(body["online"])

    await eventually(online, what="the printer online")
    for _ in range(5):
        await printer.raw("status", b"offline")
        await eventually(lambda: _is_offline(cloud, printer.pid), what="offline")
        await printer.raw("status", b"online")
        await eventually(online, what="online again")

    async def offline_notes() -> list[dict[str, Any]]:
        return [n for n in await _notifications(cloud) if n["kind"] == "printer.offline"]

    assert len(await offline_notes()) == 1  # inside the window: the first only
    await asyncio.sleep(1.5)  # the summary tick runs meanwhile: the window is still open
    assert len(await offline_notes()) == 1
    cloud.advance(601)  # the app's clock: the window has passed

    async def summary() -> list[dict[str, Any]] | None:
        notes = await offline_notes()
        return notes if len(notes) == 2 else None

    notes = await eventually(summary, timeout_s=10, what="the flap summary")
    assert notes[0]["title"].endswith("went offline 5 times in 10 min")
    assert notes[0]["payload"]["times"] == 5
    await asyncio.sleep(1.5)
    assert len(await offline_notes()) == 2
    await printer.raw("status", b"", retain=True)


async def _is_offline(cloud: CloudHarness, pid: str) -> bool:
    body = (await cloud.client.get(f"/api/fleet/printers/{pid}", headers=cloud.admin_headers)).json()
    return not body["online"]


async def test_email_reaches_users_who_opted_in_and_the_stream_pushes_live(
    cloud_factory: CloudFactory, smtp_server: tuple[int, Mailbox]
) -> None:
    port, mailbox = smtp_server
    cloud = await cloud_factory(notify={**FAST_NOTIFY, "smtp_host": "127.0.0.1", "smtp_port": port})
    _, operator = await cloud.add_user("operator")
    changed = await cloud.client.put(
        "/api/notifications/preferences",
        json={"kinds": {"job.failed": {"email": True}, "sale": {"in_app": False}}},
        headers=operator,
    )
    assert changed.status_code == 200, changed.text
    prefs = (await cloud.client.get("/api/notifications/preferences", headers=operator)).json()["kinds"]
    assert prefs["job.failed"] == {"in_app": True, "email": True}
    assert prefs["sale"] == {"in_app": False, "email": False}
    assert prefs["job.completed"] == {"in_app": True, "email": False}
    bad = await cloud.client.put(
        "/api/notifications/preferences", json={"kinds": {"nope": {}}}, headers=operator
    )
    assert bad.status_code == 422

    me = (await cloud.client.get("/api/me", headers=operator)).json()
    org_id = me["organisation"]["id"]
    token = operator["Authorization"].removeprefix("Bearer ")
    async with serve(cloud.app) as base:
        http_base = base.replace("ws://", "http://")
        async with (
            httpx.AsyncClient(base_url=http_base, timeout=10) as browser,
            browser.stream("GET", "/api/notifications/stream", params={"access_token": token}) as stream,
        ):
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()
            assert await anext(lines) == ": connected"
            stored = await notify(
                cloud.services, org_id, "job.failed", {"job_id": "j9", "printer_id": "p9", "reason": "clog"}
            )
            assert stored is not None
            frame: list[str] = []
            async with asyncio.timeout(10):
                async for line in lines:
                    if line == "" and frame:
                        break
                    if line:
                        frame.append(line)
            assert frame[0] == "event: notification"
            live = json.loads(frame[1].removeprefix("data: "))
            assert live["title"] == "Job j9 failed on p9: clog"

    async def mail() -> bool:
        return bool(mailbox.messages)

    await eventually(mail, what="the e-mail")
    await asyncio.sleep(0.5)
    recipients = [rcpt for rcpts, _ in mailbox.messages for rcpt in rcpts]
    assert recipients == [me["email"]]  # the admin did not opt in
    assert "Subject: Job j9 failed on p9: clog" in mailbox.messages[0][1]

    # a sale: the operator turned it off in the app; the admin still gets it; nobody by e-mail
    await notify(cloud.services, org_id, "sale", {"listing_title": "Vase"})
    assert [n["kind"] for n in await _notifications(cloud, operator)] == ["job.failed"]
    assert (await _notifications(cloud))[0]["title"] == "Sold Vase"
    # the same source event twice is one notification
    assert await notify(cloud.services, org_id, "review", {"rating": 5}, dedup_key="r1") is not None
    assert await notify(cloud.services, org_id, "review", {"rating": 5}, dedup_key="r1") is None
    assert [n["kind"] for n in await _notifications(cloud)].count("review") == 1


async def test_webhook_crud_is_for_admins_of_the_organisation(cloud: CloudHarness) -> None:
    _, operator = await cloud.add_user("operator")
    body = {"url": "https://example.com/hook", "kinds": ["sale"]}
    assert (await cloud.client.post("/api/webhooks", json=body, headers=operator)).status_code == 403
    bad = await cloud.client.post(
        "/api/webhooks", json={"url": "ftp://example.com/x"}, headers=cloud.admin_headers
    )
    assert bad.status_code == 422
    created = await _webhook(cloud, "https://example.com/hook", ["sale"])
    assert created["secret"].startswith("whsec_") and created["secret_prefix"] == created["secret"][:10]
    listed = (await cloud.client.get("/api/webhooks", headers=cloud.admin_headers)).json()
    assert [w["id"] for w in listed] == [created["id"]] and "secret" not in listed[0]
    patched = await cloud.client.patch(
        f"/api/webhooks/{created['id']}", json={"enabled": False, "kinds": []}, headers=cloud.admin_headers
    )
    assert (patched.json()["enabled"], patched.json()["kinds"]) == (False, [])
    gone = await cloud.client.delete(f"/api/webhooks/{created['id']}", headers=cloud.admin_headers)
    assert gone.status_code == 204
    assert (
        await cloud.client.get(f"/api/webhooks/{created['id']}", headers=cloud.admin_headers)
    ).status_code == 404
    key = await cloud.client.post(
        "/api/api-keys", json={"name": "ci", "role": "viewer"}, headers=cloud.admin_headers
    )
    assert key.status_code == 201, key.text
    as_key = {"X-Api-Key": key.json()["key"]}
    assert (await cloud.client.get("/api/notifications", headers=as_key)).status_code == 403


async def test_the_worker_retries_5xx_and_timeouts_gives_up_on_4xx_and_after_max_attempts(
    cloud_factory: CloudFactory,
) -> None:
    cloud = await cloud_factory(notify={**FAST_NOTIFY, "worker": False, "retry_initial_s": 0.01})
    me = (await cloud.client.get("/api/me", headers=cloud.admin_headers)).json()
    answers: dict[str, deque[int | None]] = {
        "/gone": deque([404]),
        "/flaky": deque([503, None, 200]),  # None: time out
        "/down": deque([500, 500, 500, 500]),
    }
    seen: list[tuple[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.url.path, request.headers[DELIVERY_HEADER]))
        status = answers[request.url.path].popleft()
        if status is None:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(status)

    hooks = {path: await _webhook(cloud, f"http://receiver.test{path}", []) for path in answers}
    await notify(cloud.services, me["organisation"]["id"], "sale", {"listing_title": "Vase"})
    worker = DeliveryWorker(cloud.services.database, cloud.settings.notify, cloud.services.now)
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        for _ in range(6):
            await worker.round(http)
            await asyncio.sleep(0.05)

    async def history(path: str) -> tuple[str, list[int | None]]:
        response = await cloud.client.get(
            f"/api/webhooks/{hooks[path]['id']}/deliveries", headers=cloud.admin_headers
        )
        (delivery,) = response.json()
        return delivery["status"], [a["status_code"] for a in delivery["history"]]

    assert await history("/gone") == ("failed", [404])
    assert await history("/flaky") == ("delivered", [503, None, 200])
    assert await history("/down") == ("failed", [500, 500, 500])  # max_attempts = 3
    flaky_ids = {delivery for path, delivery in seen if path == "/flaky"}
    assert len(flaky_ids) == 1
