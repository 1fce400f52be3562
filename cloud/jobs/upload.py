"""A streaming ``multipart/form-data`` reader for job uploads: the file goes to its sink as it arrives.

Starlette's own form parsing spools a whole upload to a temporary file before the route runs,
so neither the size cap nor hashing would happen while receiving. Here the request body is fed
chunk by chunk to python-multipart's push parser; the one file part (field ``file``) is written
to a ``Sink`` (storage or a local temporary file) that counts, hashes and caps it, and the small
text fields are collected (capped too). The sink is opened when the file part's headers arrive,
so ``open_sink`` can refuse by file name (e.g. a mesh when no slicer is available).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol, cast

from python_multipart.multipart import MultipartParser, parse_options_header

from cloud.errors import BadRequest

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FILE_FIELD: Final = "file"
MAX_FIELDS_BYTES: Final = 64 * 1024
MAX_PARTS: Final = 64


class Sink(Protocol):
    async def write(self, data: bytes) -> None: ...


@dataclass(slots=True)
class UploadForm:
    filename: str | None = None
    fields: dict[str, list[str]] = field(default_factory=dict)
    sink: Sink | None = None


@dataclass(slots=True)
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    text: bytearray = field(default_factory=bytearray)
    opened: bool = False


class _Events:
    """Collects the parser's (synchronous) callbacks so they can be handled asynchronously."""

    def __init__(self) -> None:
        self.queue: list[tuple[str, bytes]] = []
        self._field = b""
        self._value = b""

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": lambda: self.queue.append(("begin", b"")),
            "on_part_data": lambda data, start, end: self.queue.append(("data", bytes(data[start:end]))),
            "on_part_end": lambda: self.queue.append(("end", b"")),
            "on_header_field": self._on_field,
            "on_header_value": self._on_value,
            "on_header_end": self._on_header_end,
        }

    def _on_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _on_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _on_header_end(self) -> None:
        self.queue.append(("header", self._field.lower() + b"\x00" + self._value))
        self._field = b""
        self._value = b""


async def _file_sink(form: UploadForm, part: _Part, open_sink: Callable[[str], Awaitable[Sink]]) -> Sink:
    if part.opened and form.sink is not None:
        return form.sink
    if form.sink is not None or part.filename is None:
        raise BadRequest("send exactly one file", code="too_many_files")
    part.opened = True
    form.filename = part.filename
    form.sink = await open_sink(part.filename)
    return form.sink


async def read_upload(
    content_type: str | None,
    body: AsyncIterator[bytes],
    open_sink: Callable[[str], Awaitable[Sink]],
) -> UploadForm:
    """Parse ``body``; ``open_sink(filename)`` is awaited for the file part. ``BadRequest`` when malformed."""
    kind, options = parse_options_header(content_type or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest("send the job as multipart/form-data with a 'file' part", code="not_multipart")
    events = _Events()
    parser = MultipartParser(boundary, cast("MultipartCallbacks", events.callbacks()))
    form = UploadForm()
    part: _Part | None = None
    parts = 0
    fields_bytes = 0
    async for chunk in body:
        parser.write(chunk)
        for kind_name, data in events.queue:
            if kind_name == "begin":
                parts += 1
                if parts > MAX_PARTS:
                    raise BadRequest(f"at most {MAX_PARTS} form fields", code="too_many_fields")
                part = _Part()
            elif kind_name == "header" and part is not None:
                name, _, value = data.partition(b"\x00")
                part.headers[name] = value
                if name == b"content-disposition":
                    _, disposition = parse_options_header(value)
                    part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
                    raw_filename = disposition.get(b"filename")
                    part.filename = raw_filename.decode("utf-8", "replace") if raw_filename else None
            elif kind_name == "data" and part is not None:
                if part.name == FILE_FIELD and part.filename is not None:
                    sink = await _file_sink(form, part, open_sink)
                    await sink.write(data)
                else:
                    fields_bytes += len(data)
                    if fields_bytes > MAX_FIELDS_BYTES:
                        raise BadRequest("the form fields are too large", code="fields_too_large")
                    part.text += data
            elif kind_name == "end" and part is not None:
                if part.name == FILE_FIELD and part.filename is not None:
                    await _file_sink(form, part, open_sink)  # an empty file has no data event
                elif part.name:
                    form.fields.setdefault(part.name, []).append(part.text.decode("utf-8", "replace"))
                part = None
        events.queue.clear()
    parser.finalize()
    if form.sink is None:
        raise BadRequest("the form has no 'file' part with a file name", code="file_missing")
    return form
