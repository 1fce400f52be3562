"""The printer-host daemon (job queue, supervisor, MQTT link, OctoPrint-compatible API)."""
