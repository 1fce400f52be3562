"""Forged credentials and guessing, against the cloud app on a real database (SQLite and PostgreSQL).

Extends tests/integration/test_cloud_auth.py (payload edit, wrong key, alg=none, expired on /api/me):
here every kind of forged JWT is tried on a data route too, including tokens signed with the real
secret whose claims lie (another organisation, a role the user does not have, the wrong audience);
guessing API keys and claim codes is either rate-limited or hopeless, and a spoofed
``X-Forwarded-For`` does not reset the limiters.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest

from cloud.users.tokens import ALGORITHM
from tests.fixtures.cloud import ADMIN_EMAIL, CloudFactory, CloudHarness

pytestmark = [pytest.mark.security, pytest.mark.integration]


def b64(data: dict[str, Any] | bytes) -> str:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims_of(cloud: CloudHarness, headers: dict[str, str]) -> dict[str, Any]:
    token = headers["Authorization"].removeprefix("Bearer ")
    out: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return out


def sign(cloud: CloudHarness, claims: dict[str, Any], **header: Any) -> str:
    secret = cloud.services.secrets.jwt_secret.get_secret_value()
    return jwt.encode(claims, secret, algorithm=header.pop("alg", ALGORITHM), headers=header or None)


def forgeries(cloud: CloudHarness, mine: dict[str, Any], org_b: dict[str, Any]) -> dict[str, str]:
    """Tokens that must all be refused with 401, by name."""
    now = int(time.time())
    secret = cloud.services.secrets.jwt_secret.get_secret_value()
    good = sign(cloud, mine)
    header, payload, signature = good.split(".")
    return {
        "payload-edited": f"{header}.{b64({**mine, 'org': org_b['org']})}.{signature}",
        "signature-cut": f"{header}.{payload}.",
        "alg-none": f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "alg-none-upper": f"{b64({'alg': 'NONE', 'typ': 'JWT'})}.{payload}.",
        "wrong-key": jwt.encode(mine, "x" * 48, algorithm=ALGORITHM),
        "hs512-same-secret": jwt.encode(mine, secret, algorithm="HS512"),
        "expired": sign(cloud, {**mine, "iat": now - 7200, "exp": now - 120}),
        "not-yet-valid-nbf": sign(cloud, {**mine, "nbf": now + 3600}),
        "issued-in-the-future": sign(cloud, {**mine, "iat": now + 3600, "exp": now + 7200}),
        "wrong-audience": sign(cloud, {**mine, "aud": "someone-else"}),
        "wrong-issuer": sign(cloud, {**mine, "iss": "evil"}),
        "not-an-access-token": sign(cloud, {**mine, "typ": "refresh"}),
        "no-org": sign(cloud, {k: v for k, v in mine.items() if k != "org"}),
        "no-exp": sign(cloud, {k: v for k, v in mine.items() if k != "exp"}),
        "unknown-role": sign(cloud, {**mine, "role": "root"}),
        # Signed with the real secret, but the user is in org A and the claim says org B (and back).
        "my-user-other-org": sign(cloud, {**mine, "org": org_b["org"]}),
        "other-user-my-org": sign(cloud, {**mine, "sub": org_b["sub"]}),
        "kid-injection": sign(cloud, {**mine, "org": org_b["org"]}, kid="../../../dev/null"),
        "garbage": "a.b.c",
        "empty-bearer": "",
    }


async def test_every_forged_token_is_401_on_every_kind_of_route(cloud: CloudHarness) -> None:
    _, b_headers = await cloud.add_organisation("Org B")
    mine = claims_of(cloud, cloud.admin_headers)
    org_b = claims_of(cloud, b_headers)
    assert (
        await cloud.client.get("/api/me", headers={"Authorization": f"Bearer {sign(cloud, mine)}"})
    ).status_code == 200
    for name, token in forgeries(cloud, mine, org_b).items():
        for method, url in (("GET", "/api/me"), ("GET", "/api/jobs"), ("POST", "/api/printers/claim-codes")):
            response = await cloud.client.request(
                method,
                url,
                headers={"Authorization": f"Bearer {token}"},
                json={} if method == "POST" else None,
            )
            assert response.status_code == 401, (name, url, response.status_code, response.text)
            assert response.json()["code"] in ("token_invalid", "token_expired", "unauthenticated"), name


async def test_a_validly_signed_role_claim_does_not_raise_the_users_role(cloud: CloudHarness) -> None:
    """The role comes from the user row, not from the token: a viewer's token re-signed with
    ``role: admin`` (a leaked secret, or a token minted before a demotion) is still a viewer."""
    _, viewer = await cloud.add_user("viewer")
    claims = claims_of(cloud, viewer)
    escalated = {"Authorization": f"Bearer {sign(cloud, {**claims, 'role': 'admin'})}"}
    assert (await cloud.client.get("/api/me", headers=escalated)).json()["role"] == "viewer"
    assert (await cloud.client.get("/api/users", headers=escalated)).status_code == 403
    assert (
        await cloud.client.post("/api/api-keys", json={"name": "x"}, headers=escalated)
    ).status_code == 403


async def test_guessing_api_keys_is_hopeless_and_does_not_lock_out_the_real_key(cloud: CloudHarness) -> None:
    """API keys are not rate-limited: each holds 256 random bits (43 URL-safe characters) and is found
    by an exact SHA-256 match, so guessing cannot succeed — and a limiter would let anyone lock a
    farm's integrations out by sending wrong keys. Wrong keys all get the same 401."""
    created = await cloud.client.post("/api/api-keys", json={"name": "ci"}, headers=cloud.admin_headers)
    key = created.json()["key"]
    mark, _prefix, secret = key[:4], key[4:12], key[13:]
    assert mark == "3dp_" and len(secret) >= 43, key
    bodies = set()
    for guess in (
        key[:-1] + ("A" if key[-1] != "A" else "B"),
        key[:12],
        key + "x",
        key.upper(),
        "3dp_",
        "x" * 5000,
    ):
        for headers in ({"X-Api-Key": guess}, {"Authorization": f"Bearer {guess}"}):
            response = await cloud.client.get("/api/me", headers=headers)
            assert response.status_code == 401, (guess[:20], response.text)
            if guess.startswith("3dp_"):
                bodies.add(response.text)
    assert len(bodies) == 1, bodies
    for _ in range(50):
        await cloud.client.get("/api/me", headers={"X-Api-Key": "3dp_wrongwrong_" + "A" * 43})
    assert (await cloud.client.get("/api/me", headers={"X-Api-Key": key})).status_code == 200


async def test_a_spoofed_forwarded_for_does_not_reset_the_login_and_enrolment_limiters(
    cloud_factory: CloudFactory,
) -> None:
    """The limiters key on the peer address; ``X-Forwarded-For`` is honoured only by uvicorn and only
    from a proxy on 127.0.0.1 (its default ``forwarded_allow_ips``), never by the app itself."""
    cloud = await cloud_factory(
        login_rate_limit={"burst": 3, "per_minute": 1}, enrol_rate_limit={"burst": 3, "per_minute": 1}
    )
    login = [
        await cloud.client.post(
            "/api/auth/login",
            json={"email": ADMIN_EMAIL, "password": f"guess-{i}"},
            headers={"X-Forwarded-For": f"203.0.113.{i}", "X-Real-IP": f"203.0.113.{i}"},
        )
        for i in range(6)
    ]
    assert [r.status_code for r in login] == [401, 401, 401, 429, 429, 429]
    enrol = [
        await cloud.client.post(
            "/api/enrol",
            json={"claim_code": f"AAAA-AAAA-AAAA-AA{i:02d}"},
            headers={"X-Forwarded-For": f"198.51.100.{i}", "Forwarded": f"for=198.51.100.{i}"},
        )
        for i in range(6)
    ]
    assert [r.status_code for r in enrol] == [400, 400, 400, 429, 429, 429]
    # Lower-case, spaced, unhyphenated: the same wrong code in another spelling is another guess, limited too.
    assert (
        await cloud.client.post("/api/enrol", json={"claim_code": "aaaa aaaa aaaa aa99"})
    ).status_code == 429
