"""Taking in a ``job.offer``: the pure checks on its manifest, then the verified, resumable download."""

from edge_agent.offers.checks import check_offer
from edge_agent.offers.download import (
    DownloadError,
    DownloadFailedError,
    HashMismatchError,
    SizeMismatchError,
    StorageFullError,
    download,
)

__all__ = [
    "DownloadError",
    "DownloadFailedError",
    "HashMismatchError",
    "SizeMismatchError",
    "StorageFullError",
    "check_offer",
    "download",
]
