"""The fleet cloud service (FastAPI)."""
