"""Database: one schema for SQLite and PostgreSQL (SQLAlchemy 2, Alembic migrations)."""
