"""System tests: the whole farm as processes, under faults (chaos) and over time (soak)."""
