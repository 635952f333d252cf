"""Fixtures of the admin tests; accounts, listings and signed-in clients come from ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from marketplace.accounts.models import Role, User


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    """The admin acting in a test (its own client: ``sign_in_as(admin)``)."""
    return make_user(Role.ADMIN)
