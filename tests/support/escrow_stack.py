"""Escrow turned on against the session's regtest cluster: the settings a test needs, and the
operator's backup key.

- ``make_backup_key(home)`` → ``BackupKey(home, fingerprint)``: a throwaway GnuPG home with one
  key pair without a passphrase (made once per session by the ``backup_gpg_key`` fixture);
  ``BackupKey.decrypt(path)`` gives back the plaintext of a file encrypted to it.
- ``escrow_overrides(cluster, ...)`` → the ``load_settings(**overrides)`` values that turn escrow
  on against ``cluster``: network regtest, monerod, both endpoints of each signer role with its
  login and wallet directory, the master key, the backup key and directory, 2 confirmations.
  The ``escrow_settings`` fixture (tests/conftest.py) gives them for one test; a test module
  turns escrow on for its tests with::

      @pytest.fixture
      def settings_overrides(escrow_settings: dict[str, Any]) -> dict[str, Any]:
          return {**escrow_settings, "payment_window_seconds": 60}

  Windows (payment, ship, finalize) are left at their defaults: each test sets the ones it needs.

The wallet directories are the cluster's, shared by the whole session: every escrow's wallet name
must be unique in the session, not only in one test's database.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

from marketplace.escrow.key_backup import make_throwaway_key
from marketplace.monero.regtest import RegtestCluster

BACKUP_USER_ID = "Marketplace test backup <backup@test.invalid>"
TEST_CONFIRMATIONS = 2


class BackupKey(NamedTuple):
    """The operator's backup key of the test session: its GnuPG home and its fingerprint."""

    home: Path
    fingerprint: str

    def decrypt(self, path: Path) -> bytes:
        """The plaintext of ``path``, a file encrypted to this key (gpg fails the test otherwise)."""
        gpg = shutil.which("gpg")
        assert gpg is not None, "gpg is missing: apt-get install gpg"
        result = subprocess.run(
            [gpg, "--batch", "--no-tty", "--homedir", str(self.home), "--decrypt", str(path)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, f"gpg could not decrypt {path}: {result.stderr.decode(errors='replace')}"
        return result.stdout


def make_backup_key(home: Path) -> BackupKey:
    """A fresh GnuPG home at ``home`` (which must not exist) with the test backup key."""
    return BackupKey(home, make_throwaway_key(home, BACKUP_USER_ID))


def escrow_overrides(
    cluster: RegtestCluster, *, backup_key: BackupKey, backup_dir: Path, master_key: str
) -> dict[str, Any]:
    """Settings that turn escrow on against ``cluster`` (see the module docstring)."""
    return {
        **cluster.escrow_settings(),
        "wallet_master_key": master_key,
        "backup_gpg_recipient": backup_key.fingerprint,
        "backup_gpg_home": backup_key.home,
        "backup_dir": backup_dir,
        "confirmations": TEST_CONFIRMATIONS,
    }
