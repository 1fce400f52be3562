"""The cloud's jobs resource (see its modules)."""
