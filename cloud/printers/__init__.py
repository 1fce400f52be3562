"""Printers of an organisation, claim codes and enrolment, and the Mosquitto credentials they get."""
