"""The shared database layer: transactions and savepoints behave on SQLite as on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select

from cordvault.db import create_engine_for, make_sessionmaker


def test_released_savepoint_is_rolled_back_with_its_transaction(db_url: str) -> None:
    """pysqlite's own BEGIN handling let a first SAVEPOINT start (and its RELEASE commit) the
    transaction, so rolling back the outer transaction left the savepoint's rows behind."""
    engine = create_engine_for(db_url)
    meta = MetaData()
    table = Table("t", meta, Column("v", Integer))
    meta.create_all(engine)
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        session.execute(select(table.c.v)).all()  # a read first: no write has begun anything
        nested = session.begin_nested()
        session.execute(table.insert().values(v=2))
        nested.commit()  # RELEASE SAVEPOINT
        session.execute(table.insert().values(v=3))
        session.rollback()
    with sessions() as session:
        assert session.execute(select(table.c.v)).scalars().all() == []
    with sessions.begin() as session:
        session.execute(table.insert().values(v=1))
        nested = session.begin_nested()
        session.execute(table.insert().values(v=2))
        nested.rollback()
    with sessions() as session:
        assert session.execute(select(table.c.v)).scalars().all() == [1]
    engine.dispose()


def test_failed_transaction_leaves_nothing(db_url: str) -> None:
    engine = create_engine_for(db_url)
    meta = MetaData()
    table = Table("u", meta, Column("v", Integer))
    meta.create_all(engine)
    sessions = make_sessionmaker(engine)

    def insert_then_fail() -> None:
        with sessions.begin() as session:
            session.execute(table.insert().values(v=1))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        insert_then_fail()
    with sessions() as session:
        assert session.execute(select(table.c.v)).scalars().all() == []
    engine.dispose()
