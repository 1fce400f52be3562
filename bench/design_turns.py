"""Design studio turn latency: median and p95 with the built-in engine over the scripted conversations.

    .venv/bin/python -m bench.design_turns [--rounds 20] [--no-http]

Each round replays the six-turn English and Portuguese conversations (the ones
``tests/integration/test_design_api.py`` checks) in fresh sessions of a real cloud app on SQLite:

  * ``service``: in-process through ``cloud.designs.service`` — understand, apply, build and check the
    model, append the turns, compute the printability, commit;
  * ``http``: the same through the HTTP API (ASGI, no socket), auth and serialisation included.

The model cache is emptied before every round, so every first sight of a spec builds its mesh.
Goal (issue "Design studio"): p95 < 200 ms. Results also go to ``.bench/design_turns.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Final

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

from cloud.designs import service
from cloud.designs.lifecycle import DesignsRuntime
from cloud.designs.meshes import MeshCache
from cloud.main import create_app
from cloud.services import CloudServices
from cloud.settings import CloudSettings
from cloud.users.models import Organisation

GOAL_P95_MS: Final = 200.0
RESULTS: Final = Path(".bench/design_turns.json")
ADMIN: Final = {"email": "bench@example.com", "password": "a long bench passphrase"}
SCRIPTS: Final = {
    "en": [
        "I want a round pot 12 cm tall with drainage holes",
        "make it 2 cm taller",
        "add a saucer",
        "80 mm wide with 3 mm walls",
        "undo",
        "no saucer, and make it hexagonal",
    ],
    "pt": [
        "Quero um vaso de 12 cm com furos de drenagem e pratinho",
        "2 cm mais alto",
        "parede de 3 mm e três furos",
        "desfazer",
        "sem pratinho",
        "altura de 15 cm, quadrado",
    ],
}


def _figures(samples_ms: list[float]) -> dict[str, float]:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "turns": len(ordered),
        "median_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(p95, 2),
        "max_ms": round(ordered[-1], 2),
    }


async def _service_round(
    app_designs: DesignsRuntime, app_services: CloudServices, org_id: str
) -> list[float]:
    samples: list[float] = []
    for script in SCRIPTS.values():
        async with app_services.database.session() as session:
            design = service.new_design(org_id, None, None, None, app_services.now())
            session.add(design)
            await session.commit()
            for text in script:
                started = time.perf_counter()
                outcome = await service.take_turn(
                    session, app_designs, design, text, app_services.now(), undo=text in ("undo", "desfazer")
                )
                await service.turn_result(app_designs, design, outcome)
                await session.commit()
                samples.append((time.perf_counter() - started) * 1000)
    return samples


async def _http_round(client: httpx.AsyncClient, headers: dict[str, str]) -> list[float]:
    samples: list[float] = []
    for script in SCRIPTS.values():
        design = (await client.post("/api/designs", json={}, headers=headers)).json()
        for text in script:
            started = time.perf_counter()
            response = await client.post(
                f"/api/designs/{design['id']}/turns", json={"text": text}, headers=headers
            )
            samples.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    return samples


async def run(rounds: int, http: bool) -> dict[str, dict[str, float]]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-design-turns-"))
    settings = CloudSettings(
        data_dir=workdir,
        bootstrap_admin={"email": ADMIN["email"], "password": ADMIN["password"]},  # type: ignore[arg-type]
        password_hashing={"time_cost": 1, "memory_kib": 1024, "parallelism": 1},  # type: ignore[arg-type]
        jobs={"dispatcher": False},  # type: ignore[arg-type]
    )
    app = create_app(settings)
    results: dict[str, dict[str, float]] = {}
    async with app.router.lifespan_context(app):
        designs = app.state.designs
        assert isinstance(designs, DesignsRuntime)
        async with app.state.services.database.session() as session:
            org_id = (await session.execute(select(Organisation.id))).scalars().first()
        assert org_id is not None
        samples: list[float] = []
        for _ in range(rounds):
            designs.meshes = MeshCache()
            samples += await _service_round(designs, app.state.services, org_id)
        results["service"] = _figures(samples)
        if http:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                token = (await client.post("/api/auth/login", json=ADMIN)).json()["access_token"]
                headers = {"Authorization": f"Bearer {token}"}
                samples = []
                for _ in range(rounds):
                    designs.meshes = MeshCache()
                    samples += await _http_round(client, headers)
                results["http"] = _figures(samples)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--no-http", action="store_true", help="measure through the service only")
    args = parser.parse_args()
    results = asyncio.run(run(args.rounds, not args.no_http))
    table = Table(title=f"Design studio turns, built-in engine (goal: p95 < {GOAL_P95_MS:g} ms)")
    for column in ("path", "turns", "median ms", "p95 ms", "max ms", "goal"):
        table.add_column(column)
    for path, figures in results.items():
        ok = figures["p95_ms"] < GOAL_P95_MS
        table.add_row(
            path,
            f"{figures['turns']:.0f}",
            f"{figures['median_ms']:.1f}",
            f"{figures['p95_ms']:.1f}",
            f"{figures['max_ms']:.1f}",
            "met" if ok else "MISSED",
        )
    Console().print(table)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
