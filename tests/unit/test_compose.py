"""docker-compose.yml and the Dockerfile, checked without a Docker engine: every file they reference
exists, every variable is documented in .env.example, every THREEDPOT_CLOUD_* variable is a real
setting, every service has a health check, references between services (depends_on, nginx upstreams,
Prometheus targets) point at services that exist and at the ports they listen on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from cloud.settings import CloudSettings

ROOT = Path(__file__).parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    return values


def test_every_variable_used_is_documented(compose: dict[str, Any]) -> None:
    used = set(re.findall(r"\$\{([A-Z0-9_]+)\}", COMPOSE.read_text()))
    assert used, "the compose file takes its secrets from the environment"
    assert used <= set(env_example()), f"undocumented: {sorted(used - set(env_example()))}"


def setting_exists(model: type[BaseModel], path: list[str]) -> bool:
    name, rest = path[0].lower(), path[1:]
    field = model.model_fields.get(name)
    if field is None:
        return False
    if not rest:
        return True
    annotation = field.annotation
    candidates = [a for a in getattr(annotation, "__args__", (annotation,)) if isinstance(a, type)]
    return any(issubclass(c, BaseModel) and setting_exists(c, rest) for c in candidates)


def test_every_cloud_variable_is_a_real_setting(compose: dict[str, Any]) -> None:
    names = set(re.findall(r"\b(THREEDPOT_CLOUD_[A-Z0-9_]+)\b", COMPOSE.read_text()))
    assert names
    for name in sorted(names):
        path = name.removeprefix("THREEDPOT_CLOUD_").split("__")
        assert setting_exists(CloudSettings, path), f"{name} is not a cloud setting"


def test_every_service_has_a_health_check_and_its_dependencies_exist(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {
        "cloud-1",
        "cloud-2",
        "worker",
        "postgres",
        "mosquitto",
        "minio",
        "prometheus",
        "grafana",
        "nginx",
        "agent",
    } <= set(services)
    for name, service in services.items():
        check = service.get("healthcheck", {})
        if name == "migrate":
            assert check.get("disable") is True and service.get("restart") == "no"
        else:
            assert check.get("test"), f"{name} has no health check"
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_every_mounted_file_and_build_input_exists(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in compose["volumes"], f"{name} uses undeclared volume {source}"
    dockerfile = (ROOT / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY ") and "--from=" not in line:
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"


def test_published_ports_are_unique(compose: dict[str, Any]) -> None:
    published = [p.split(":")[0] for s in compose["services"].values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))


def listening_port(service: dict[str, Any]) -> int | None:
    command = service.get("command") or []
    if "--port" in command:
        return int(command[command.index("--port") + 1])
    return None


def test_nginx_and_prometheus_point_at_services_and_their_ports(compose: dict[str, Any]) -> None:
    services = compose["services"]
    nginx = (ROOT / "deploy" / "nginx" / "nginx.conf").read_text()
    prometheus = yaml.safe_load((ROOT / "dashboards" / "prometheus" / "prometheus.yml").read_text())
    targets = re.findall(r"server ([a-z0-9-]+):(\d+)", nginx)
    for job in prometheus["scrape_configs"]:
        for static in job.get("static_configs", []):
            targets += [tuple(t.split(":")) for t in static["targets"] if not t.startswith("localhost")]
    assert targets
    for host, port in targets:
        assert host in services, f"{host} is not a service"
        assert listening_port(services[host]) == int(port), f"{host} does not listen on {port}"
