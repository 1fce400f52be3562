"""Password hashing with argon2id, off the event loop (a hash costs tens of milliseconds of CPU)."""

from __future__ import annotations

import asyncio
from typing import Final

from argon2 import PasswordHasher as _Argon2
from argon2.exceptions import InvalidHashError, VerificationError

from cloud.settings import PasswordHashing

_DUMMY_PASSWORD: Final = "not-a-real-password-only-for-timing"


class Passwords:
    """argon2id hashes with the configured cost; verification never raises for a wrong password."""

    def __init__(self, cost: PasswordHashing) -> None:
        self._hasher = _Argon2(
            time_cost=cost.time_cost, memory_cost=cost.memory_kib, parallelism=cost.parallelism
        )
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str, password: str) -> bool:
        """True when ``password`` matches ``password_hash``."""
        return await asyncio.to_thread(self._verify_sync, password_hash, password)

    async def verify_nobody(self, password: str) -> bool:
        """Spend the time of one verification, return False: an unknown email looks like a wrong password."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(_DUMMY_PASSWORD)
        await self.verify(self._dummy_hash, password + "\x00")
        return False

    def needs_rehash(self, password_hash: str) -> bool:
        """True when the hash was made with other parameters than the configured ones."""
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
