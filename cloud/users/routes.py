"""Routes of accounts: log in, who am I, users (admins) and API keys (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from cloud.errors import RateLimited, Unauthenticated, error_responses
from cloud.fields import Identifier
from cloud.services import DbSession, Services, client_ip
from cloud.users import service
from cloud.users.auth import CurrentUser, RequireAdmin
from cloud.users.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    LoginRequest,
    MeResponse,
    OrganisationOut,
    TokenResponse,
    UserCreate,
    UserOut,
    UserUpdate,
)

router = APIRouter(prefix="/api")

UserId = Annotated[Identifier, Path(description="a user id")]
KeyId = Annotated[Identifier, Path(description="an API key id")]
_ADMIN = (401, 403, 422)


@router.post(
    "/auth/login",
    tags=["auth"],
    summary="Log in with email and password",
    description=(
        "Returns a JWT access token. Failed attempts are rate-limited per email and client address:"
        " past the limit the answer is 429 with Retry-After."
    ),
    response_model=TokenResponse,
    responses=error_responses(401, 422, 429),
)
async def login(
    body: LoginRequest, request: Request, services: Services, session: DbSession
) -> TokenResponse:
    limiter_key = f"{body.email}|{client_ip(request)}"
    wait_s = services.login_limiter.peek(limiter_key)
    if wait_s is not None:
        services.metrics.rate_limited.labels(limiter="login").inc()
        raise RateLimited("too many failed login attempts: try again later", retry_after_s=wait_s)
    user = await service.check_password(session, services.passwords, body.email, body.password)
    if user is None:
        services.login_limiter.take(limiter_key)
        raise Unauthenticated("email or password is wrong", code="bad_credentials")
    services.login_limiter.reset(limiter_key)
    issued = services.tokens.issue(user.id, user.org_id, user.role)
    return TokenResponse(
        access_token=issued.token, expires_in=issued.expires_in_s, expires_at=issued.expires_at
    )


@router.get(
    "/me",
    tags=["auth"],
    summary="Who am I: the authenticated user or API key",
    response_model=MeResponse,
    responses=error_responses(401),
)
async def me(principal: CurrentUser, session: DbSession) -> MeResponse:
    org = await service.get_organisation(session, principal.org_id)
    return MeResponse(
        kind=principal.kind,
        id=principal.id,
        email=principal.email,
        role=principal.role,
        organisation=OrganisationOut.model_validate(org),
    )


@router.get(
    "/users",
    tags=["users"],
    summary="List the users of my organisation",
    response_model=list[UserOut],
    responses=error_responses(401, 403),
)
async def list_users(principal: RequireAdmin, session: DbSession) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in await service.list_users(session, principal.org_id)]


@router.post(
    "/users",
    tags=["users"],
    summary="Create a user in my organisation",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses=error_responses(*_ADMIN, 409),
)
async def create_user(
    body: UserCreate, principal: RequireAdmin, services: Services, session: DbSession
) -> UserOut:
    user = await service.create_user(
        session, services.passwords, principal.org_id, body.email, body.password, body.role
    )
    await session.commit()
    return UserOut.model_validate(user)


@router.get(
    "/users/{user_id}",
    tags=["users"],
    summary="Get one user of my organisation",
    response_model=UserOut,
    responses=error_responses(*_ADMIN, 404),
)
async def get_user(user_id: UserId, principal: RequireAdmin, session: DbSession) -> UserOut:
    return UserOut.model_validate(await service.get_user(session, principal.org_id, user_id))


@router.patch(
    "/users/{user_id}",
    tags=["users"],
    summary="Change a user's email, password or role",
    response_model=UserOut,
    responses=error_responses(*_ADMIN, 404, 409),
)
async def update_user(
    user_id: UserId, body: UserUpdate, principal: RequireAdmin, services: Services, session: DbSession
) -> UserOut:
    user = await service.get_user(session, principal.org_id, user_id)
    await service.update_user(
        session, services.passwords, user, email=body.email, password=body.password, role=body.role
    )
    await session.commit()
    return UserOut.model_validate(user)


@router.delete(
    "/users/{user_id}",
    tags=["users"],
    summary="Delete a user of my organisation",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(*_ADMIN, 404, 409),
)
async def delete_user(user_id: UserId, principal: RequireAdmin, session: DbSession) -> Response:
    user = await service.get_user(session, principal.org_id, user_id)
    await service.delete_user(session, user)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/api-keys",
    tags=["api-keys"],
    summary="List my organisation's API keys (revoked ones too; never the keys themselves)",
    response_model=list[ApiKeyOut],
    responses=error_responses(401, 403),
)
async def list_api_keys(principal: RequireAdmin, session: DbSession) -> list[ApiKeyOut]:
    return [ApiKeyOut.model_validate(k) for k in await service.list_api_keys(session, principal.org_id)]


@router.post(
    "/api-keys",
    tags=["api-keys"],
    summary="Create an API key (the key is in this response only)",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    responses=error_responses(*_ADMIN),
)
async def create_api_key(body: ApiKeyCreate, principal: RequireAdmin, session: DbSession) -> ApiKeyCreated:
    created_by = principal.id if principal.kind == "user" else None
    row, key = await service.create_api_key(session, principal.org_id, body.name, body.role, created_by)
    await session.commit()
    return ApiKeyCreated.model_validate({**ApiKeyOut.model_validate(row).model_dump(), "key": key})


@router.delete(
    "/api-keys/{key_id}",
    tags=["api-keys"],
    summary="Revoke an API key (it stops working at once)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(*_ADMIN, 404),
)
async def revoke_api_key(
    key_id: KeyId, principal: RequireAdmin, services: Services, session: DbSession
) -> Response:
    row = await service.get_api_key(session, principal.org_id, key_id)
    if row.revoked_at is None:
        row.revoked_at = services.now()
        await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
