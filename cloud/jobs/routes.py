"""HTTP routes of the jobs resource."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
