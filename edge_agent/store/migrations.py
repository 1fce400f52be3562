"""Schema migrations, applied in order; `PRAGMA user_version` records how far a database has come.

Append a new entry to change the schema; never edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: counters, processed commands, event outbox, jobs
    """
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    CREATE TABLE processed_commands (
        cmd_id      TEXT PRIMARY KEY,
        ack_json    TEXT NOT NULL,
        received_ms INTEGER NOT NULL
    );
    CREATE INDEX processed_commands_received ON processed_commands (received_ms);
    CREATE TABLE outbox (
        seq        INTEGER PRIMARY KEY,
        event_id   TEXT NOT NULL UNIQUE,
        ts_ms      INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        job_id     TEXT,
        data_json  TEXT NOT NULL,
        published  INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX outbox_unpublished ON outbox (published, seq);
    CREATE TABLE jobs (
        job_id          TEXT PRIMARY KEY,
        revision        INTEGER NOT NULL DEFAULT 0,
        filename        TEXT NOT NULL,
        file_path       TEXT NOT NULL,
        sha256          TEXT NOT NULL,
        size_bytes      INTEGER NOT NULL,
        state           TEXT NOT NULL,
        priority        INTEGER NOT NULL DEFAULT 0,
        position        REAL NOT NULL,
        source          TEXT NOT NULL,
        last_acked_line INTEGER NOT NULL DEFAULT -1,
        resume_json     TEXT,
        message         TEXT NOT NULL DEFAULT '',
        created_ms      INTEGER NOT NULL,
        updated_ms      INTEGER NOT NULL
    );
    CREATE INDEX jobs_queue ON jobs (state, priority DESC, position);
    """,
    # 2: uploaded files; what a job needs to report progress and to resume after a crash or reset
    """
    CREATE TABLE files (
        name        TEXT PRIMARY KEY,
        size_bytes  INTEGER NOT NULL,
        sha256      TEXT NOT NULL,
        uploaded_ms INTEGER NOT NULL
    );
    ALTER TABLE jobs ADD COLUMN est_print_s REAL;
    ALTER TABLE jobs ADD COLUMN filament_mm REAL;
    ALTER TABLE jobs ADD COLUMN start_policy TEXT NOT NULL DEFAULT 'when_ready';
    ALTER TABLE jobs ADD COLUMN not_after_ms INTEGER;
    ALTER TABLE jobs ADD COLUMN print_duration_s REAL NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN bytes_acked INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN layer INTEGER;
    ALTER TABLE jobs ADD COLUMN total_layers INTEGER;
    ALTER TABLE jobs ADD COLUMN stream_start_line INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN acked_line_no INTEGER NOT NULL DEFAULT -1;
    ALTER TABLE jobs ADD COLUMN started_ms INTEGER;
    ALTER TABLE jobs ADD COLUMN finished_ms INTEGER
    """,
)
