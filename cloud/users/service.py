"""Accounts in the database: organisations, users, API keys, and the first admin.

Every function that reads or changes something of an organisation takes ``org_id`` and filters
by it; a row of another organisation is ``NotFound``.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloud.errors import Conflict, NotFound
from cloud.settings import BootstrapAdmin
from cloud.users.auth import PRINCIPALS, new_api_key
from cloud.users.models import ApiKey, Organisation, Role, User
from cloud.users.passwords import Passwords

log = logging.getLogger(__name__)


async def get_organisation(session: AsyncSession, org_id: str) -> Organisation:
    org = await session.get(Organisation, org_id)
    if org is None:
        raise NotFound(f"organisation {org_id!r} not found")
    return org


async def create_organisation_with_admin(
    session: AsyncSession, passwords: Passwords, org_name: str, email: str, password: str
) -> tuple[Organisation, User]:
    """A new organisation and its first admin, flushed (the caller commits)."""
    org = Organisation(name=org_name)
    session.add(org)
    await session.flush()
    user = await create_user(session, passwords, org.id, email, password, Role.ADMIN)
    return org, user


async def bootstrap_admin(session: AsyncSession, passwords: Passwords, admin: BootstrapAdmin) -> User | None:
    """When there is no user at all, create the first organisation and admin and commit.

    Without a configured password a random one is generated and logged once. Returns the new
    admin, or ``None`` when users already exist (or another replica created the admin first).
    """
    if (await session.execute(select(User.id).limit(1))).first() is not None:
        return None
    password = admin.password.get_secret_value() if admin.password else secrets.token_urlsafe(12)
    try:
        _, user = await create_organisation_with_admin(
            session, passwords, admin.organisation, admin.email.lower(), password
        )
        await session.commit()
    except Conflict:
        await session.rollback()
        return None
    if admin.password is None:
        log.warning(
            "created the first admin %s with the one-time password %s (shown only now: log in and change it)",
            user.email,
            password,
        )
    else:
        log.info("created the first admin %s in organisation %r", user.email, admin.organisation)
    return user


async def find_user_by_email(session: AsyncSession, email: str) -> User | None:
    return (await session.execute(select(User).where(User.email == email.lower()))).scalar_one_or_none()


async def check_password(
    session: AsyncSession, passwords: Passwords, email: str, password: str
) -> User | None:
    """The user when ``password`` is theirs, else ``None`` (same time either way)."""
    user = await find_user_by_email(session, email)
    if user is None:
        await passwords.verify_nobody(password)
        return None
    if not await passwords.verify(user.password_hash, password):
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = await passwords.hash(password)
        await session.commit()
    return user


async def _flush_unique_email(session: AsyncSession, email: str) -> None:
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise Conflict(f"a user with email {email!r} already exists", code="email_taken") from None


async def create_user(
    session: AsyncSession, passwords: Passwords, org_id: str, email: str, password: str, role: Role
) -> User:
    if await find_user_by_email(session, email) is not None:
        raise Conflict(f"a user with email {email!r} already exists", code="email_taken")
    user = User(org_id=org_id, email=email.lower(), password_hash=await passwords.hash(password), role=role)
    session.add(user)
    await _flush_unique_email(session, email)
    return user


async def list_users(session: AsyncSession, org_id: str) -> Sequence[User]:
    query = select(User).where(User.org_id == org_id).order_by(User.email)
    return (await session.execute(query)).scalars().all()


async def get_user(session: AsyncSession, org_id: str, user_id: str) -> User:
    user = (
        await session.execute(select(User).where(User.id == user_id, User.org_id == org_id))
    ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"user {user_id!r} not found")
    return user


async def _other_admins(session: AsyncSession, user: User) -> int:
    query = select(func.count()).where(
        User.org_id == user.org_id, User.role == Role.ADMIN, User.id != user.id
    )
    return int((await session.execute(query)).scalar_one())


async def update_user(
    session: AsyncSession,
    passwords: Passwords,
    user: User,
    *,
    email: str | None,
    password: str | None,
    role: Role | None,
) -> User:
    demoting = role is not None and role is not Role.ADMIN and user.role is Role.ADMIN
    if demoting and await _other_admins(session, user) == 0:
        raise Conflict(
            "this is the organisation's last admin: make someone else admin first", code="last_admin"
        )
    if email is not None and email.lower() != user.email:
        if await find_user_by_email(session, email) is not None:
            raise Conflict(f"a user with email {email!r} already exists", code="email_taken")
        user.email = email.lower()
    if password is not None:
        user.password_hash = await passwords.hash(password)
    if role is not None:
        user.role = role
    await _flush_unique_email(session, user.email)
    PRINCIPALS.clear()  # a changed role or email takes effect on the next request
    return user


async def delete_user(session: AsyncSession, user: User) -> None:
    if user.role is Role.ADMIN and await _other_admins(session, user) == 0:
        raise Conflict("this is the organisation's last admin: it cannot be deleted", code="last_admin")
    await session.delete(user)
    PRINCIPALS.clear()


async def create_api_key(
    session: AsyncSession, org_id: str, name: str, role: Role, created_by: str | None
) -> tuple[ApiKey, str]:
    """A new API key row and the key itself (shown once)."""
    key, prefix, key_hash = new_api_key()
    row = ApiKey(org_id=org_id, name=name, prefix=prefix, key_hash=key_hash, role=role, created_by=created_by)
    session.add(row)
    await session.flush()
    return row, key


async def list_api_keys(session: AsyncSession, org_id: str) -> Sequence[ApiKey]:
    query = select(ApiKey).where(ApiKey.org_id == org_id).order_by(ApiKey.created_at, ApiKey.id)
    return (await session.execute(query)).scalars().all()


async def get_api_key(session: AsyncSession, org_id: str, key_id: str) -> ApiKey:
    row = (
        await session.execute(select(ApiKey).where(ApiKey.id == key_id, ApiKey.org_id == org_id))
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"API key {key_id!r} not found")
    return row
