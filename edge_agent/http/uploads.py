"""Receiving an OctoPrint-style multipart upload as a stream, straight into the agent's files folder.

The body is fed chunk by chunk to python-multipart's streaming parser (FastAPI's `UploadFile` would spool
the whole file first). The `file` part goes into a temporary file *inside* the files folder (so the core
takes it over with a rename), hashed with SHA-256 as it arrives; it is refused with 413 the moment it
passes the limit, and refused early when its name is not acceptable, before its bytes are read. Any
failure, cancellation included, removes the temporary file.

    file      the G-code (a part with a `filename`)        required, one only, not empty
    print     "true" to start it at once                   optional (OctoPrint's booleans)
    select    "true" to make it the next job               optional
    path      OctoPrint folder, flattened into the name    optional
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from edge_agent.errors import Invalid
from edge_agent.http.names import TEMP_PREFIX, sanitise_filename

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FIELD_MAX_BYTES = 64 * 1024
MAX_PARTS = 16
FRAMING_SLACK_BYTES = 1024 * 1024
"""What a body may carry beyond the file itself: the other fields, part headers and boundaries."""

_TRUES = frozenset({"true", "yes", "y", "1", "on"})


class UploadRejected(Exception):
    """The upload was refused before the core saw it; `reason` labels the rejected-uploads counter."""

    def __init__(self, message: str, *, reason: str, status_code: int = 400, code: str = "bad_args") -> None:
        super().__init__(message)
        self.reason = reason
        self.status_code = status_code
        self.code = code


def _too_large(limit_bytes: int) -> UploadRejected:
    return UploadRejected(
        f"the upload is larger than this printer host accepts ({limit_bytes} bytes)",
        reason="too_large",
        status_code=413,
        code="storage_full",
    )


def _bad(message: str) -> UploadRejected:
    return UploadRejected(message, reason="bad_multipart")


@dataclass(frozen=True, slots=True)
class ReceivedUpload:
    filename: str  # as the client sent it (decoded, not yet sanitised)
    temp_path: Path  # inside the files folder; the caller hands it to the core or discards it
    size_bytes: int
    sha256: str
    fields: Mapping[str, str]

    def flag(self, name: str) -> bool:
        return self.fields.get(name, "").strip().lower() in _TRUES

    def discard(self) -> None:
        self.temp_path.unlink(missing_ok=True)


class _Receiver:
    """python-multipart callbacks: collects the text fields, queues file bytes for the writer."""

    def __init__(self, into: Path, max_file_bytes: int) -> None:
        self.into = into
        self.max_file_bytes = max_file_bytes
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.temp_path: Path | None = None
        self.out: IO[bytes] | None = None
        self.size_bytes = 0
        self.hasher = hashlib.sha256()
        self.pending: list[bytes] = []
        self.finished = False
        self._parts = 0
        self._disposition = b""
        self._header_name = b""
        self._header_value = b""
        self._kind: str | None = None  # "file", a field name, or None (ignored part)
        self._value = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self.on_part_begin,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_end": self.on_end,
        }

    def on_part_begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise _bad(f"too many parts (at most {MAX_PARTS})")
        self._disposition, self._kind, self._value = b"", None, bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.strip().lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name, self._header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        name = options.get(b"name")
        if name is None:
            raise _bad("a part has no Content-Disposition name")
        if name != b"file":
            self._kind = name.decode("utf-8", errors="replace")
            return
        if b"filename" not in options:
            raise _bad("the 'file' part must be a file (it has no filename)")
        if self.temp_path is not None:
            raise _bad("send one file per upload")
        try:
            filename = options[b"filename"].decode("utf-8")
        except UnicodeDecodeError:
            raise UploadRejected("the file name is not valid UTF-8", reason="bad_name") from None
        try:
            sanitise_filename(filename)  # refuse before reading the bytes; the folder comes later
        except Invalid as exc:
            raise UploadRejected(str(exc), reason="bad_name") from None
        fd, temp = tempfile.mkstemp(dir=self.into, prefix=TEMP_PREFIX, suffix=".part")
        self.filename, self.temp_path, self.out = filename, Path(temp), os.fdopen(fd, "wb")
        self._kind = "file"

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._kind == "file":
            self.size_bytes += end - start
            if self.size_bytes > self.max_file_bytes:
                raise _too_large(self.max_file_bytes)
            self.pending.append(data[start:end])
        elif self._kind is not None:
            if len(self._value) + end - start > FIELD_MAX_BYTES:
                raise _bad(f"field {self._kind!r} is longer than {FIELD_MAX_BYTES} bytes")
            self._value += data[start:end]

    def on_part_end(self) -> None:
        if self._kind is not None and self._kind != "file":
            try:
                self.fields[self._kind] = self._value.decode("utf-8")
            except UnicodeDecodeError:
                raise _bad(f"field {self._kind!r} is not valid UTF-8") from None

    def on_end(self) -> None:
        self.finished = True

    def write_pending(self) -> None:
        """Runs in a worker thread: hash and write what the parser produced from the last chunk."""
        assert self.out is not None
        data = b"".join(self.pending)
        self.pending.clear()
        self.hasher.update(data)
        self.out.write(data)

    def close(self, *, sync: bool) -> None:
        if self.out is not None:
            if sync:
                self.out.flush()
                os.fsync(self.out.fileno())
            self.out.close()


async def receive_upload(request: Request, *, into: Path, max_file_bytes: int) -> ReceivedUpload:
    """Parse the request's multipart body; the `file` part lands in a temporary file inside `into`."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise _bad("send the file as multipart/form-data with a 'file' part")
    boundary = params.get(b"boundary")
    if not boundary:
        raise _bad("the multipart Content-Type has no boundary")
    max_body_bytes = max_file_bytes + FRAMING_SLACK_BYTES
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body_bytes:
        raise _too_large(max_file_bytes)
    receiver = _Receiver(into, max_file_bytes)
    try:
        parser = MultipartParser(boundary, receiver.callbacks())
        received = 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body_bytes:
                raise _too_large(max_file_bytes)
            parser.write(chunk)
            if receiver.pending:
                await asyncio.to_thread(receiver.write_pending)
        parser.finalize()
        if not receiver.finished:
            raise _bad("the multipart body ended before its closing boundary")
        if receiver.temp_path is None or receiver.filename is None:
            raise UploadRejected("the upload has no 'file' part", reason="no_file")
        if receiver.size_bytes == 0:
            raise UploadRejected("the file is empty", reason="empty_file")
        await asyncio.to_thread(receiver.close, sync=True)
    except BaseException as exc:
        receiver.close(sync=False)
        if receiver.temp_path is not None:
            receiver.temp_path.unlink(missing_ok=True)
        if isinstance(exc, FormParserError):
            raise _bad(f"malformed multipart body: {exc}") from None
        if isinstance(exc, ClientDisconnect):
            raise UploadRejected("the client went away mid-upload", reason="disconnected") from None
        raise
    return ReceivedUpload(
        filename=receiver.filename,
        temp_path=receiver.temp_path,
        size_bytes=receiver.size_bytes,
        sha256=receiver.hasher.hexdigest(),
        fields=receiver.fields,
    )
