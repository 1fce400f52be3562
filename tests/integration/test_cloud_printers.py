"""Printers on a real database (SQLite and PostgreSQL): claim codes, enrolment, organisation scoping."""

from __future__ import annotations

import asyncio
import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cloud.printers.models import Printer
from cloud.printers.mosquitto_auth import verify_password
from contract.topics import validate_pid
from tests.fixtures.cloud import CloudFactory, CloudHarness

pytestmark = pytest.mark.integration


async def test_viewer_cannot_create_claim_codes(cloud: CloudHarness) -> None:
    _, viewer = await cloud.add_user("viewer")
    response = await cloud.client.post("/api/printers/claim-codes", json={}, headers=viewer)
    assert response.status_code == 403


async def test_enrolment_returns_credentials_and_the_job_signing_public_key(cloud: CloudHarness) -> None:
    code = await cloud.claim_code(name="Voron 2.4", tags=["petg", "bay-3"])
    response = await cloud.client.post(
        "/api/enrol",
        json={
            "claim_code": code.lower().replace("-", " "),  # forgiving: case, separators
            "name": "ignored: the claim code named it",
            "tags": ["bay-3", "enclosed"],
            "nozzle_mm": 0.6,
            "material": "PETG",
            "build_volume": {"x_mm": 350, "y_mm": 350, "z_mm": 340},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    pid = body["printer_id"]
    assert validate_pid(pid) == pid
    assert body["mqtt_username"] == pid
    assert len(body["mqtt_password"]) >= 24
    assert body["mqtt_url"] == cloud.settings.mqtt_url
    assert body["topic_prefix"] == "fleet/v1"
    assert body["job_signing_algorithm"] == "ed25519"

    # The public key verifies what the cloud signs (what agents will check job offers with).
    public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(body["job_signing_public_key"]))
    public_key.verify(base64.b64decode(cloud.services.secrets.sign_b64(b"manifest")), b"manifest")

    printer = (await cloud.client.get(f"/api/printers/{pid}", headers=cloud.admin_headers)).json()
    assert printer["name"] == "Voron 2.4"
    assert printer["tags"] == ["petg", "bay-3", "enclosed"]
    assert printer["nozzle_mm"] == 0.6
    assert printer["material"] == "PETG"
    assert printer["build_volume"] == {"x_mm": 350.0, "y_mm": 350.0, "z_mm": 340.0}
    assert printer["enrolled_at"]

    # Only a Mosquitto hash of the MQTT password is stored.
    async with cloud.services.database.session() as session:
        row = await session.get(Printer, pid)
    assert row is not None
    assert body["mqtt_password"] not in row.mqtt_password_hash
    assert verify_password(row.mqtt_password_hash, body["mqtt_password"])


async def test_a_claim_code_works_once(cloud: CloudHarness) -> None:
    code = await cloud.claim_code()
    first = await cloud.client.post("/api/enrol", json={"claim_code": code})
    second = await cloud.client.post("/api/enrol", json={"claim_code": code})
    assert first.status_code == 201
    assert second.status_code == 400
    assert second.json()["code"] == "claim_code_used"
    printers = (await cloud.client.get("/api/printers", headers=cloud.admin_headers)).json()
    assert [p["id"] for p in printers] == [first.json()["printer_id"]]


async def test_racing_agents_with_one_code_get_one_printer(cloud: CloudHarness) -> None:
    code = await cloud.claim_code()
    responses = await asyncio.gather(
        *(cloud.client.post("/api/enrol", json={"claim_code": code}) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 400, 400, 400]
    assert len((await cloud.client.get("/api/printers", headers=cloud.admin_headers)).json()) == 1


async def test_an_expired_claim_code_is_refused(cloud: CloudHarness) -> None:
    created = await cloud.client.post(
        "/api/printers/claim-codes", json={"ttl_s": 120}, headers=cloud.admin_headers
    )
    assert created.status_code == 201
    cloud.advance(121)
    response = await cloud.client.post("/api/enrol", json={"claim_code": created.json()["code"]})
    assert response.status_code == 400
    assert response.json()["code"] == "claim_code_expired"


async def test_claim_code_lifetime_is_capped_by_settings(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(claim_code_max_ttl_s=600)
    created = await cloud.client.post(
        "/api/printers/claim-codes", json={"ttl_s": 10**9}, headers=cloud.admin_headers
    )
    assert created.status_code == 201
    cloud.advance(601)
    response = await cloud.client.post("/api/enrol", json={"claim_code": created.json()["code"]})
    assert response.json()["code"] == "claim_code_expired"


async def test_guessing_claim_codes_is_rate_limited(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(enrol_rate_limit={"burst": 3, "per_minute": 1})
    guesses = [
        (await cloud.client.post("/api/enrol", json={"claim_code": f"AAAA-AAAA-AAAA-AAA{i}"})).status_code
        for i in range(3)
    ]
    assert guesses == [400, 400, 400]
    code = await cloud.claim_code()
    limited = await cloud.client.post("/api/enrol", json={"claim_code": code})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1


async def test_successful_enrolments_are_not_rate_limited(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(enrol_rate_limit={"burst": 2, "per_minute": 1})
    for _ in range(5):
        await cloud.enrol()


async def test_organisation_a_cannot_see_organisation_b_printers(cloud: CloudHarness) -> None:
    _, org_b = await cloud.add_organisation("Org B")
    a_pid = (await cloud.enrol(name="a-printer"))["printer_id"]
    b_pid = (await cloud.enrol(org_b, name="b-printer"))["printer_id"]
    a_list = (await cloud.client.get("/api/printers", headers=cloud.admin_headers)).json()
    b_list = (await cloud.client.get("/api/printers", headers=org_b)).json()
    assert [p["id"] for p in a_list] == [a_pid]
    assert [p["id"] for p in b_list] == [b_pid]
    for method, body in (("GET", None), ("PATCH", {"name": "mine now"}), ("DELETE", None)):
        response = await cloud.client.request(
            method, f"/api/printers/{b_pid}", json=body, headers=cloud.admin_headers
        )
        assert response.status_code == 404, method
        assert response.json() == {"code": "not_found", "message": f"printer {b_pid!r} not found"}
    unknown = await cloud.client.get("/api/printers/pr-doesnotexist", headers=cloud.admin_headers)
    assert unknown.json()["code"] == "not_found"  # the same answer as for another org's printer
    assert (await cloud.client.get(f"/api/printers/{b_pid}", headers=org_b)).json()["name"] == "b-printer"


async def test_printer_update_list_and_delete(cloud: CloudHarness) -> None:
    _, viewer = await cloud.add_user("viewer")
    _, operator = await cloud.add_user("operator")
    pids = [(await cloud.enrol(name=name))["printer_id"] for name in ("charlie", "alpha", "bravo")]
    listed = (await cloud.client.get("/api/printers", headers=viewer)).json()
    assert [p["name"] for p in listed] == ["alpha", "bravo", "charlie"]
    page = (await cloud.client.get("/api/printers?limit=1&offset=1", headers=viewer)).json()
    assert [p["name"] for p in page] == ["bravo"]
    assert set(listed[0]) == {"id", "name", "tags", "nozzle_mm", "material", "build_volume", "enrolled_at"}

    url = f"/api/printers/{pids[0]}"
    assert (await cloud.client.patch(url, json={"name": "x"}, headers=viewer)).status_code == 403
    patched = await cloud.client.patch(
        url, json={"nozzle_mm": 0.4, "material": "PLA", "tags": ["a", "a", "b"]}, headers=operator
    )
    assert patched.status_code == 200
    assert patched.json() | {"id": None, "enrolled_at": None} == {
        "id": None,
        "name": "charlie",
        "tags": ["a", "b"],
        "nozzle_mm": 0.4,
        "material": "PLA",
        "build_volume": None,
        "enrolled_at": None,
    }
    cleared = await cloud.client.patch(url, json={"material": None}, headers=operator)
    assert cleared.json()["material"] is None
    assert cleared.json()["nozzle_mm"] == 0.4

    assert (await cloud.client.delete(url, headers=viewer)).status_code == 403
    assert (await cloud.client.delete(url, headers=operator)).status_code == 204
    assert (await cloud.client.get(url, headers=viewer)).status_code == 404
    assert (await cloud.client.delete(url, headers=operator)).status_code == 404
