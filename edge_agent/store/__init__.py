"""The agent's durable state in SQLite (WAL): jobs, processed commands, the event outbox, counters."""

from edge_agent.store.database import Database, open_database
from edge_agent.store.files import FileStore
from edge_agent.store.jobs import BED_CLEAR, QUEUE_PAUSED, JobStore
from edge_agent.store.outbox import Outbox, OutboxEvent
from edge_agent.store.processed import ProcessedCommands

__all__ = [
    "BED_CLEAR",
    "QUEUE_PAUSED",
    "Database",
    "FileStore",
    "JobStore",
    "Outbox",
    "OutboxEvent",
    "ProcessedCommands",
    "open_database",
]
