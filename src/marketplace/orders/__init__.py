"""Orders and their escrow: the fixed terms, the state machine (``states.py``), the history, the API."""
