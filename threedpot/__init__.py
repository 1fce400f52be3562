"""3D Pot: the `3dpot` command line, the one place that composes every deployable."""

__version__ = "0.1.0"
