"""Operations on a running or stopped cloud: backup and restore."""
