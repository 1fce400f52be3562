"""JWT access tokens (HS256): what ``POST /api/auth/login`` hands out and every request presents.

Claims: ``sub`` (user id), ``org`` (organisation id), ``role``, ``iat``, ``exp``, ``iss``
(``3dpot-cloud``), ``aud`` (``3dpot-api``) and ``typ`` (``access``). The role in a token is
informative; authorisation always uses the user's current role from the database, so demoting
or deleting a user takes effect at the next request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import jwt
from pydantic import SecretStr

from cloud.errors import Unauthenticated
from cloud.users.models import Role

ALGORITHM: Final = "HS256"
ISSUER: Final = "3dpot-cloud"
AUDIENCE: Final = "3dpot-api"
TOKEN_TYPE: Final = "access"
LEEWAY_S: Final = 5


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    org_id: str
    role: Role
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    expires_in_s: int
    expires_at: datetime


class TokenCodec:
    """Issues and checks access tokens with one secret and lifetime."""

    def __init__(
        self, secret: SecretStr, lifetime_s: int, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._secret = secret
        self.lifetime_s = lifetime_s
        self._clock = clock

    def issue(self, user_id: str, org_id: str, role: Role) -> IssuedToken:
        now = self._clock()
        expires_at = now + timedelta(seconds=self.lifetime_s)
        claims = {
            "sub": user_id,
            "org": org_id,
            "role": role.value,
            "iat": int(now.timestamp()),
            "exp": int(expires_at.timestamp()),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "typ": TOKEN_TYPE,
        }
        token = jwt.encode(claims, self._secret.get_secret_value(), algorithm=ALGORITHM)
        return IssuedToken(token=token, expires_in_s=self.lifetime_s, expires_at=expires_at)

    def decode(self, token: str) -> AccessClaims:
        """The claims of a valid token; ``Unauthenticated`` for anything else (tampered, expired, ...)."""
        try:
            claims = jwt.decode(
                token,
                self._secret.get_secret_value(),
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                leeway=LEEWAY_S,
                options={"require": ["sub", "org", "role", "exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("access token has expired: log in again", code="token_expired") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("access token is invalid", code="token_invalid") from None
        try:
            if claims.get("typ") != TOKEN_TYPE:
                raise ValueError("not an access token")
            return AccessClaims(
                user_id=str(claims["sub"]),
                org_id=str(claims["org"]),
                role=Role(claims["role"]),
                expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=UTC),
            )
        except (KeyError, ValueError, TypeError):
            raise Unauthenticated("access token is invalid", code="token_invalid") from None
