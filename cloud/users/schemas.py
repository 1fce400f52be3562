"""HTTP bodies of accounts: login, the caller, users and API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from cloud.fields import Email, Name, Password
from cloud.users.models import Role


class Request(BaseModel):
    """Base of request bodies: an unknown field is a 422, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class LoginRequest(Request):
    email: Email
    password: str = Field(min_length=1, max_length=1024)


class TokenResponse(BaseModel):
    access_token: str = Field(description="send as 'Authorization: Bearer <access_token>'")
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="seconds until the token expires")
    expires_at: datetime


class OrganisationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str


class MeResponse(BaseModel):
    kind: Literal["user", "api_key"] = Field(description="how the caller authenticated")
    id: str = Field(description="the user id, or the API key id")
    email: str | None = Field(description="the user's email (null for an API key)")
    role: Role
    organisation: OrganisationOut


class UserCreate(Request):
    email: Email
    password: Password
    role: Role = Role.VIEWER


class UserUpdate(Request):
    """Only the fields given change."""

    email: Email | None = None
    password: Password | None = None
    role: Role | None = None


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    role: Role
    created_at: datetime


class ApiKeyCreate(Request):
    name: Name
    role: Role = Role.VIEWER


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str = Field(description="the first characters of the key, to recognise it")
    role: Role
    created_at: datetime
    last_used_at: datetime | None = Field(description="approximate (updated at most once a minute)")
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="the API key itself: shown this once, store it now")
