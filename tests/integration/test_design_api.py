"""The design studio through its HTTP API on a real database (SQLite and PostgreSQL): scripted
conversations in English and Portuguese with the expected spec after every turn, meshes checked to
0.1 mm, organisation scoping, body validation, the background preview, a print refused for a wall
the nozzle cannot lay; and end to end, a conversation printed on a virtual printer through a real
agent (a real cloud process, Mosquitto, slicer).
"""

from __future__ import annotations

import asyncio
import struct
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from cloud.designs.geometry import build
from cloud.designs.meshes import spec_model
from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess
from tests.fixtures.cloud import CloudHarness
from tests.fixtures.cloud_process import CloudProcess

pytestmark = pytest.mark.integration

Step = tuple[str, str, dict[str, Any]]
"""(what the user says, the kind of answer, spec fields expected after it)"""

ENGLISH: list[Step] = [
    ("I want a round pot 12 cm tall with drainage holes", "spec",
     {"family": "planter", "height": 120.0, "top_width": 100.0, "bottom_width": 75.0, "drainage_holes": 4,
      "saucer": False}),
    ("make it 2 cm taller", "spec", {"height": 140.0, "top_width": 100.0}),
    ("add a saucer", "spec", {"height": 140.0, "saucer": True}),
    ("80 mm wide with 3 mm walls", "spec", {"top_width": 80.0, "bottom_width": 60.0, "wall": 3.0}),
    ("undo", "undo", {"top_width": 100.0, "bottom_width": 75.0, "wall": 2.0, "saucer": True}),
    ("no saucer, and make it hexagonal", "spec", {"saucer": False, "outline": "hexagonal", "height": 140.0}),
]  # fmt: skip
PORTUGUESE: list[Step] = [
    ("Quero um vaso de 12 cm com furos de drenagem e pratinho", "spec",
     {"family": "planter", "top_width": 120.0, "bottom_width": 90.0, "height": 100.0, "drainage_holes": 4,
      "saucer": True}),
    ("2 cm mais alto", "spec", {"height": 120.0}),
    ("parede de 3 mm e três furos", "spec", {"wall": 3.0, "drainage_holes": 3}),
    ("desfazer", "undo", {"wall": 2.0, "drainage_holes": 4, "height": 120.0}),
    ("sem pratinho", "spec", {"saucer": False, "height": 120.0}),
    ("altura de 15 cm, quadrado", "spec", {"height": 150.0, "outline": "square", "saucer": False}),
]  # fmt: skip


def _stl_bounds(data: bytes) -> np.ndarray:
    (count,) = struct.unpack_from("<I", data, 80)
    assert len(data) == 84 + 50 * count
    facets = np.frombuffer(
        data, dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]), offset=84
    )
    points = facets["v"].reshape(-1, 3)
    return np.stack([points.min(axis=0), points.max(axis=0)])


def _check_mesh(spec: dict[str, Any]) -> None:
    mesh = build(spec_model(spec))
    assert mesh.is_watertight
    (x0, y0, z0), (x1, y1, z1) = mesh.parts["pot"]
    assert z0 == pytest.approx(0.0, abs=0.1) and z1 == pytest.approx(spec["height"], abs=0.1)
    across = y1 - y0 if spec["outline"] == "hexagonal" else x1 - x0  # across flats for a hexagon
    assert across == pytest.approx(spec["top_width"], abs=0.1)


async def _converse(cloud: CloudHarness, script: list[Step], lang: str) -> str:
    headers = cloud.admin_headers
    first_text = script[0][0]
    created = await cloud.client.post("/api/designs", json={"text": first_text}, headers=headers)
    assert created.status_code == 201, created.text
    design = created.json()
    design_id = design["id"]
    answers = [design["last"]]
    assert design["version"] == 1 and design["title"]
    for text, _, _ in script[1:]:
        path = f"/api/designs/{design_id}/undo" if text in ("undo",) else f"/api/designs/{design_id}/turns"
        response = await cloud.client.post(
            path, json=None if text == "undo" else {"text": text}, headers=headers
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    for (text, kind, expected), answer in zip(script, answers, strict=True):
        assert answer["kind"] == kind, (text, answer)
        assert answer["lang"] == lang, (text, answer)
        assert {k: answer["spec"][k] for k in expected} == expected, (text, answer)
        assert answer["printability"]["ok"], answer["printability"]
        assert answer["preview_url"].startswith(f"/api/designs/{design_id}/preview.png")
        _check_mesh(answer["spec"])
    assert [a["version"] for a in answers] == [1, 2, 3, 4, 5, 6]
    detail = (await cloud.client.get(f"/api/designs/{design_id}", headers=headers)).json()
    assert detail["spec"] == answers[-1]["spec"] and detail["version"] == 6
    assert [t["role"] for t in detail["turns"]] == ["user", "studio"] * 6
    assert detail["printability"]["ok"] and detail["printability"]["mass_g"] > 0
    stl = await cloud.client.get(f"/api/designs/{design_id}/model.stl", headers=headers)
    assert stl.status_code == 200 and stl.headers["content-type"] == "model/stl"
    assert stl.headers["content-disposition"].startswith("attachment; filename=")
    bounds = _stl_bounds(stl.content)
    assert bounds[1][2] == pytest.approx(answers[-1]["spec"]["height"], abs=0.1)
    threemf = await cloud.client.get(f"/api/designs/{design_id}/model.3mf", headers=headers)
    assert threemf.status_code == 200 and threemf.content[:2] == b"PK"
    return str(design_id)


async def test_an_english_conversation_of_six_turns(cloud: CloudHarness) -> None:
    await _converse(cloud, ENGLISH, "en")


async def test_a_portuguese_conversation_of_six_turns(cloud: CloudHarness) -> None:
    design_id = await _converse(cloud, PORTUGUESE, "pt")
    detail = (await cloud.client.get(f"/api/designs/{design_id}", headers=cloud.admin_headers)).json()
    assert "vaso de planta" in detail["turns"][1]["text"].lower()


async def test_questions_and_refusals_keep_the_design(cloud: CloudHarness) -> None:
    headers = cloud.admin_headers
    design = (await cloud.client.post("/api/designs", json={"text": "a bicycle"}, headers=headers)).json()
    assert design["last"]["kind"] == "refusal" and "planter" in design["last"]["reply"]
    assert design["spec"] is None and design["version"] == 0 and design["preview_url"] is None
    url = f"/api/designs/{design['id']}"
    assert (await cloud.client.get(f"{url}/model.stl", headers=headers)).status_code == 409
    asked = (await cloud.client.post(f"{url}/turns", json={"text": "a 10 cm pot 20 cm tall that is 5 cm tall"},
                                     headers=headers)).json()  # fmt: skip
    assert asked["kind"] == "question" and asked["spec"] is None
    settled = (await cloud.client.post(f"{url}/turns", json={"text": "20 cm"}, headers=headers)).json()
    assert (
        settled["kind"] == "spec"
        and settled["spec"]["height"] == 200.0
        and settled["spec"]["top_width"] == 100.0
    )
    huge = (
        await cloud.client.post(f"{url}/turns", json={"text": "make it 5 m tall"}, headers=headers)
    ).json()
    assert huge["kind"] == "refusal" and "400 mm" in huge["reply"] and huge["spec"]["height"] == 200.0
    assert huge["version"] == settled["version"]


async def test_turns_at_once_on_one_session_never_500(cloud: CloudHarness) -> None:
    headers = cloud.admin_headers
    design = (await cloud.client.post("/api/designs", json={"text": "a 20 mm box"}, headers=headers)).json()
    url = f"/api/designs/{design['id']}/turns"
    texts = ["1 mm taller", "2 mm taller", "3 mm taller", "4 mm taller"]
    answers = await asyncio.gather(
        *(cloud.client.post(url, json={"text": t}, headers=headers) for t in texts)
    )
    assert {a.status_code for a in answers} <= {200, 409}, [a.text for a in answers]
    done = [a.json() for a in answers if a.status_code == 200]
    assert done
    detail = (await cloud.client.get(f"/api/designs/{design['id']}", headers=headers)).json()
    assert [t["seq"] for t in detail["turns"]] == list(range(1, 2 * (len(done) + 1) + 1))
    assert detail["version"] == 1 + len(done)
    assert detail["spec"]["height"] == 20.0 + sum(
        int(t[0]) for t, a in zip(texts, answers, strict=True) if a.status_code == 200
    )


async def test_another_organisations_design_is_a_404(cloud: CloudHarness) -> None:
    design = (
        await cloud.client.post("/api/designs", json={"text": "a 20 mm box"}, headers=cloud.admin_headers)
    ).json()
    _, other = await cloud.add_organisation("Org B")
    url = f"/api/designs/{design['id']}"
    for method, path, body in (
        ("GET", url, None),
        ("POST", f"{url}/turns", {"text": "taller"}),
        ("POST", f"{url}/undo", None),
        ("GET", f"{url}/model.stl", None),
        ("GET", f"{url}/model.3mf", None),
        ("GET", f"{url}/preview.png", None),
        ("POST", f"{url}/print", {}),
        ("POST", f"{url}/publish", {"title": "not mine"}),
    ):
        response = await cloud.client.request(method, path, json=body, headers=other)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "design_not_found"
    assert (await cloud.client.get("/api/designs", headers=other)).json() == []
    mine = (await cloud.client.get("/api/designs", headers=cloud.admin_headers)).json()
    assert [d["id"] for d in mine] == [design["id"]]


async def test_a_published_design_is_bought_and_downloaded_as_its_stl(cloud: CloudHarness) -> None:
    seller = cloud.admin_headers
    design = (
        await cloud.client.post("/api/designs", json={"text": "a 30 mm box with a lid"}, headers=seller)
    ).json()
    terms = {"title": "Little box", "description": "Fits a ring.", "price_cents": 250, "tags": ["box"]}
    bad = await cloud.client.post(
        f"/api/designs/{design['id']}/publish", json={**terms, "licence": "stolen"}, headers=seller
    )
    assert bad.status_code == 422, bad.text
    published = await cloud.client.post(f"/api/designs/{design['id']}/publish", json=terms, headers=seller)
    assert published.status_code == 201, published.text
    listing = published.json()
    assert listing["title"] == "Little box" and listing["price_cents"] == 250
    assert listing["design_spec"]["family"] == "box"
    assert listing["file"]["name"].endswith(".stl")

    _, buyer = await cloud.add_organisation("Buyer Org")
    download = f"/api/market/listings/{listing['id']}/download"
    assert (await cloud.client.get(download, headers=buyer)).status_code == 403
    bought = await cloud.client.post(
        f"/api/market/listings/{listing['id']}/purchase",
        json={"card_token": "tok_visa"},
        headers={**buyer, "Idempotency-Key": "design-purchase-1"},
    )
    assert bought.status_code in (200, 201), bought.text
    got = await cloud.client.get(download, headers=buyer)
    assert got.status_code == 200, got.text
    lo, hi = _stl_bounds(got.content)
    expected = build(spec_model(listing["design_spec"]))
    assert np.allclose([lo, hi], np.array(expected.bounds), atol=0.01)


async def test_bad_bodies_are_422(cloud: CloudHarness) -> None:
    headers = cloud.admin_headers
    for body in ({"text": ""}, {"lang": "fr"}, {"text": "x" * 2001}, {"colour": "red"}, {"text": 12}):
        response = await cloud.client.post("/api/designs", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "validation_error"
    design = (await cloud.client.post("/api/designs", json={}, headers=headers)).json()
    url = f"/api/designs/{design['id']}"
    bodies: list[dict[str, Any]] = [{}, {"text": ""}, {"text": "a pot", "extra": 1}]
    for body in bodies:
        response = await cloud.client.post(f"{url}/turns", json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
    response = await cloud.client.post(f"{url}/print", json={"nozzle_mm": -1}, headers=headers)
    assert response.status_code == 422
    assert (await cloud.client.get("/api/designs/not%20an%20id", headers=headers)).status_code == 422


async def test_the_preview_is_rendered_once_in_the_background(cloud: CloudHarness) -> None:
    headers = cloud.admin_headers
    text = {"text": "a pen holder 9 cm tall with 3 compartments"}
    design = (await cloud.client.post("/api/designs", json=text, headers=headers)).json()
    url = f"/api/designs/{design['id']}/preview.png"
    first = await cloud.client.get(url, headers=headers)
    assert first.status_code == 202, first.text
    assert first.headers["retry-after"] == "1" and first.json()["status"] in ("pending", "rendering")
    for _ in range(100):
        response = await cloud.client.get(url, headers=headers)
        if response.status_code == 200:
            break
        assert response.status_code == 202
        await asyncio.sleep(0.05)
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert response.content[:8] == b"\x89PNG\r\n\x1a\n"
    again = (await cloud.client.post("/api/designs", json=text, headers=headers)).json()  # the same spec
    cached = await cloud.client.get(f"/api/designs/{again['id']}/preview.png", headers=headers)
    assert cached.status_code == 200 and cached.content == response.content
    metrics = (await cloud.client.get("/metrics")).text
    assert 'threedpot_cloud_design_renders_total{status="done"} 1.0' in metrics


async def test_a_design_that_cannot_print_is_refused_with_the_reason(cloud: CloudHarness) -> None:
    headers = cloud.admin_headers
    text = {"text": "a 6 cm box with 0.8 mm walls"}
    design = (await cloud.client.post("/api/designs", json=text, headers=headers)).json()
    assert design["spec"]["wall"] == 0.8 and not design["printability"]["ok"]
    response = await cloud.client.post(f"/api/designs/{design['id']}/print", json={}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "not_printable"
    assert "wall" in response.json()["message"]
    _, viewer = await cloud.add_user("viewer")
    refused = await cloud.client.post(f"/api/designs/{design['id']}/print", json={}, headers=viewer)
    assert refused.status_code == 403


@pytest.mark.slow
async def test_a_conversation_ends_as_a_print_completed_on_a_virtual_printer(
    tmp_path: Path,
    cloud_process: CloudProcess,
    virtual_printer_process: Callable[..., PrinterProcess],
    agent_process: Callable[..., AgentProcess],
) -> None:
    """Conversation → mesh → slice → job → dispatched through a real agent → completed."""
    async with httpx.AsyncClient(base_url=cloud_process.url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {await asyncio.to_thread(cloud_process.token)}"}
        code = (await http.post("/api/printers/claim-codes", json={"name": "studio"}, headers=headers)).json()
        link = tmp_path / "tty-studio"
        virtual_printer_process("--link", str(link), "--baud", "0")
        agent = await asyncio.to_thread(
            agent_process,
            serial_port=link,
            data_dir=tmp_path / "agent",
            enrol=code["code"],
            cloud_url=cloud_process.url,
            material="PLA",
            nozzle=0.4,
        )
        await asyncio.to_thread(agent.wait_connected)
        pid = (await http.get("/api/printers", headers=headers)).json()[0]["id"]
        assert (
            await http.post(f"/api/printers/{pid}/commands/queue-start", headers=headers)
        ).status_code == 202

        design = (await http.post("/api/designs", json={"text": "a 2 cm box"}, headers=headers)).json()
        url = f"/api/designs/{design['id']}"
        turn = (await http.post(f"{url}/turns", json={"text": "without a lid"}, headers=headers)).json()
        assert turn["spec"] == {**design["spec"], "lid": False} and turn["printability"]["ok"]
        assert {k: turn["spec"][k] for k in ("width", "depth", "height")} == {"width": 20.0, "depth": 20.0,
                                                                          "height": 20.0}  # fmt: skip
        queued = await http.post(f"{url}/print", json={"printer_id": pid}, headers=headers)
        assert queued.status_code == 201, queued.text
        job = queued.json()
        assert job["filename"].endswith(".gcode") and job["est_print_s"] > 0 and job["filament_mm"] > 0
        assert job["requirements"]["material"] == "PLA" and job["requirements"]["nozzle_mm"] == 0.4

        deadline = time.monotonic() + 150
        while time.monotonic() < deadline:
            job = (await http.get(f"/api/jobs/{job['id']}", headers=headers)).json()
            if job["state"] in ("completed", "failed", "cancelled"):
                break
            await asyncio.sleep(0.5)
        assert job["state"] == "completed", (job, agent.log_text()[-3000:], cloud_process.log_text()[-3000:])
        assert job["printer_id"] == pid
        assert [e["event_type"] for e in job["history"]][-1] == "job.completed"
