"""Prometheus and Grafana files: valid for promtool, and every metric they use is one a running agent
or cloud really exports (a renamed metric would otherwise leave a silent alert and an empty panel)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from firmware_bridge.virtual.process import PrinterProcess
from tests.fixtures.agent import AgentProcess
from tests.fixtures.broker import MosquittoBroker, in_ci
from tests.fixtures.cloud_process import CloudProcess

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2] / "dashboards"
ALERTS = ROOT / "prometheus" / "alerts.yml"
CONFIG = ROOT / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "grafana" / "dashboards" / "fleet.json"
PROMQL_WORDS = {
    "sum", "by", "rate", "increase", "max", "min", "avg", "and", "or", "unless", "on", "histogram_quantile",
    "clamp_min", "le", "without", "ignoring", "group_left", "group_right", "count", "bool", "offset",
}  # fmt: skip


def promtool() -> str:
    binary = shutil.which("promtool")
    if binary is None:
        if in_ci():
            pytest.fail("promtool missing (Debian package prometheus; .ci/run installs it)")
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return binary


def test_promtool_accepts_the_rules_and_the_config(tmp_path: Path) -> None:
    tool = promtool()
    rules = subprocess.run([tool, "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False)
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS" in rules.stdout
    config = tmp_path / "prometheus.yml"  # the rule file's path inside the container, made local
    config.write_text(CONFIG.read_text().replace("/etc/prometheus/alerts.yml", str(ALERTS)))
    checked = subprocess.run(
        [tool, "check", "config", str(config)], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def expressions() -> list[str]:
    exprs = re.findall(r"expr: \|?\n?((?:.+\n)+?)\s+(?:for|labels):", ALERTS.read_text())
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "prometheus"
        exprs += [t["expr"] for t in panel["targets"]]
    return exprs


def metric_names(expr: str) -> set[str]:
    without_labels = re.sub(r"\{[^}]*\}", " ", expr)
    without_strings = re.sub(r'"[^"]*"', " ", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", " ", without_strings)
    without_groupings = re.sub(r"\b(?:by|on|without|ignoring)\s*\([^)]*\)", " ", without_ranges)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_groupings))
    return {w for w in words if w not in PROMQL_WORDS and "_" in w}


def exported(text: str) -> set[str]:
    """Series names a scrape can show: from the samples, and from the declared families (a labelled
    family with no sample yet still declares its type)."""
    names = {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }
    suffixes = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)$", text, flags=re.MULTILINE):
        names.add(family)
        names.update(family + suffix for suffix in suffixes.get(kind, ()))
    return names


def test_every_metric_in_the_alerts_and_the_dashboard_is_exported(
    tmp_path: Path,
    virtual_printer_process: Callable[..., PrinterProcess],
    agent_process: Callable[..., AgentProcess],
    cloud_process: CloudProcess,
    mosquitto: MosquittoBroker,
) -> None:
    link = tmp_path / "ttyDASH"
    virtual_printer_process("--link", str(link), "--baud", "0")
    agent = agent_process(serial_port=link, mqtt_url=mosquitto.url, printer_id="dash1")
    agent.wait_connected()
    agent.post("/api/agent/queue/pause")  # a command, so the labelled families have a sample
    names = exported(agent.get("/metrics").text) | exported(httpx.get(f"{cloud_process.url}/metrics").text)
    used = set().union(*(metric_names(e) for e in expressions()))
    assert used, "the expressions name metrics"
    missing = sorted(used - names - {"up"})
    assert not missing, f"used in alerts/dashboard but exported by nobody: {missing}"
