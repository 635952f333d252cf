"""Demo data for development: accounts, listings and pictures (``marketplace dev seed``)."""
