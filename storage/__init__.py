"""Storage: SQLAlchemy models, Alembic migrations and the repository of runs and verdicts."""
