"""The worker's record of each dependency's health, and what ``/ready`` makes of it.

The worker checks monerod and every signer endpoint every ``worker_probe_seconds`` (the probe
comes from ``marketplace.jobs.registry.probe``) and records each result here (``record_health``):
one row per dependency, overwritten by each check. The web process never calls a wallet or the
daemon: ``/ready`` reads these rows (``readiness``). With escrow on, every dependency the
settings name (``expected_services``) must have a recorded check that passed and is younger
than ``health_stale_seconds``; a check never recorded means no worker is probing.

Names: ``monerod``, and ``signer:<role>:<url>`` for each endpoint (``signer_service_name``). A
probe records under these names; anything else it records is kept but not required by /ready.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from marketplace.jobs.models import ServiceHealth
from marketplace.logs import plain_text
from marketplace.settings import Settings, SignerRole

MONEROD = "monerod"
MAX_DETAIL_LENGTH = 500


def signer_service_name(role: SignerRole | str, url: str) -> str:
    """The health record name of one signer endpoint: ``signer:buyer:http://127.0.0.1:18083``."""
    return f"signer:{SignerRole(role).value}:{url}"


def expected_services(settings: Settings) -> list[str]:
    """The dependencies escrow needs with these settings: monerod, then each role's endpoints in order."""
    names = [MONEROD] if settings.monerod_url else []
    names += [signer_service_name(role, url) for role in SignerRole for url in settings.signer_urls(role)]
    return names


@dataclass(frozen=True)
class HealthCheck:
    """One probe result. ``detail``: what an operator should read (a version, an error message), never a secret."""

    name: str
    ok: bool
    detail: str = ""
    latency_ms: float | None = None
    # For the worker's metrics only (not recorded): monerod's chain height, or the height of the
    # wallet open at a signer endpoint; and, for a signer endpoint, its role and URL.
    height: int | None = None
    role: str | None = None
    url: str | None = None


# What the registry's probe is: called by the worker every ``worker_probe_seconds``; returns one
# result per dependency it checked. It must not raise for a dependency that is down (that is a
# result with ok=False); if it raises anyway, the worker logs it and records nothing.
Probe = Callable[[], Iterable[HealthCheck]]


def record_health(db: Session, name: str, *, ok: bool, detail: str, latency_ms: float | None, now: datetime) -> None:
    """Record the latest check of ``name`` (replacing the previous one), in ``db``'s transaction."""
    values: dict[str, Any] = {
        "name": name,
        "ok": ok,
        "checked_at": now,
        "detail": plain_text(detail)[:MAX_DETAIL_LENGTH],
        "latency_ms": latency_ms,
    }
    insert = postgresql_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(ServiceHealth).values(**values)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=[ServiceHealth.name],
            set_={key: statement.excluded[key] for key in values if key != "name"},
        )
    )


def recorded_health(db: Session) -> dict[str, ServiceHealth]:
    """Every recorded check, by name."""
    return {row.name: row for row in db.execute(select(ServiceHealth)).scalars()}


def readiness(settings: Settings, recorded: dict[str, ServiceHealth], now: datetime) -> dict[str, dict[str, Any]]:
    """What ``/ready`` says of each dependency escrow needs: ``{name: {"ok", ...}}`` (empty with escrow off).

    A dependency is ok when its last check passed and is at most ``health_stale_seconds`` old.
    """
    if not settings.escrow_configured:
        return {}
    checks: dict[str, dict[str, Any]] = {}
    for name in expected_services(settings):
        row = recorded.get(name)
        if row is None:
            checks[name] = {
                "ok": False,
                "checked_at": None,
                "detail": "never checked: is `marketplace worker` running?",
            }
            continue
        age = (now - row.checked_at).total_seconds()
        check: dict[str, Any] = {
            "ok": row.ok and age <= settings.health_stale_seconds,
            "checked_at": row.checked_at.isoformat(),
            "age_seconds": round(age, 1),
            "latency_ms": row.latency_ms,
            "detail": row.detail,
        }
        if age > settings.health_stale_seconds:
            check["stale"] = True
            check["detail"] = (
                f"last checked {round(age)} s ago (more than {settings.health_stale_seconds} s): "
                f"is `marketplace worker` running? last result: {'ok' if row.ok else 'failed'}"
                + (f", {row.detail}" if row.detail else "")
            )
        checks[name] = check
    return checks
