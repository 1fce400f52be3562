"""Domain refusals of the agent, raised by the core and turned into an HTTP status or an MQTT ack
at one seam each (`edge_agent.http`, `edge_agent.commands`).

    AgentRefusal                 the request was understood and refused; nothing changed
    ├── NotReady                 the printer or queue is not in a state that allows it (409)
    ├── Conflict                 it clashes with what exists (a file being printed, a started job) (409)
    ├── NotFound                 no such job or file (404)
    ├── Invalid                  a value breaks a rule (bad file name, target over the limit) (400)
    └── StorageFull              the upload or download does not fit (413 / 507)
"""

from __future__ import annotations


class AgentRefusal(Exception):
    """Base of every domain refusal; the message is for a person."""

    status_code = 409
    code = "conflict"


class NotReady(AgentRefusal):
    code = "not_ready"


class Conflict(AgentRefusal):
    code = "conflict"


class NotFound(AgentRefusal):
    status_code = 404
    code = "not_found"


class Invalid(AgentRefusal):
    status_code = 400
    code = "bad_args"


class StorageFull(AgentRefusal):
    status_code = 413
    code = "storage_full"
