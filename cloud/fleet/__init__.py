"""The cloud's fleet resource (see its modules)."""
