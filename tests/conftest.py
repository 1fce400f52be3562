"""Shared pytest fixtures: each infrastructure piece lives in a module of tests/fixtures."""

pytest_plugins = [
    "tests.fixtures.broker",
    "tests.fixtures.cloud",
    "tests.fixtures.database",
    "tests.fixtures.printer",
    "tests.fixtures.agent",
    "tests.fixtures.cloud_process",
]
