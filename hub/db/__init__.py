"""Persistence: the engine, the embedded PostgreSQL, the models and migrations."""
