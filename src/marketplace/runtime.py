"""What a process shares, built once from the settings: the composition root.

The web app, the CLI and the worker each build one ``Runtime``. Every external system a
domain talks to hangs here behind a small interface, and this module is the one place that
chooses its implementation from the settings (a fake for fast tests, the real one otherwise):
the database, the catalogue memory, and for the worker the wallet signers and the daemon client.
Metrics are not here: prometheus-client's are per process by nature (``marketplace.observability``).
Web handlers reach each part through the typed dependencies of ``marketplace.web.dependencies``
(so a test swaps one with ``app.dependency_overrides``), never through ``request.app.state``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from marketplace.db.engine import Database
from marketplace.listings.catalog_cache import Catalog, CatalogVersionReader
from marketplace.settings import Settings

if TYPE_CHECKING:
    from marketplace.escrow.stack import EscrowStack


@dataclass
class Runtime:
    settings: Settings
    database: Database
    catalog: Catalog
    _escrow: EscrowStack | None = field(default=None, repr=False)

    def escrow_stack(self) -> EscrowStack | None:
        """The signers and the daemon client (built on first use), or None when escrow is off.

        For the worker only: the web process never calls a wallet or the daemon (it records a job).
        Raises ``EscrowConfigurationError`` when escrow is on but cannot work (a missing wallet
        directory or backup key).
        """
        if self._escrow is None:
            from marketplace.escrow.stack import EscrowStack  # imported here: the web process never needs it

            self._escrow = EscrowStack.from_settings(self.settings)
        return self._escrow

    def close(self) -> None:
        """Release what the process holds (connections); the runtime is unusable afterwards."""
        if self._escrow is not None:
            self._escrow.close()
        self.catalog.close()
        self.database.dispose()


def build_runtime(settings: Settings, database: Database | None = None) -> Runtime:
    """The runtime for ``settings``; ``database`` lets a test share one it already holds."""
    database = database or Database.from_settings(settings)
    # The version reader keeps a connection of its own, outside the pool, so the hot path never
    # waits for a pooled connection and never holds two.
    catalog = Catalog(version=CatalogVersionReader(database.side_engine()))
    return Runtime(settings=settings, database=database, catalog=catalog)
