"""Relational metadata: the declarative base, engines, sessions and migrations.

Each domain declares its tables in its own ``models.py`` on :class:`Base` and ships its
Alembic migrations on its own branch (``insights``, ``drive`` ...); :func:`migrate` applies
every branch head, so domains never fight over one linear history.
"""

from cordvault.db.base import Base
from cordvault.db.engine import create_engine_for, make_sessionmaker, migrate

__all__ = ["Base", "create_engine_for", "make_sessionmaker", "migrate"]
