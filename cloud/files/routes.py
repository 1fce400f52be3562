"""The download route agents fetch job files from, by signed URL (no user credentials).

Keys served here are one path segment (``check_key`` without ``/``). A single
``Range: bytes=<first>-[<last>]`` is honoured so an agent resumes a broken download (206).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import Response, StreamingResponse
from fastapi.security import APIKeyQuery

from cloud.errors import CloudError, ErrorBody, Forbidden, NotFound, Unauthenticated, error_responses
from cloud.files import Files
from cloud.files.storage import FileMissing, check_key
from cloud.files.urls import DOWNLOAD_PATH
from cloud.services import Services

router = APIRouter()

_RANGE: Final = re.compile(r"^bytes=(\d+)-(\d*)$")
_BINARY: Final[dict[str, Any]] = {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
}

signed_url_scheme = APIKeyQuery(
    name="sig",
    auto_error=False,
    scheme_name="signedUrl",
    description="the HMAC signature of a download link made by the cloud (with its `expires`)",
)


class RangeNotSatisfiable(CloudError):
    status = 416
    code = "range_not_satisfiable"


def get_files(request: Request) -> Files:
    files = getattr(request.app.state, "files", None)
    if not isinstance(files, Files):
        raise TypeError("app.state.files is not set: the jobs lifespan has not started")
    return files


FilesDep = Annotated[Files, Depends(get_files)]


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """``(first, last)`` inclusive for a satisfiable single range; None for no (or an ignored) range."""
    if not value:
        return None
    match = _RANGE.match(value.strip())
    if match is None:
        return None  # a multi-range or other unit: ignored, the whole file is sent (RFC 9110)
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else size - 1
    if first >= size or last < first:
        raise RangeNotSatisfiable(f"range {value!r} is outside the file of {size} bytes")
    return first, min(last, size - 1)


async def _limited(chunks: AsyncIterator[bytes], length: int) -> AsyncIterator[bytes]:
    remaining = length
    try:
        async for chunk in chunks:
            if remaining <= 0:
                break
            piece = chunk[:remaining]
            remaining -= len(piece)
            yield piece
    finally:
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()


@router.get(
    DOWNLOAD_PATH + "/{key}",
    tags=["files"],
    summary="Download a stored file by signed URL (agents fetch job G-code here)",
    description=(
        "The URL comes from a job offer: `expires` (Unix seconds) and `sig` (HMAC-SHA256) are the"
        " credential, no user authentication is needed. An expired or wrong signature is a 403."
        " A single `Range: bytes=N-` (or `N-M`) is honoured with a 206."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"description": "the file", "content": _BINARY},
        206: {"description": "the requested byte range", "content": _BINARY},
        **error_responses(401, 403, 404, 422),
        416: {"model": ErrorBody, "description": "Range not satisfiable"},
    },
)
async def download_file(
    files: FilesDep,
    services: Services,
    key: Annotated[str, Path(description="the stored file's key", max_length=300)],
    sig: Annotated[str | None, Depends(signed_url_scheme)],
    expires: Annotated[int | None, Query(ge=0, le=2**40, description="Unix seconds")] = None,
    range_header: Annotated[str | None, Header(alias="Range", include_in_schema=False)] = None,
) -> Response:
    if sig is None or expires is None:
        raise Unauthenticated("this route needs a signed link (expires and sig)", code="signature_missing")
    try:
        check_key(key)
    except ValueError:
        raise Forbidden("the download link's signature is not valid", code="signature_invalid") from None
    problem = files.signer.check(key, expires, sig, services.now())
    if problem is not None:
        raise Forbidden(problem, code="signature_invalid")
    size = await files.storage.size(key)
    if size is None:
        raise NotFound("the file no longer exists", code="file_not_found")
    wanted = _parse_range(range_header, size)
    first, last = wanted if wanted is not None else (0, size - 1)
    try:
        read = await files.storage.read(key, first)
    except FileMissing:
        raise NotFound("the file no longer exists", code="file_not_found") from None
    length = max(0, last - first + 1)
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(length), "Cache-Control": "no-store"}
    status = 200
    if wanted is not None:
        status = 206
        headers["Content-Range"] = f"bytes {first}-{last}/{read.size}"
    return StreamingResponse(
        _limited(read.chunks, length),
        status_code=status,
        media_type="application/octet-stream",
        headers=headers,
    )
