"""The regtest cluster of the test suite: it lives in ``marketplace.monero.regtest`` (the bench
starts one too); this module keeps the tests' import path."""

from marketplace.monero.regtest import (
    ENDPOINTS_PER_ROLE,
    INITIAL_BLOCKS,
    ROLES,
    RPC_TIMEOUT,
    RegtestCluster,
    RegtestMissingError,
    check_binaries,
    start_regtest,
)

__all__ = [
    "ENDPOINTS_PER_ROLE",
    "INITIAL_BLOCKS",
    "ROLES",
    "RPC_TIMEOUT",
    "RegtestCluster",
    "RegtestMissingError",
    "check_binaries",
    "start_regtest",
]
