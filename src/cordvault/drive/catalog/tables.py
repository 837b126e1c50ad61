"""Which tables a catalog snapshot holds, and how their values become JSON and back.

Generic on purpose: a snapshot holds **every table of the shared SQLAlchemy metadata whose
name starts with** ``drive_``, except tables marked ``info={"catalog": False}`` (the login
throttle, the catalog's own bookkeeping). A drive table added later is in the next snapshot
without touching this package; :func:`unlisted_tables` reports a ``drive_`` table the
database has but the metadata lacks (a models module nobody imported), which the writer logs
as an error and a test checks against a fully migrated database.

Values are encoded by their Python type (format version 1, ``docs/drive-format.md``):
``None``, ``bool``, ``int``, ``str`` and finite ``float`` as themselves; everything else as a
one-key object: ``{"b64": ...}`` bytes, ``{"dt": ISO 8601}`` datetime (an aware one keeps its
offset), ``{"date": ...}``, ``{"dec": "..."}`` Decimal, ``{"uuid": ...}``, ``{"json": value}``
a JSON column's dict or list. A JSON object in an encoded row is therefore always a tag.
"""

from __future__ import annotations

import base64
import hashlib
import importlib
import math
import uuid
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import Connection, Table, inspect, select

from cordvault.db.base import Base

PREFIX = "drive_"
# Modules whose import registers drive tables on the metadata (the catalog's own included).
_MODEL_MODULES = ("cordvault.drive.models", "cordvault.drive.catalog.models")


def catalog_tables() -> list[Table]:
    """The tables a snapshot holds, parents before children (foreign-key order)."""
    for module in _MODEL_MODULES:
        importlib.import_module(module)
    return [
        table
        for table in Base.metadata.sorted_tables
        if table.name.startswith(PREFIX) and table.info.get("catalog", True)
    ]


DERIVED_PREFIXES = ("drive_search",)
"""Tables that are indexes derived from catalog rows, not data: SQLite's FTS5 name index and
its shadow tables (``drive/search.py``). Triggers fill them when recovered rows are inserted."""


def unlisted_tables(conn: Connection) -> list[str]:
    """``drive_`` tables in the database that the metadata does not know (never snapshotted),
    derived index tables (:data:`DERIVED_PREFIXES`) aside."""
    known = set(Base.metadata.tables)
    names = inspect(conn).get_table_names()
    return sorted(
        n
        for n in names
        if n.startswith(PREFIX) and n not in known and not n.startswith(DERIVED_PREFIXES)
    )


def key_columns(table: Table) -> list[str]:
    """The primary key's column names (every catalog table has one)."""
    names = [column.name for column in table.primary_key.columns]
    if not names:
        raise ValueError(f"table {table.name} has no primary key")
    return names


def encode_value(value: Any) -> Any:
    """One column value as JSON (see the module docstring)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("non-finite floats are not stored")
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return {"b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    if isinstance(value, uuid.UUID):
        return {"uuid": str(value)}
    if isinstance(value, dict | list):
        return {"json": value}
    raise TypeError(f"cannot store a {type(value).__name__} in a catalog snapshot")


def decode_value(value: Any) -> Any:
    """The inverse of :func:`encode_value` (``ValueError`` on an unknown tag)."""
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        raise ValueError("a tagged value has exactly one key")
    ((tag, inner),) = value.items()
    if tag == "b64":
        return base64.b64decode(inner, validate=True)
    if tag == "dt":
        return datetime.fromisoformat(inner)
    if tag == "date":
        return date.fromisoformat(inner)
    if tag == "dec":
        return Decimal(inner)
    if tag == "uuid":
        return uuid.UUID(inner)
    if tag == "json":
        return inner
    raise ValueError(f"unknown value tag {tag!r}")


def encode_row(values: Sequence[Any]) -> list[Any]:
    """A database row (values in column order) as a JSON list."""
    return [encode_value(v) for v in values]


def encode_key(values: Sequence[Any]) -> str:
    """A stable text form of an encoded primary key (for dictionaries and diffs)."""
    return orjson.dumps(list(values)).decode()


def decode_key(text: str) -> list[Any]:
    """The encoded primary key values :func:`encode_key` made."""
    values: list[Any] = orjson.loads(text)
    return values


def row_digest(encoded: list[Any]) -> bytes:
    """16 bytes identifying an encoded row's content (what the journal diff compares)."""
    return hashlib.blake2b(orjson.dumps(encoded), digest_size=16).digest()


def read_table(conn: Connection, table: Table, batch: int = 1000) -> Iterator[list[Any]]:
    """Every row of ``table``, encoded, in primary-key order, fetched ``batch`` at a time."""
    columns = list(table.columns)
    query = select(*columns).order_by(*table.primary_key.columns)
    result = conn.execution_options(yield_per=batch).execute(query)
    for values in result:
        yield encode_row(tuple(values))
