"""HTTP routes of the fleet resource."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
