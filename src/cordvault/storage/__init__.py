"""Chunk storage: one small backend interface, several backends (local directory, Discord)."""
