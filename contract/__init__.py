"""Edge <-> cloud wire contract: pydantic models of every MQTT payload and the job manifest."""
