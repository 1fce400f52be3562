"""The shared document's pure core: sequencing, validation, and convergence of clients that apply
server-ordered ops (their own at their ack's version) under random interleavings."""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import pytest

from cloud.collab import protocol
from cloud.collab.document import (
    MAX_KEYS,
    AppliedOp,
    Document,
    InvalidOp,
    Scalar,
    apply_set,
    check_state,
    replay,
)


def test_ops_get_contiguous_versions_and_last_writer_wins_per_key() -> None:
    doc = Document({"height": 100, "wall": 2})
    first = doc.apply("u1", {"height": 120}, base_version=0, client_op_id="a")
    second = doc.apply("u2", {"height": 90, "infill": 0.2}, base_version=0, client_op_id="b")
    third = doc.apply("u1", {"wall": None}, base_version=1)
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert doc.state == {"height": 90, "infill": 0.2}
    assert replay({"height": 100, "wall": 2}, [third, first, second]) == doc.state


@pytest.mark.parametrize(
    ("values", "base", "why"),
    [
        ({}, 0, "at least one key"),
        ({"a": [1, 2]}, 0, "flat"),
        ({"a": {"b": 1}}, 0, "flat"),
        ({"": 1}, 0, "key"),
        ({"k" * 65: 1}, 0, "key"),
        ({"a": float("nan")}, 0, "finite"),
        ({"a": "x" * 2001}, 0, "strings"),
        ({"a": 1}, 5, "base_version"),
        ({"a": 1}, -1, "base_version"),
        ({f"k{i}": i for i in range(65)}, 0, "at most"),
    ],
)
def test_an_invalid_op_is_refused_and_changes_nothing(values: dict[str, Any], base: int, why: str) -> None:
    doc = Document({"a": 0})
    with pytest.raises(InvalidOp, match=why):
        doc.apply("u", values, base_version=base)
    assert (doc.state, doc.version) == ({"a": 0}, 0)


def test_the_key_limit_counts_new_keys_only() -> None:
    doc = Document(check_state({f"k{i}": i for i in range(MAX_KEYS)}))
    doc.apply("u", {"k0": "changed", "k1": None})  # existing keys: fine
    doc.apply("u", {"new": 1})  # k1 was removed, so one new key fits
    with pytest.raises(InvalidOp, match="at most"):
        doc.apply("u", {"another": 1})


def test_catch_up_refuses_a_gap() -> None:
    doc = Document()
    doc.catch_up(AppliedOp(1, "u", {"a": 1}))
    with pytest.raises(InvalidOp):
        doc.catch_up(AppliedOp(3, "u", {"a": 3}))
    assert (doc.state, doc.version) == ({"a": 1}, 1)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("x" * (protocol.MAX_MESSAGE_BYTES + 1), "too_large"),
        ("{not json", "not_json"),
        ("[1, 2]", "not_json"),
        ('{"type": "dance"}', "invalid"),
        ('{"type": "op", "set": {"a": 1}}', "invalid"),
        ('{"type": "op", "base_version": -1, "client_op_id": "c", "set": {}}', "invalid"),
        ('{"type": "chat", "text": ""}', "invalid"),
        ('{"type": "hello", "since_version": 1, "extra": true}', "invalid"),
    ],
)
def test_malformed_frames_are_refused_with_a_code(frame: str, code: str) -> None:
    with pytest.raises(protocol.BadMessage) as caught:
        protocol.parse_client(frame)
    assert caught.value.code == code


def test_valid_frames_parse() -> None:
    op = protocol.parse_client('{"type":"op","base_version":3,"client_op_id":"c1","set":{"h":1}}')
    assert isinstance(op, protocol.OpMessage) and op.set == {"h": 1}
    hello = protocol.parse_client('{"type":"hello","since_version":4}')
    assert isinstance(hello, protocol.Hello) and hello.since_version == 4


# -- convergence under random interleavings -------------------------------------------------------


@dataclass
class SimClient:
    """A client as the protocol asks: a confirmed state applied in version order, plus its own
    unacknowledged edits on top (optimistic UI)."""

    name: str
    confirmed: dict[str, Scalar] = field(default_factory=dict)
    version: int = 0
    pending: dict[str, dict[str, Scalar]] = field(default_factory=dict)
    held: dict[int, dict[str, Scalar]] = field(default_factory=dict)
    outbox: deque[tuple[str, dict[str, Scalar], int]] = field(default_factory=deque)
    inbox: deque[dict[str, Any]] = field(default_factory=deque)
    counter: int = 0

    def edit(self, values: dict[str, Scalar]) -> None:
        self.counter += 1
        op_id = f"{self.name}-{self.counter}"
        self.pending[op_id] = values
        self.outbox.append((op_id, values, self.version))

    def receive(self, message: dict[str, Any]) -> None:
        if message["type"] == "ack":
            self.held[message["version"]] = self.pending.pop(message["client_op_id"])
        else:
            self.held[message["version"]] = message["set"]
        while self.version + 1 in self.held:
            self.version += 1
            apply_set(self.confirmed, self.held.pop(self.version))

    def view(self) -> dict[str, Scalar]:
        shown = dict(self.confirmed)
        for values in self.pending.values():
            apply_set(shown, values)
        return shown


def _random_set(rng: random.Random) -> dict[str, Scalar]:
    keys = rng.sample(["height", "width", "wall", "infill", "label"], rng.randint(1, 3))
    return {
        k: rng.choice([None, rng.randint(0, 300), rng.random(), f"v{rng.randint(0, 9)}", True]) for k in keys
    }


@pytest.mark.parametrize("seed", range(60))
def test_clients_converge_whatever_the_interleaving(seed: int) -> None:
    rng = random.Random(seed)
    server = Document({"height": 100})
    clients = [SimClient(f"c{i}", confirmed={"height": 100}) for i in range(rng.randint(2, 4))]
    log: list[AppliedOp] = []
    budget = rng.randint(5, 40)
    while budget > 0 or any(c.outbox or c.inbox for c in clients):
        client = rng.choice(clients)
        action = rng.random()
        if action < 0.3 and budget > 0:
            client.edit(_random_set(rng))
            budget -= 1
        elif action < 0.6 and client.outbox:
            op_id, values, base = client.outbox.popleft()  # the server takes ops in arrival order
            op = server.apply(client.name, values, base_version=base, client_op_id=op_id)
            log.append(op)
            client.inbox.append({"type": "ack", "client_op_id": op_id, "version": op.version})
            for other in clients:
                if other is not client:
                    other.inbox.append({"type": "op", "version": op.version, "set": op.set})
        elif client.inbox:
            # frames to one client arrive in order, but clients read at their own pace
            client.receive(client.inbox.popleft())
    assert [op.version for op in log] == list(range(1, len(log) + 1))
    assert replay({"height": 100}, log) == server.state
    for client in clients:
        assert not client.pending and not client.held
        assert client.version == server.version
        assert client.confirmed == server.state
        assert client.view() == server.state
