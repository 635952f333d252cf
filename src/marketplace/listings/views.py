"""HTML pages of the listings domain (they work with JavaScript disabled)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from marketplace.web.csrf import verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])
