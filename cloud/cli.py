"""Command-line entry points of the cloud: ``serve`` (uvicorn) and ``migrate``.

``3dpot cloud`` calls ``serve``; ``python -m cloud`` runs ``main`` (argparse) for the same thing
without the umbrella CLI::

    python -m cloud [serve] [--config cloud.toml] [--host 127.0.0.1] [--port 8080]
    python -m cloud migrate [--config cloud.toml]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import uvicorn
from pydantic import ValidationError

from cloud.db import migrate as migrate_database
from cloud.keys import KeyFileError
from cloud.main import create_app
from cloud.settings import CloudSettings, load_settings

log = logging.getLogger(__name__)

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8080
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    if not logging.getLogger().handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT)
    # httpx logs every request's full URL at INFO; outgoing URLs may carry credentials (webhook URLs,
    # signed links), so only its warnings are kept (tests/security/test_secrets_in_logs.py).
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(logging.WARNING)


def serve(settings_file: Path | None = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Run the cloud under uvicorn until SIGINT/SIGTERM (startup migrates the database)."""
    configure_logging()
    settings = load_settings(settings_file)
    app = create_app(settings)
    config = uvicorn.Config(app, host=host, port=port, proxy_headers=True, log_config=None, access_log=False)
    uvicorn.Server(config).run()


def migrate(settings_file: Path | None = None) -> None:
    """Bring the configured database to the newest revision, then return."""
    configure_logging()
    settings: CloudSettings = load_settings(settings_file)
    asyncio.run(migrate_database(settings.database_url))
    log.info("database is at the newest revision")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m cloud", description="The 3D Pot fleet cloud.")
    parser.add_argument("command", nargs="?", choices=("serve", "migrate"), default="serve")
    parser.add_argument("--config", type=Path, default=None, help="settings file (TOML)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "migrate":
            migrate(args.config)
        else:
            serve(args.config, args.host, args.port)
    except (FileNotFoundError, ValidationError, KeyFileError) as exc:
        print(f"3dpot cloud: {exc}", file=sys.stderr)
        return 2
    return 0
