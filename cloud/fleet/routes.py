"""Routes of the fleet: summary, printers with their latest state, events, telemetry, live feed (SSE).

Every route is scoped to the caller's organisation through the ``printers`` table: another
organisation's printer is a 404. Any role may read (viewers included).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Final

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials

from cloud.errors import BadRequest, CloudError, error_responses
from cloud.fields import Identifier, Material, Tag
from cloud.fleet import queries
from cloud.fleet.feed import FeedHub, sse_response
from cloud.fleet.schemas import (
    EventPage,
    FleetPrinter,
    FleetSummary,
    PrinterPage,
    Resolution,
    TelemetrySeries,
)
from cloud.fleet.summary_cache import SummaryCache
from cloud.services import DbSession, Services
from cloud.users.auth import CurrentUser, Principal, api_key_scheme, authenticate, bearer_scheme

router = APIRouter(prefix="/api/fleet", tags=["fleet"])

Pid = Annotated[Identifier, Path(description="a printer id")]
MAX_TELEMETRY_ITEMS: Final = 10_000
DEFAULT_TELEMETRY_WINDOW: Final = timedelta(hours=1)
_READ = (401, 422)


class FeedUnavailable(CloudError):
    status = 503
    code = "feed_unavailable"


def get_feed(request: Request) -> FeedHub:
    hub = getattr(request.app.state, "fleet_feed", None)
    if not isinstance(hub, FeedHub):
        raise FeedUnavailable("the live feed is not running (the app's lifespan has not started)")
    return hub


Feed = Annotated[FeedHub, Depends(get_feed)]


@router.get(
    "/summary",
    summary="Counts of my organisation's printers by state, online/offline, printing, errors",
    response_model=FleetSummary,
    responses=error_responses(401),
)
async def fleet_summary(
    principal: CurrentUser, session: DbSession, services: Services, request: Request
) -> FleetSummary:
    cache = getattr(request.app.state, "fleet_summary_cache", None)
    if not isinstance(cache, SummaryCache):
        cache = SummaryCache(services.settings.fleet.summary_cache_s)
        request.app.state.fleet_summary_cache = cache
    return await cache.get(principal.org_id, lambda: queries.summary(session, principal.org_id))


@router.get(
    "/printers",
    summary="My organisation's printers with their latest state, filtered and paginated",
    description="Ordered by name. `state=unknown` selects printers that never sent a state snapshot.",
    response_model=PrinterPage,
    responses=error_responses(*_READ),
)
async def fleet_printers(
    principal: CurrentUser,
    session: DbSession,
    state: Annotated[
        str | None,
        Query(
            pattern="^(standby|printing|paused|complete|cancelled|error|unknown)$",
            description="printer_state, or 'unknown'",
        ),
    ] = None,
    tag: Annotated[Tag | None, Query(description="printers carrying this tag")] = None,
    material: Annotated[Material | None, Query(description="loaded material (case-insensitive)")] = None,
    online: Annotated[bool | None, Query(description="connected to the broker or not")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="skip this many")] = 0,
) -> PrinterPage:
    filters = queries.PrinterFilters(state=state, tag=tag, material=material, online=online)
    items, total = await queries.list_printers(session, principal.org_id, filters, limit=limit, offset=offset)
    return PrinterPage(items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/printers/{pid}",
    summary="One printer with its latest state",
    response_model=FleetPrinter,
    responses=error_responses(401, 404, 422),
)
async def fleet_printer(pid: Pid, principal: CurrentUser, session: DbSession) -> FleetPrinter:
    return await queries.get_printer(session, principal.org_id, pid)


@router.get(
    "/printers/{pid}/events",
    summary="A printer's events in seq order, paginated by seq",
    response_model=EventPage,
    responses=error_responses(401, 404, 422),
)
async def fleet_printer_events(
    pid: Pid,
    principal: CurrentUser,
    session: DbSession,
    after_seq: Annotated[int, Query(ge=-1, le=2**62, description="only events with a greater seq")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
) -> EventPage:
    await queries.require_printer(session, principal.org_id, pid)
    items = await queries.events(session, pid, after_seq=after_seq, limit=limit)
    next_after = items[-1].seq if len(items) == limit else None
    return EventPage(items=items, next_after_seq=next_after)


@router.get(
    "/printers/{pid}/telemetry",
    summary="A printer's telemetry history, raw (recent hours) or per minute (weeks)",
    description=(
        "Raw samples are kept for `fleet.raw_retention_s` (default 6 h), then rolled up into per-minute"
        " rows (mean/max per heater, last target, last progress) kept for `fleet.minute_retention_s`."
        " Default window: the hour before `until` (default now)."
    ),
    response_model=TelemetrySeries,
    responses=error_responses(400, 401, 404, 422),
)
async def fleet_printer_telemetry(
    pid: Pid,
    principal: CurrentUser,
    services: Services,
    session: DbSession,
    since: Annotated[datetime | None, Query(description="from (inclusive), ISO 8601")] = None,
    until: Annotated[datetime | None, Query(description="to (exclusive), ISO 8601; default now")] = None,
    resolution: Annotated[
        Resolution, Query(description="raw samples or per-minute rollups")
    ] = Resolution.RAW,
    limit: Annotated[int, Query(ge=1, le=MAX_TELEMETRY_ITEMS, description="at most this many")] = 3600,
) -> TelemetrySeries:
    end = _aware(until) if until is not None else services.now()
    start = _aware(since) if since is not None else end - DEFAULT_TELEMETRY_WINDOW
    if start >= end:
        raise BadRequest("since must be before until", code="bad_window")
    await queries.require_printer(session, principal.org_id, pid)
    if resolution is Resolution.RAW:
        raw = await queries.raw_telemetry(session, pid, start, end, limit + 1)
        truncated = len(raw) > limit
        return TelemetrySeries(
            printer_id=pid,
            resolution=resolution,
            since=start,
            until=end,
            items=raw[:limit],
            truncated=truncated,
        )
    minutes = await queries.minute_telemetry(session, pid, start, end, limit + 1)
    return TelemetrySeries(
        printer_id=pid,
        resolution=resolution,
        since=start,
        until=end,
        items=minutes[:limit],
        truncated=len(minutes) > limit,
    )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise BadRequest("give times with a timezone (e.g. 2026-01-01T00:00:00Z)", code="naive_datetime")
    return moment


async def stream_principal(
    services: Services,
    session: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
    access_token: Annotated[
        str | None,
        Query(max_length=4096, description="the access token, for EventSource (which cannot set headers)"),
    ] = None,
) -> Principal:
    if bearer is None and not api_key and access_token:
        bearer = HTTPAuthorizationCredentials(scheme="Bearer", credentials=access_token)
    principal = await authenticate(services, session, bearer, api_key)
    await session.close()  # the stream may last hours: do not hold a pooled connection
    return principal


@router.get(
    "/stream",
    summary="Live feed of my organisation's printers (Server-Sent Events)",
    description=(
        "`text/event-stream`: an `event: printer` frame with a `FleetPrinter` JSON body whenever a printer's"
        " state or presence changes (whichever replica ingested it), and a `: ping` comment every 15 s."
        " Authenticate with the usual headers or `?access_token=` (EventSource cannot set headers). A client"
        " that falls too far behind is disconnected; EventSource reconnects by itself."
    ),
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "the event stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **error_responses(401, 422, 503),
    },
)
async def fleet_stream(
    principal: Annotated[Principal, Depends(stream_principal)], services: Services, feed: Feed
) -> StreamingResponse:
    heartbeat_s = services.settings.fleet.feed_heartbeat_s
    feed.check_capacity()

    return sse_response(feed.subscribe(principal.org_id), heartbeat_s)
