"""Alembic revisions of the cloud database (run by ``cloud.db.migrate``)."""
