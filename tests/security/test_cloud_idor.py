"""Cross-organisation access (IDOR) on every route of the cloud, found from ``app.routes``.

Organisation A owns one of each object (a user, an API key, a printer, a job, a command, a stored
file); organisation B's admin then calls every route that has a path parameter, with every method,
filled with A's ids. Each answer must be a 404 (or a 403 / 401 where a signature, not the caller,
is the credential) and must carry none of A's data; afterwards A's objects are unchanged. B's list
routes must not show A's objects either.

The routes are enumerated, not listed by hand: ``ROUTES`` says for each route with a path parameter
how to call it (its body), ``ALLOWED`` lists the ones left out and why. A route in neither — a
router added later (designs, market, collab, notifications ...) — fails
``test_every_parametrised_route_is_covered`` until someone says how to build its object for A (add
a builder of its parameter to ``BUILDERS`` and the route to ``ROUTES``).
"""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import select

from cloud.jobs.models import Job
from tests.fixtures.cloud import CloudFactory, CloudHarness

pytestmark = [pytest.mark.security, pytest.mark.integration]

GCODE = b"; org A's private print\nG28\nG1 X10 Y10 F3000\n"


@dataclass(frozen=True)
class Call:
    """How B calls a route: the JSON body (a valid one, so a 422 cannot hide the lookup) and the
    statuses that count as refused."""

    body: dict[str, Any] | None = None
    refused: tuple[int, ...] = (404,)
    public: bool = False  # the object is shown to other organisations on purpose


PUBLIC = (200, 201, 204, 400, 402, 403, 404, 409, 422)
"""Any answer but a 5xx: for routes that show another organisation's object on purpose (marketplace)."""

ROUTES: dict[tuple[str, str], Call] = {
    ("GET", "/api/users/{user_id}"): Call(),
    ("PATCH", "/api/users/{user_id}"): Call({"role": "admin", "password": "taken-over-by-b"}),
    ("DELETE", "/api/users/{user_id}"): Call(),
    ("DELETE", "/api/api-keys/{key_id}"): Call(),
    ("GET", "/api/printers/{pid}"): Call(),
    ("PATCH", "/api/printers/{pid}"): Call({"name": "renamed by B", "tags": ["b"]}),
    ("DELETE", "/api/printers/{pid}"): Call(),
    ("POST", "/api/printers/{pid}/commands/{verb}"): Call(),
    ("GET", "/api/commands/{cmd_id}"): Call(),
    ("GET", "/api/fleet/printers/{pid}"): Call(),
    ("GET", "/api/fleet/printers/{pid}/events"): Call(),
    ("GET", "/api/fleet/printers/{pid}/telemetry"): Call(),
    ("GET", "/api/jobs/{job_id}"): Call(),
    ("PATCH", "/api/jobs/{job_id}"): Call({"priority": 1000}),
    ("POST", "/api/jobs/{job_id}/cancel"): Call(),
    # The signature in the query string is the credential, not the caller: without it, a 403.
    ("GET", "/api/files/download/{key}"): Call(refused=(401, 403, 404)),
    # Designs (AI-assisted design sessions).
    ("GET", "/api/designs/{design_id}"): Call(),
    ("POST", "/api/designs/{design_id}/turns"): Call({"text": "make it 20 mm taller"}),
    ("POST", "/api/designs/{design_id}/undo"): Call(),
    ("GET", "/api/designs/{design_id}/model.stl"): Call(),
    ("GET", "/api/designs/{design_id}/model.3mf"): Call(),
    ("GET", "/api/designs/{design_id}/preview.png"): Call(),
    ("POST", "/api/designs/{design_id}/print"): Call({}),
    ("POST", "/api/designs/{design_id}/publish"): Call({"title": "B sells A's design", "price_cents": 100}),
    # Shared documents.
    ("GET", "/api/collab/documents/{doc_id}"): Call(),
    # Notifications and webhooks.
    ("POST", "/api/notifications/{notification_id}/read"): Call(
        refused=(403, 404)
    ),  # 403: API keys have none
    ("GET", "/api/webhooks/{webhook_id}"): Call(),
    ("PATCH", "/api/webhooks/{webhook_id}"): Call({"url": "https://attacker.example/hook"}),
    ("DELETE", "/api/webhooks/{webhook_id}"): Call(),
    ("GET", "/api/webhooks/{webhook_id}/deliveries"): Call(),
    # The marketplace: an active listing is public by design (others read it, its reviews and the
    # seller's page), but only its seller changes it and only a buyer downloads a paid one.
    ("GET", "/api/market/listings/{listing_id}"): Call(refused=PUBLIC, public=True),
    ("GET", "/api/market/listings/{listing_id}/reviews"): Call(refused=PUBLIC, public=True),
    ("GET", "/api/market/sellers/{org_id}"): Call(refused=PUBLIC, public=True),
    ("PATCH", "/api/market/listings/{listing_id}"): Call({"title": "renamed by B"}, refused=(403, 404)),
    ("PUT", "/api/market/listings/{listing_id}/file"): Call(refused=(403, 404, 415, 422)),
    ("GET", "/api/market/listings/{listing_id}/download"): Call(refused=(402, 403, 404)),
    ("PUT", "/api/market/listings/{listing_id}/review"): Call(
        {"rating": 1, "text": "B was here"}, refused=(402, 403, 404, 409)
    ),
}

ALLOWED: dict[tuple[str, str], str] = {
    ("GET", "/{path:webpath}"): "the web UI's static files and client routes: no organisation data",
    ("POST", "/api/market/listings/{listing_id}/purchase"): (
        "buying another organisation's active listing is the marketplace's purpose (tested in"
        " test_market_money.py)"
    ),
    ("POST", "/api/market/listings/{listing_id}/print"): (
        "printing a listing one may buy is the marketplace's purpose; entitlement is checked by"
        " test_market_listings.py"
    ),
    ("POST", "/api/market/purchases/{purchase_id}/refund"): (
        "a purchase exists only after a payment through the provider; not built here (TODO: a"
        " purchase builder)"
    ),
    ("WS", "/api/collab/{doc_id}/ws"): (
        "a WebSocket (httpx cannot open one in-process): hub.open(doc_id, user.org_id) closes with"
        " 4404 for another organisation's document"
    ),
}
"""Routes with a path parameter that B's calls do not cover, each with the reason."""

LIST_ALLOWED: dict[tuple[str, str], str] = {
    (
        "GET",
        "/api/fleet/stream",
    ): "a server-sent event stream that never ends; scoped in test_cloud_fleet_feed",
    ("GET", "/api/notifications/stream"): "a server-sent event stream that never ends",
    (
        "GET",
        "/api/market/listings",
    ): "the marketplace's public search: other organisations' listings on purpose",
}
"""GET routes without a path parameter that the list check leaves out, each with the reason."""


def api_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path template) of every route the app serves, routers included at any depth; a
    WebSocket route has the method ``"WS"``."""

    def walk(routes: Any) -> Iterator[Any]:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if contexts is not None:  # FastAPI's included router
                for context in contexts():
                    yield getattr(context, "starlette_route", None) or context.original_route
            elif hasattr(route, "routes") and not isinstance(route, APIRoute):
                yield from walk(route.routes)
            else:
                yield route

    seen: set[tuple[str, str]] = set()
    for route in walk(app.routes):
        path = getattr(route, "path", None) or getattr(route, "path_format", "")
        methods = getattr(route, "methods", None) or (("WS",) if "WebSocket" in type(route).__name__ else ())
        for method in sorted(methods):
            if method in ("HEAD", "OPTIONS") or (method, path) in seen:
                continue
            seen.add((method, path))
            yield method, path


@dataclass
class Org:
    """Organisation A's objects: the value of each path parameter, and strings only A's data holds."""

    headers: dict[str, str]
    marker: str
    values: dict[str, str] = field(default_factory=dict)
    markers: list[str] = field(default_factory=list)


Builder = Callable[[CloudHarness, Org], Awaitable[str]]


async def _created(response: httpx.Response, field_name: str = "id") -> str:
    assert response.status_code in (200, 201, 202), (str(response.request.url), response.text[:500])
    value: str = response.json()[field_name]
    return value


async def _user(cloud: CloudHarness, org: Org) -> str:
    body = {"email": f"{org.marker}@example.com", "password": "a-users-password", "role": "viewer"}
    return await _created(await cloud.client.post("/api/users", json=body, headers=org.headers))


async def _api_key(cloud: CloudHarness, org: Org) -> str:
    response = await cloud.client.post(
        "/api/api-keys", json={"name": f"{org.marker}-key"}, headers=org.headers
    )
    org.markers.append(response.json()["key"])
    return await _created(response)


async def _printer(cloud: CloudHarness, org: Org) -> str:
    enrolled = await cloud.enrol(name=f"{org.marker}-printer", material="PLA")
    org.markers.append(enrolled["mqtt_password"])
    return str(enrolled["printer_id"])


async def _job(cloud: CloudHarness, org: Org) -> str:
    response = await cloud.client.post(
        "/api/jobs",
        files={"file": (f"{org.marker}.gcode", GCODE, "application/octet-stream")},
        data={"priority": "3"},
        headers=org.headers,
    )
    return await _created(response)


async def _command(cloud: CloudHarness, org: Org) -> str:
    pid = await _value(cloud, org, "pid")
    response = await cloud.client.post(f"/api/printers/{pid}/commands/pause", headers=org.headers)
    return await _created(response, "cmd_id")


async def _file_key(cloud: CloudHarness, org: Org) -> str:
    job_id = await _value(cloud, org, "job_id")
    async with cloud.services.database.session() as session:
        return (await session.execute(select(Job.file_key).where(Job.id == job_id))).scalar_one()


async def _verb(cloud: CloudHarness, org: Org) -> str:
    return "cancel"


async def _design(cloud: CloudHarness, org: Org) -> str:
    response = await cloud.client.post(
        "/api/designs", json={"title": f"{org.marker} design", "text": "a 20 mm box"}, headers=org.headers
    )
    return await _created(response)


async def _document(cloud: CloudHarness, org: Org) -> str:
    body = {"title": f"{org.marker} doc", "state": {"width_mm": 20}}
    return await _created(await cloud.client.post("/api/collab/documents", json=body, headers=org.headers))


async def _webhook(cloud: CloudHarness, org: Org) -> str:
    body = {"url": f"https://example.com/{org.marker}", "description": org.marker}
    response = await cloud.client.post("/api/webhooks", json=body, headers=org.headers)
    org.markers.append(response.json()["secret"])
    return await _created(response)


async def _notification(cloud: CloudHarness, org: Org) -> str:
    """A notification for A's admin, stored as the fan-out of an event stores one."""
    from cloud.notify.models import Notification, NotifyEvent  # noqa: PLC0415 - a router still landing

    me = (await cloud.client.get("/api/me", headers=org.headers)).json()
    async with cloud.services.database.session() as session:
        event = NotifyEvent(
            org_id=me["organisation"]["id"], kind="printer.error", title=org.marker, payload={}
        )
        session.add(event)
        await session.flush()
        note = Notification(
            org_id=event.org_id,
            user_id=me["id"],
            event_id=event.id,
            kind=event.kind,
            title=org.marker,
            payload={},
        )
        session.add(note)
        await session.commit()
        return note.id


async def _listing(cloud: CloudHarness, org: Org) -> str:
    body = {"title": f"Bracket {org.marker[-6:]}", "description": "a paid listing", "price_cents": 500}
    listing_id = await _created(
        await cloud.client.post("/api/market/listings", json=body, headers=org.headers)
    )
    attached = await cloud.client.put(
        f"/api/market/listings/{listing_id}/file",
        files={"file": (f"{org.marker}.gcode", GCODE, "application/octet-stream")},
        headers=org.headers,
    )
    assert attached.status_code == 200, attached.text
    return listing_id


async def _org_id(cloud: CloudHarness, org: Org) -> str:
    me = (await cloud.client.get("/api/me", headers=org.headers)).json()
    return str(me["organisation"]["id"])


BUILDERS: dict[str, Builder] = {
    "user_id": _user,
    "key_id": _api_key,
    "pid": _printer,
    "verb": _verb,
    "job_id": _job,
    "cmd_id": _command,
    "key": _file_key,
    "design_id": _design,
    "doc_id": _document,
    "webhook_id": _webhook,
    "notification_id": _notification,
    "listing_id": _listing,
    "org_id": _org_id,
}
"""How organisation A gets an object for each path parameter (its id is the parameter's value)."""


async def _value(cloud: CloudHarness, org: Org, name: str) -> str:
    if name not in org.values:
        builder = BUILDERS.get(name)
        assert builder is not None, f"no builder for the path parameter {name!r}: add one to BUILDERS"
        org.values[name] = await builder(cloud, org)
    return org.values[name]


async def build_org_a(cloud: CloudHarness) -> Org:
    """One of A's objects for every path parameter of every covered route the app has."""
    org = Org(headers=cloud.admin_headers, marker=f"org-a-{uuid.uuid4().hex[:12]}")
    org.markers.append(org.marker)
    for method, path in parametrised(cloud.app):
        if (method, path) in ROUTES:
            for name in _params(path):
                await _value(cloud, org, name)
    return org


async def snapshot(cloud: CloudHarness, org: Org) -> dict[str, Any]:
    """What A sees of its objects through every covered GET route (all of it must survive B's calls)."""
    out: dict[str, Any] = {}
    for method, path in parametrised(cloud.app):
        if method != "GET" or (method, path) not in ROUTES or "{key}" in path:
            continue
        response = await cloud.client.get(concrete(path, org.values), headers=org.headers)
        assert response.status_code in (200, 202), (path, response.status_code, response.text[:300])
        kind = response.headers.get("content-type", "")
        if response.status_code == 202 or kind.startswith("image/"):
            out[path] = "available"  # a preview still rendering, then rendered
        elif kind.startswith("application/json"):
            out[path] = _stable(response.json())
        elif response.content.startswith(b"PK"):  # a 3MF: its parts, not the zip's timestamps
            with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
                out[path] = {name: archive.read(name) for name in sorted(archive.namelist())}
        else:
            out[path] = response.content
    keys = (await cloud.client.get("/api/api-keys", headers=org.headers)).json()
    out["api key"] = _stable(next(k for k in keys if k["id"] == org.values["key_id"]))
    return out


def _stable(body: Any) -> Any:
    """``body`` without the fields that change by themselves (timestamps of use, live state)."""
    if isinstance(body, dict):
        return {k: _stable(v) for k, v in body.items() if k not in VOLATILE}
    if isinstance(body, list):
        return [_stable(v) for v in body]
    return body


VOLATILE = frozenset(
    {"last_used_at", "updated_at", "online", "last_seen_at", "render", "preview_url", "since", "until"}
)


def concrete(path: str, values: dict[str, str]) -> str:
    out = path
    for name, value in values.items():
        out = out.replace("{" + name + "}", value).replace("{" + name + ":path}", value)
    return out


@pytest.fixture
async def cloud(cloud_factory: CloudFactory) -> CloudHarness:
    return await cloud_factory(jobs={"dispatcher": False})


def parametrised(app: FastAPI) -> list[tuple[str, str]]:
    return [(m, p) for m, p in api_routes(app) if "{" in p]


async def test_every_parametrised_route_is_covered(cloud: CloudHarness) -> None:
    routes = parametrised(cloud.app)
    assert len(routes) >= 15, routes  # the enumeration sees the included routers
    missing = [r for r in routes if r not in ROUTES and r not in ALLOWED]
    assert not missing, (
        f"routes with a path parameter but no cross-organisation check: {missing}; add them to ROUTES"
        " (and a builder of their parameters to BUILDERS) or to ALLOWED with a reason"
    )
    stale = [r for r in ROUTES if r not in routes]
    assert not stale, f"ROUTES lists routes the app no longer has: {stale}"


async def test_another_organisation_gets_404_on_every_object_route(cloud: CloudHarness) -> None:
    org_a = await build_org_a(cloud)
    _, b_headers = await cloud.add_organisation("Org B")
    before = await snapshot(cloud, org_a)  # A reaches each GET route: B's 404 is about B
    b_callers = (b_headers, await _b_api_key(cloud, b_headers))
    checked = 0
    # Writes last (DELETE very last), so a read that would have leaked is tried before anything changes.
    order = {"GET": 0, "PATCH": 1, "POST": 2, "PUT": 2, "DELETE": 3}
    for method, path in sorted(parametrised(cloud.app), key=lambda r: order.get(r[0], 2)):
        if (method, path) not in ROUTES:
            continue  # uncovered routes fail test_every_parametrised_route_is_covered
        call = ROUTES[(method, path)]
        url = concrete(path, org_a.values)
        for headers in b_callers:
            response = await cloud.client.request(method, url, json=call.body, headers=headers)
            print(f"observed: {method} {path}: {response.status_code} {response.text[:80]}")
            assert response.status_code in call.refused, (method, url, response.status_code, response.text)
            for marker in [] if call.public else org_a.markers:
                assert marker not in response.text, (method, url, "leaks A's data", response.text)
            checked += 1
    assert checked >= 30
    assert await snapshot(cloud, org_a) == before, "B's calls changed A's objects"


async def test_list_routes_show_another_organisation_nothing(cloud: CloudHarness) -> None:
    org_a = await build_org_a(cloud)
    _, b_headers = await cloud.add_organisation("Org B")
    secrets = [*org_a.markers, *(v for k, v in org_a.values.items() if k != "verb")]
    lists = [(m, p) for m, p in api_routes(cloud.app) if m == "GET" and "{" not in p]
    assert ("GET", "/api/jobs") in lists and ("GET", "/api/fleet/printers") in lists
    for method, path in lists:
        if (method, path) in LIST_ALLOWED:
            continue
        for params in ({}, {"printer_id": org_a.values["pid"]}):
            response = await cloud.client.request(method, path, params=params, headers=b_headers)
            assert response.status_code < 500, (path, response.text)
            for secret in secrets:
                assert secret not in response.text, (path, params, "shows A's", secret)
        # The same list as A does show A's objects: the check above can fail.
    mine = await cloud.client.get("/api/jobs", headers=org_a.headers)
    assert org_a.values["job_id"] in mine.text


def _params(path: str) -> list[str]:
    return [name.split(":")[0] for name in re.findall(r"\{([^}]+)\}", path)]


async def _b_api_key(cloud: CloudHarness, b_headers: dict[str, str]) -> dict[str, str]:
    """B's callers come as a user (JWT) and as an admin API key: both are scoped the same way."""
    created = await cloud.client.post("/api/api-keys", json={"name": "b", "role": "admin"}, headers=b_headers)
    assert created.status_code == 201, created.text
    return {"X-Api-Key": created.json()["key"]}
