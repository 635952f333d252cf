"""Each escrow wallet has its own password, derived from the master key, stable, and never shown."""

from __future__ import annotations

import pytest

from marketplace.escrow.wallet_passwords import WalletPasswords

MASTER = bytes(range(32))


def test_a_password_differs_per_wallet_and_per_role_and_is_stable() -> None:
    passwords = WalletPasswords(MASTER)
    names = ("escrow-a1-1", "escrow-a1-2", "escrow-b2-1")
    roles = ("buyer", "vendor", "arbiter")
    derived = {(name, role): passwords.password(name, role) for name in names for role in roles}

    assert len(set(derived.values())) == len(names) * len(roles)
    again = WalletPasswords(bytes(range(32)))
    assert all(again.password(name, role) == value for (name, role), value in derived.items())
    assert all(len(value) == 64 and int(value, 16) >= 0 for value in derived.values())


def test_another_master_key_gives_other_passwords_and_the_parts_cannot_be_shifted() -> None:
    passwords = WalletPasswords(MASTER)
    other = WalletPasswords(bytes(range(1, 33)))

    assert passwords.password("escrow-a-1", "buyer") != other.password("escrow-a-1", "buyer")
    # The separator keeps ("ab", "c") apart from ("a", "bc").
    assert passwords.password("c", "ab") != passwords.password("bc", "a")


def test_the_master_key_is_never_shown_and_must_be_long_enough() -> None:
    passwords = WalletPasswords(MASTER)

    assert MASTER.hex() not in repr(passwords)
    assert str(MASTER) not in repr(passwords)
    with pytest.raises(ValueError, match="at least 32 bytes"):
        WalletPasswords(b"short")
    with pytest.raises(ValueError, match="NUL"):
        passwords.password("escrow\0x", "buyer")
