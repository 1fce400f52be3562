"""Mosquitto password hashes and the ACL text (the real broker is in the integration test)."""

from __future__ import annotations

import base64

import pytest

from cloud.printers.mosquitto_auth import hash_password, render_acl, render_password_file, verify_password

# Written by `mosquitto_passwd -b` (Mosquitto 2.0.11) for the password "secret".
MOSQUITTO_PASSWD_LINE = (
    "user1:$7$101$bs7/6E3nVU0SbA5q$+kpB9UuKFJYnGYRDhKTC5v8oYRupk6C3ImQeCGEP3egGPzIKvjNHN/M38lJWtAuwImnP/"
    "h0FuJPTZK5CR6J6wQ=="
)


def test_our_hash_is_what_mosquitto_passwd_writes() -> None:
    _, expected = MOSQUITTO_PASSWD_LINE.split(":", 1)
    salt = base64.b64decode(expected.split("$")[3])
    assert hash_password("secret", salt=salt) == expected
    assert verify_password(expected, "secret")
    assert not verify_password(expected, "Secret")


@pytest.mark.parametrize("bad", ["", "plain", "$6$abc$def", "$7$x$y$z", "$7$101$!!$!!"])
def test_malformed_hashes_never_verify(bad: str) -> None:
    assert not verify_password(bad, "secret")


def test_fresh_salts_differ() -> None:
    first, second = hash_password("pw"), hash_password("pw")
    assert first != second
    assert verify_password(first, "pw") and verify_password(second, "pw")


def test_password_file_is_sorted_and_refuses_bad_usernames() -> None:
    text = render_password_file([("pr-b", "$7$h2"), ("cloud-ingest", "$7$h0"), ("pr-a", "$7$h1")])
    assert text == "cloud-ingest:$7$h0\npr-a:$7$h1\npr-b:$7$h2\n"
    for bad in ("a:b", "a\nb", " a", ""):
        with pytest.raises(ValueError):
            render_password_file([(bad, "$7$h")])


def test_acl_is_the_contracts() -> None:
    acl = render_acl("fleet/v1", "cloud-ingest").splitlines()
    rules = [line.split() for line in acl if line and not line.startswith("#")]
    assert rules == [
        ["pattern", "write", "fleet/v1/%u/status"],
        ["pattern", "write", "fleet/v1/%u/info"],
        ["pattern", "write", "fleet/v1/%u/state"],
        ["pattern", "write", "fleet/v1/%u/tele"],
        ["pattern", "write", "fleet/v1/%u/evt"],
        ["pattern", "write", "fleet/v1/%u/ack"],
        ["pattern", "read", "fleet/v1/%u/cmd/#"],
        ["pattern", "write", "homeassistant/device/%u/config"],
        ["pattern", "read", "homeassistant/status"],
        ["user", "cloud-ingest"],
        ["topic", "read", "fleet/v1/#"],
        ["topic", "write", "fleet/v1/+/cmd/#"],
    ]
