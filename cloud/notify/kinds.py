"""What a notification can be about, through which channels, and how it reads (pure).

``Kind`` values are the ``kind`` of events, webhooks (``X-3DPot-Event``) and preferences.
``title(kind, payload)`` is the one line a person reads in the app, the e-mail subject and the
webhook's ``title``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final


class Kind(StrEnum):
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    PRINTER_ERROR = "printer.error"
    PRINTER_OFFLINE = "printer.offline"
    SALE = "sale"
    REVIEW = "review"


class Channel(StrEnum):
    """Per-user channels (webhooks are per organisation: each endpoint lists its kinds)."""

    IN_APP = "in_app"
    EMAIL = "email"


DEFAULT_CHANNELS: Final = {Channel.IN_APP: True, Channel.EMAIL: False}
"""What a user gets until they choose: every kind in the app, no e-mail."""


def default_preferences() -> dict[str, dict[str, bool]]:
    return {kind.value: {c.value: on for c, on in DEFAULT_CHANNELS.items()} for kind in Kind}


def merge_preferences(
    stored: Mapping[str, Any] | None, change: Mapping[str, Mapping[str, bool]] | None = None
) -> dict[str, dict[str, bool]]:
    """Defaults, overlaid with ``stored`` then ``change`` (unknown kinds and channels are ignored)."""
    result = default_preferences()
    for layer in (stored or {}, change or {}):
        for kind, channels in layer.items():
            if kind not in result or not isinstance(channels, Mapping):
                continue
            for channel, on in channels.items():
                if channel in result[kind] and isinstance(on, bool):
                    result[kind][channel] = on
    return result


def wants(preferences: Mapping[str, Mapping[str, bool]], kind: str, channel: Channel) -> bool:
    return bool(preferences.get(kind, {}).get(channel.value, False))


def _minutes(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _who(payload: Mapping[str, Any]) -> str:
    return str(payload.get("printer_name") or payload.get("printer_id") or "a printer")


def title(kind: str, payload: Mapping[str, Any]) -> str:
    """The one-line text of a notification."""
    job = str(payload.get("filename") or payload.get("job_id") or "a job")
    if kind == Kind.JOB_COMPLETED:
        return f"Job {job} completed on {_who(payload)}"
    if kind == Kind.JOB_FAILED:
        reason = payload.get("reason")
        return f"Job {job} failed on {_who(payload)}" + (f": {reason}" if reason else "")
    if kind == Kind.PRINTER_ERROR:
        message = payload.get("message")
        return f"Printer {_who(payload)} reported an error" + (f": {message}" if message else "")
    if kind == Kind.PRINTER_OFFLINE:
        times = payload.get("times")
        if isinstance(times, int) and times > 1:
            window = float(payload.get("window_s") or 0)
            return f"Printer {_who(payload)} went offline {times} times in {_minutes(window)}"
        return f"Printer {_who(payload)} went offline"
    if kind == Kind.SALE:
        return f"Sold {payload.get('listing_title') or payload.get('listing_id') or 'a listing'}"
    if kind == Kind.REVIEW:
        rating = payload.get("rating")
        what = payload.get("listing_title") or payload.get("listing_id") or "a listing"
        return f"New review of {what}" + (f" ({rating}/5)" if rating is not None else "")
    return kind
