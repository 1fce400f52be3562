"""Who is calling: a user with a JWT, or an API key. Dependencies as ``Annotated`` aliases.

``CurrentUser`` is any authenticated caller, ``RequireOperator`` / ``RequireAdmin`` also check the
role. A route scopes every query by ``principal.org_id``; something of another organisation is a
``NotFound``, never a ``Forbidden``, so its existence does not leak.

Credentials: ``Authorization: Bearer <jwt>`` or ``X-Api-Key: <key>`` (an API key may also be sent
as the bearer token). API keys look like ``3dp_<8 chars>_<secret>``; the first 12 characters are
the public ``prefix`` shown in listings, and only the SHA-256 of the whole key is stored (keys are
256-bit random, so a slow hash would only slow down every request).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Final, Literal

from fastapi import Depends
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import Forbidden, Unauthenticated
from cloud.services import CloudServices, DbSession, Services
from cloud.users.models import ApiKey, Role, User

API_KEY_MARK: Final = "3dp_"
API_KEY_PREFIX_CHARS: Final = 12
LAST_USED_RESOLUTION: Final = timedelta(minutes=1)
"""``api_keys.last_used_at`` is written at most this often per key (not on every request)."""

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An access token from POST /api/auth/login (an API key is accepted here too)",
)
api_key_scheme = APIKeyHeader(
    name="X-Api-Key", auto_error=False, scheme_name="apiKey", description="An API key from POST /api/api-keys"
)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller. ``id`` is the user id or the API key id."""

    kind: Literal["user", "api_key"]
    id: str
    org_id: str
    role: Role
    email: str | None = None


def new_api_key() -> tuple[str, str, str]:
    """A fresh API key: ``(key, prefix, sha256 hex)``; the key is shown once and never stored."""
    key = f"{API_KEY_MARK}{secrets.token_urlsafe(6)}_{secrets.token_urlsafe(32)}"
    return key, key[:API_KEY_PREFIX_CHARS], api_key_hash(key)


def api_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


async def _from_api_key(services: CloudServices, session: AsyncSession, key: str) -> Principal:
    row = (
        await session.execute(select(ApiKey).where(ApiKey.key_hash == api_key_hash(key)))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("API key is invalid or revoked", code="api_key_invalid")
    now = services.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        await session.execute(update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=now))
        await session.commit()
    return Principal(kind="api_key", id=row.id, org_id=row.org_id, role=row.role)


class PrincipalCache:
    """Users behind valid tokens, kept for `ttl_s` (2 s): a dashboard polling a few endpoints would
    otherwise read the same user row on every request. Any change to a user in this process clears it
    at once; another replica sees a deleted or demoted user within `ttl_s`. API keys are not cached:
    a revoked key stops at once everywhere."""

    def __init__(self, ttl_s: float = 2.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[tuple[str, str], tuple[float, Principal]] = {}

    def get(self, user_id: str, org_id: str) -> Principal | None:
        entry = self._entries.get((user_id, org_id))
        if entry is None or self._clock() - entry[0] >= self.ttl_s:
            return None
        return entry[1]

    def put(self, principal: Principal) -> None:
        if len(self._entries) > 10_000:
            self._entries.clear()
        self._entries[(principal.id, principal.org_id)] = (self._clock(), principal)

    def clear(self) -> None:
        self._entries.clear()


PRINCIPALS = PrincipalCache()


async def _from_token(services: CloudServices, session: AsyncSession, token: str) -> Principal:
    claims = services.tokens.decode(token)
    cached = PRINCIPALS.get(claims.user_id, claims.org_id)
    if cached is not None:
        return cached
    user = (
        await session.execute(select(User).where(User.id == claims.user_id, User.org_id == claims.org_id))
    ).scalar_one_or_none()
    if user is None:
        raise Unauthenticated("the user of this token no longer exists", code="token_invalid")
    principal = Principal(kind="user", id=user.id, org_id=user.org_id, role=user.role, email=user.email)
    PRINCIPALS.put(principal)
    return principal


async def authenticate(
    services: Services,
    session: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    api_key: Annotated[str | None, Depends(api_key_scheme)],
) -> Principal:
    """The caller, from ``X-Api-Key`` or ``Authorization: Bearer``; ``Unauthenticated`` otherwise."""
    if api_key:
        return await _from_api_key(services, session, api_key)
    if bearer is not None and bearer.credentials:
        if bearer.credentials.startswith(API_KEY_MARK):
            return await _from_api_key(services, session, bearer.credentials)
        return await _from_token(services, session, bearer.credentials)
    raise Unauthenticated(
        "authentication required: send 'Authorization: Bearer <token>' or 'X-Api-Key: <key>'",
        code="unauthenticated",
    )


CurrentUser = Annotated[Principal, Depends(authenticate)]


def require_role(role: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that passes callers whose role includes ``role`` and refuses the others (403)."""

    async def check(principal: CurrentUser) -> Principal:
        if not principal.role.includes(role):
            raise Forbidden(f"this needs the {role.value} role; you have {principal.role.value}")
        return principal

    check.__name__ = f"require_{role.value}"
    return check


RequireOperator = Annotated[Principal, Depends(require_role(Role.OPERATOR))]
RequireAdmin = Annotated[Principal, Depends(require_role(Role.ADMIN))]
