"""Accounts: registration, sign-in, sessions, API tokens, two-factor, profiles."""
