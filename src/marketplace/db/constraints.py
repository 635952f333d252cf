"""Telling an expected race (a duplicate key) apart from a bug, on SQLite and PostgreSQL.

Only a service that knows a unique constraint can be hit by two users at once (two sign-ups for
one name) catches ``IntegrityError``, and only for that constraint; every other integrity error
is a bug and reaches the 500 handler with its traceback.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError


def is_unique_violation(error: IntegrityError, table: str, column: str) -> bool:
    """Whether ``error`` is a duplicate value in the unique column ``table.column``.

    PostgreSQL names the constraint (``uq_<table>_<column>`` by our naming convention, see
    ``db/base.py``); SQLite says ``UNIQUE constraint failed: <table>.<column>``.
    """
    original: Any = error.orig
    diag = getattr(original, "diag", None)
    if diag is not None:
        return getattr(original, "sqlstate", None) == "23505" and diag.constraint_name == f"uq_{table}_{column}"
    return str(original) == f"UNIQUE constraint failed: {table}.{column}"
