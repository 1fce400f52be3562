"""Schemathesis against the agent's OpenAPI (the cloud's runs in
tests/integration/test_cloud_security.py): a real `3dpot agent` process, no printer attached, every
operation with generated requests, with the key and without. No answer may be a 5xx; without the key
every ``/api`` answer is a 403."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.fixtures.agent import AgentProcess

pytestmark = [pytest.mark.security, pytest.mark.integration, pytest.mark.slow]

MAX_EXAMPLES = 15


def test_generated_requests_never_get_a_server_error_from_the_agent(agent: AgentProcess) -> None:
    spec = httpx.get(f"{agent.url}/openapi.json", timeout=10)
    assert spec.status_code == 200
    schema = schemathesis.openapi.from_url(f"{agent.url}/openapi.json")
    checked = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def no_server_error(case: Any) -> None:
            for headers in (agent.headers, {}):
                response = case.call(headers=headers, timeout=10)
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
                )
                if not headers and case.formatted_path.startswith(("/api/", "/downloads/")):
                    assert response.status_code == 403, (case.method, case.formatted_path, response.text)

        no_server_error()
        checked += 1
    assert checked >= 15, checked
    assert agent.popen is not None and agent.popen.poll() is None
    assert "Traceback" not in agent.log_text()
