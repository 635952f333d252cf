"""Durable jobs: work the web process records and the worker carries out (``marketplace worker``)."""
