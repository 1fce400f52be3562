"""Accounts and auth on a real database (SQLite and PostgreSQL): login, JWTs, roles, API keys, users."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from cloud.users.tokens import ALGORITHM, AUDIENCE, ISSUER
from tests.fixtures.cloud import ADMIN_EMAIL, ADMIN_PASSWORD, CloudFactory, CloudHarness

pytestmark = pytest.mark.integration


def _token(cloud: CloudHarness, **claims: object) -> str:
    me = {
        "sub": "x",
        "org": "y",
        "role": "admin",
        "iat": int(time.time()),
        "exp": int(time.time()) + 600,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "typ": "access",
    }
    me.update(claims)
    secret = cloud.services.secrets.jwt_secret.get_secret_value()
    return jwt.encode(me, secret, algorithm=ALGORITHM)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


NONE_HEADER = _b64(b'{"alg":"none","typ":"JWT"}')


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_login_returns_a_token_with_org_and_role_claims(cloud: CloudHarness) -> None:
    response = await cloud.client.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == cloud.settings.access_token_lifetime_s
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    me = (await cloud.client.get("/api/me", headers=_bearer(body["access_token"]))).json()
    assert me["kind"] == "user"
    assert me["email"] == ADMIN_EMAIL
    assert me["role"] == "admin"
    assert me["organisation"]["name"] == "Org A"
    assert claims["sub"] == me["id"]
    assert claims["org"] == me["organisation"]["id"]
    assert claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == cloud.settings.access_token_lifetime_s


async def test_login_with_a_wrong_password_or_unknown_email_is_401(cloud: CloudHarness) -> None:
    wrong = await cloud.client.post("/api/auth/login", json={"email": ADMIN_EMAIL, "password": "nope-nope"})
    unknown = await cloud.client.post(
        "/api/auth/login", json={"email": "ghost@example.com", "password": ADMIN_PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json() == unknown.json() == {"code": "bad_credentials", "message": "email or password is wrong"}
    )


async def test_failed_logins_are_rate_limited_per_email_and_address(cloud_factory: CloudFactory) -> None:
    cloud = await cloud_factory(login_rate_limit={"burst": 3, "per_minute": 1})
    bad = {"email": ADMIN_EMAIL, "password": "guess-guess"}
    statuses = [(await cloud.client.post("/api/auth/login", json=bad)).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]
    limited = await cloud.client.post("/api/auth/login", json=bad)
    assert limited.status_code == 429
    assert limited.json()["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    # Even the right password waits: that is what stops guessing.
    right = await cloud.client.post(
        "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
    )
    assert right.status_code == 429
    # Another account from the same address is not affected.
    other = await cloud.client.post("/api/auth/login", json={"email": "other@example.com", "password": "x"})
    assert other.status_code == 401
    metrics = (await cloud.client.get("/metrics")).text
    assert 'threedpot_cloud_rate_limited_total{limiter="login"} 2.0' in metrics


async def test_a_tampered_token_is_401(cloud: CloudHarness) -> None:
    token = cloud.admin_headers["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["role"] = "admin"
    claims["org"] = "someone-elses-org"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    for forged in (
        f"{header}.{forged_payload}.{signature}",
        f"{header}.{payload}.{signature[:-4]}AAAA",
        jwt.encode(claims, "a-different-secret-of-enough-length-000", algorithm="HS256"),
        NONE_HEADER + "." + payload + ".",
        "not-a-jwt",
    ):
        response = await cloud.client.get("/api/me", headers=_bearer(forged))
        assert response.status_code == 401, forged
        assert response.json()["code"] == "token_invalid"
        assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_an_expired_token_is_401(cloud: CloudHarness) -> None:
    me = (await cloud.client.get("/api/me", headers=cloud.admin_headers)).json()
    valid = _token(cloud, sub=me["id"], org=me["organisation"]["id"])
    assert (await cloud.client.get("/api/me", headers=_bearer(valid))).status_code == 200
    expired = _token(
        cloud,
        sub=me["id"],
        org=me["organisation"]["id"],
        iat=int(time.time()) - 7200,
        exp=int(time.time()) - 60,
    )
    response = await cloud.client.get("/api/me", headers=_bearer(expired))
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


async def test_no_credentials_is_401_on_every_private_route(cloud: CloudHarness) -> None:
    for method, url in [
        ("GET", "/api/me"),
        ("GET", "/api/users"),
        ("GET", "/api/api-keys"),
        ("GET", "/api/printers"),
        ("GET", "/api/printers/pr-x"),
        ("POST", "/api/printers/claim-codes"),
        ("DELETE", "/api/printers/pr-x"),
    ]:
        response = await cloud.client.request(method, url, json={} if method == "POST" else None)
        assert response.status_code == 401, (method, url, response.text)


async def test_a_token_of_a_deleted_user_stops_working(cloud: CloudHarness) -> None:
    user_id, headers = await cloud.add_user("operator")
    assert (await cloud.client.get("/api/me", headers=headers)).status_code == 200
    deleted = await cloud.client.delete(f"/api/users/{user_id}", headers=cloud.admin_headers)
    assert deleted.status_code == 204
    assert (await cloud.client.get("/api/me", headers=headers)).status_code == 401


async def test_roles_viewer_reads_operator_edits_admin_manages(cloud: CloudHarness) -> None:
    _, viewer = await cloud.add_user("viewer")
    _, operator = await cloud.add_user("operator")
    assert (await cloud.client.get("/api/printers", headers=viewer)).status_code == 200
    forbidden = await cloud.client.post("/api/printers/claim-codes", json={}, headers=viewer)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    assert (
        await cloud.client.post("/api/printers/claim-codes", json={}, headers=operator)
    ).status_code == 201
    for headers in (viewer, operator):
        assert (await cloud.client.get("/api/users", headers=headers)).status_code == 403
        new_key = await cloud.client.post("/api/api-keys", json={"name": "k"}, headers=headers)
        assert new_key.status_code == 403


async def test_users_crud_within_the_organisation(cloud: CloudHarness) -> None:
    admin = cloud.admin_headers
    created = await cloud.client.post(
        "/api/users",
        json={"email": "Ada@Example.com", "password": "analytical-engine", "role": "viewer"},
        headers=admin,
    )
    assert created.status_code == 201
    user = created.json()
    assert user["email"] == "ada@example.com"
    duplicate = await cloud.client.post(
        "/api/users",
        json={"email": "ada@example.com", "password": "whatever-else", "role": "viewer"},
        headers=admin,
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "email_taken"
    listed = (await cloud.client.get("/api/users", headers=admin)).json()
    assert {u["email"] for u in listed} == {ADMIN_EMAIL, "ada@example.com"}
    patched = await cloud.client.patch(
        f"/api/users/{user['id']}", json={"role": "operator", "password": "difference-engine"}, headers=admin
    )
    assert patched.status_code == 200
    assert patched.json()["role"] == "operator"
    ada = await cloud.login("ada@example.com", "difference-engine")
    assert (await cloud.client.get("/api/me", headers=ada)).json()["role"] == "operator"
    me = (await cloud.client.get("/api/me", headers=admin)).json()
    last_admin = await cloud.client.patch(f"/api/users/{me['id']}", json={"role": "viewer"}, headers=admin)
    assert last_admin.status_code == 409
    assert last_admin.json()["code"] == "last_admin"
    assert (await cloud.client.delete(f"/api/users/{me['id']}", headers=admin)).status_code == 409
    assert (await cloud.client.delete(f"/api/users/{user['id']}", headers=admin)).status_code == 204
    assert (await cloud.client.get(f"/api/users/{user['id']}", headers=admin)).status_code == 404


async def test_another_organisations_users_are_not_found(cloud: CloudHarness) -> None:
    _, org_b_admin = await cloud.add_organisation("Org B")
    me_b = (await cloud.client.get("/api/me", headers=org_b_admin)).json()
    assert me_b["organisation"]["name"] == "Org B"
    listed = (await cloud.client.get("/api/users", headers=cloud.admin_headers)).json()
    assert me_b["id"] not in {u["id"] for u in listed}
    for method in ("GET", "PATCH", "DELETE"):
        response = await cloud.client.request(
            method,
            f"/api/users/{me_b['id']}",
            json={"role": "viewer"} if method == "PATCH" else None,
            headers=cloud.admin_headers,
        )
        assert response.status_code == 404, method


async def test_api_keys_authenticate_until_revoked(cloud: CloudHarness) -> None:
    created = await cloud.client.post(
        "/api/api-keys", json={"name": "grafana", "role": "viewer"}, headers=cloud.admin_headers
    )
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith(body["prefix"])
    via_header = await cloud.client.get("/api/me", headers={"X-Api-Key": key})
    assert via_header.status_code == 200
    assert via_header.json() | {"organisation": None} == {
        "kind": "api_key",
        "id": body["id"],
        "email": None,
        "role": "viewer",
        "organisation": None,
    }
    assert (await cloud.client.get("/api/printers", headers=_bearer(key))).status_code == 200
    assert (
        await cloud.client.post("/api/printers/claim-codes", json={}, headers={"X-Api-Key": key})
    ).status_code == 403
    listed = (await cloud.client.get("/api/api-keys", headers=cloud.admin_headers)).json()
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0]
    assert listed[0]["last_used_at"] is not None
    revoked = await cloud.client.delete(f"/api/api-keys/{body['id']}", headers=cloud.admin_headers)
    assert revoked.status_code == 204
    refused = await cloud.client.get("/api/me", headers={"X-Api-Key": key})
    assert refused.status_code == 401
    assert refused.json()["code"] == "api_key_invalid"
    assert (await cloud.client.get("/api/me", headers={"X-Api-Key": "3dp_made_up"})).status_code == 401
    listed = (await cloud.client.get("/api/api-keys", headers=cloud.admin_headers)).json()
    assert listed[0]["revoked_at"] is not None


async def test_another_organisations_api_key_cannot_be_revoked(cloud: CloudHarness) -> None:
    _, org_b_admin = await cloud.add_organisation("Org B")
    created = (await cloud.client.post("/api/api-keys", json={"name": "b"}, headers=org_b_admin)).json()
    response = await cloud.client.delete(f"/api/api-keys/{created['id']}", headers=cloud.admin_headers)
    assert response.status_code == 404
    assert (await cloud.client.get("/api/me", headers={"X-Api-Key": created["key"]})).status_code == 200
