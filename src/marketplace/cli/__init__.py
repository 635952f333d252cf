"""The ``marketplace`` command line: one group per domain (db, users, dev, ...)."""
