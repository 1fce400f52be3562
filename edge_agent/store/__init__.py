"""The agent's durable state in SQLite (WAL): jobs, processed commands, the event outbox, counters."""

from edge_agent.store.database import Database, open_database
from edge_agent.store.outbox import Outbox, OutboxEvent
from edge_agent.store.processed import ProcessedCommands

__all__ = ["Database", "Outbox", "OutboxEvent", "ProcessedCommands", "open_database"]
