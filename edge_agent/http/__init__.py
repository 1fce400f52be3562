"""The agent's local HTTP API: the OctoPrint-compatible subset slicers call, the agent's own queue API
under `/api/agent/`, and `/metrics`. Build it with `create_app`, serve it with `HttpServer` / `serve`;
check `requires_key(host)` before serving without an API key."""

from edge_agent.http.app import create_app
from edge_agent.http.auth import requires_key
from edge_agent.http.names import sanitise_filename
from edge_agent.http.server import HttpServer, serve

__all__ = ["HttpServer", "create_app", "requires_key", "sanitise_filename", "serve"]
