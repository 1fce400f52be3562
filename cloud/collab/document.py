"""The pure core of a shared document: a flat JSON object, changed by server-ordered ops.

A document is ``state`` (``{"height": 120, "wall_mm": 2.4}``: keys to JSON scalars) and ``version``
(how many ops it has taken). An op is a ``set`` of keys: each value replaces the key's value, a
``null`` removes the key. The server is the single sequencer: it applies ops one at a time and gives
each the next version (contiguous: 1, 2, 3 …). Conflicts resolve last-writer-wins per key *in server
order* — an op's ``base_version`` (what its author had seen) is kept for the log but does not change
how it applies — so every replica that applies the same ops in version order reaches the same state,
whatever interleaving the clients produced.

No I/O here: the WebSocket shell (``cloud.collab.room``) persists and broadcasts what this returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

Scalar = str | int | float | bool | None
"""A value of a document key (``None`` in an op removes the key)."""

MAX_KEYS: Final = 256
"""At most this many keys in one document."""
MAX_KEY_CHARS: Final = 64
MAX_STRING_CHARS: Final = 2_000
MAX_SET_KEYS: Final = 64
"""At most this many keys in one op."""


class InvalidOp(ValueError):
    """An op (or an initial state) that breaks the document's rules; the message says which."""


def check_key(key: object) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
        raise InvalidOp(f"a key is a string of 1 to {MAX_KEY_CHARS} characters, not {key!r}"[:200])
    if any(ord(ch) < 0x20 for ch in key):
        raise InvalidOp("a key must not contain control characters")
    return key


def check_value(key: str, value: object, *, allow_null: bool) -> Scalar:
    if value is None:
        if not allow_null:
            raise InvalidOp(f"{key}: null is not a value here")
        return None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidOp(f"{key}: numbers must be finite")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            raise InvalidOp(f"{key}: strings are at most {MAX_STRING_CHARS} characters")
        return value
    raise InvalidOp(f"{key}: values are strings, numbers, booleans or null (the document is flat)")


def check_set(values: Mapping[str, object]) -> dict[str, Scalar]:
    """``values`` as a valid op ``set`` (1 to ``MAX_SET_KEYS`` keys); ``InvalidOp`` otherwise."""
    if not values:
        raise InvalidOp("an op sets at least one key")
    if len(values) > MAX_SET_KEYS:
        raise InvalidOp(f"an op sets at most {MAX_SET_KEYS} keys")
    return {check_key(k): check_value(k, v, allow_null=True) for k, v in values.items()}


def check_state(values: Mapping[str, object]) -> dict[str, Scalar]:
    """``values`` as a valid document state (no nulls, at most ``MAX_KEYS`` keys)."""
    if len(values) > MAX_KEYS:
        raise InvalidOp(f"a document has at most {MAX_KEYS} keys")
    return {check_key(k): check_value(k, v, allow_null=False) for k, v in values.items()}


@dataclass(frozen=True, slots=True)
class AppliedOp:
    """An op as the server ordered it."""

    version: int
    user_id: str
    set: dict[str, Scalar]
    client_op_id: str | None = None
    base_version: int = 0


def apply_set(state: dict[str, Scalar], values: Mapping[str, Scalar]) -> None:
    """Apply one op's ``set`` to ``state`` in place (``None`` removes the key)."""
    for key, value in values.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value


def replay(state: Mapping[str, Scalar], ops: Iterable[AppliedOp]) -> dict[str, Scalar]:
    """``state`` with ``ops`` applied in version order (what every client computes)."""
    result = dict(state)
    for op in sorted(ops, key=lambda o: o.version):
        apply_set(result, op.set)
    return result


@dataclass(slots=True)
class Document:
    """One document's state and version; ``apply`` is the sequencer."""

    state: dict[str, Scalar] = field(default_factory=dict)
    version: int = 0

    def apply(
        self,
        user_id: str,
        values: Mapping[str, object],
        *,
        base_version: int = 0,
        client_op_id: str | None = None,
    ) -> AppliedOp:
        """Order and apply one op; ``InvalidOp`` (and no change) when it is not acceptable.

        ``base_version`` must not be ahead of the document (a client cannot have seen the future).
        """
        if base_version < 0 or base_version > self.version:
            raise InvalidOp(f"base_version {base_version} is not in 0..{self.version}")
        checked = check_set(values)
        new_keys = {k for k, v in checked.items() if v is not None and k not in self.state}
        if len(self.state) + len(new_keys) > MAX_KEYS:
            raise InvalidOp(f"a document has at most {MAX_KEYS} keys")
        apply_set(self.state, checked)
        self.version += 1
        return AppliedOp(
            version=self.version,
            user_id=user_id,
            set=checked,
            client_op_id=client_op_id,
            base_version=base_version,
        )

    def catch_up(self, op: AppliedOp) -> None:
        """Apply an op another sequencer ordered (it must be the next version)."""
        if op.version != self.version + 1:
            raise InvalidOp(f"op version {op.version} does not follow {self.version}")
        apply_set(self.state, op.set)
        self.version = op.version
