"""Rebuild the drive's tables from the chunk store alone: the newest valid snapshot + journal.

:func:`recover` needs only the master key (the catalog keys derive from it), the chunk store
(channel ids or the local store path) and an empty, migrated database:

1. **Find** the record heads: ``scan_named`` lists every object of the store (Discord: every
   channel's history, 100 messages a request, newest first); a name is a head when its tag
   verifies under the name key (no download needed). Each head is downloaded and
   authenticated; a damaged one is skipped with a warning.
2. **Choose**: records are grouped by epoch (a writer's term); epochs are tried newest first
   (by storage order), and within one its snapshots newest first. A snapshot whose parts are
   missing, truncated or tampered with is skipped with a warning and the one before it is
   tried, so the journal records after it are still replayed.
3. **Replay** the epoch's journal records from the snapshot's sequence number + 1 while they
   follow one another; a damaged record or a gap stops the replay (warning: later changes are
   lost).
4. **Load** the rows in one transaction, parents before children (rows of a table that refers
   to itself, like folders, parent first), reset PostgreSQL sequences, and list the records
   found in ``drive_catalog_objects`` so retention deletes them later.

The database must hold no drive data: no account, and no row the recovered state lacks (rows
a migration seeds, like the root folder, are fine). Rows are folded in memory (about 1 KB per
file and folder): recovery is an offline, one-off operation.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Integer, Table, delete, func, insert, select, text

from cordvault.core.errors import CordvaultError, ErrorCode
from cordvault.drive.catalog import tables as tbl
from cordvault.drive.catalog.records import (
    CatalogDamaged,
    CatalogKeys,
    Header,
    open_head,
    parse_body,
    read_body,
)
from cordvault.drive.catalog.writer import read_schema, register_objects
from cordvault.drive.models import DriveUser, utcnow
from cordvault.storage.base import NamedChunkStore, NamedObject, StorageError

log = logging.getLogger(__name__)
_BATCH = 500

State = dict[str, dict[str, dict[str, Any]]]
"""table -> encoded primary key -> encoded row (column -> value)."""


@dataclass
class Found:
    """A record head found on the store."""

    header: Header
    inline: bytes
    obj: NamedObject


@dataclass
class RecoveryReport:
    """What :func:`recover` restored, and what it had to skip."""

    objects_scanned: int = 0
    records_found: int = 0
    epoch: str = ""
    snapshot_seq: int = -1
    snapshot_created_at: str = ""
    journals_applied: int = 0
    restored_up_to: str = ""
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("drive recover: %s", message)


def find_records(store: NamedChunkStore, keys: CatalogKeys, report: RecoveryReport) -> list[Found]:
    """Every authentic record head on the store (damaged ones are reported and skipped)."""
    found = []
    for obj in store.scan_named():
        report.objects_scanned += 1
        if not keys.is_head_name(obj.name):
            continue
        try:
            header, inline = open_head(keys, obj.name, store.get(obj.locator))
        except CatalogDamaged as exc:
            report.warn(f"record head {obj.name[:8]}… skipped: {exc}")
            continue
        except StorageError as exc:
            report.warn(f"record head {obj.name[:8]}… unreadable ({exc.code}); skipped")
            continue
        found.append(Found(header, inline, obj))
    report.records_found = len(found)
    return found


def _apply(state: State, lines: Iterable[Any]) -> None:
    """Fold one record's lines into ``state`` (snapshots are upserts into an empty state)."""
    table = ""
    columns: list[str] = []
    key: list[str] = []
    rows: dict[str, dict[str, Any]] = {}
    for item in lines:
        if isinstance(item, dict):
            table, columns, key = item["table"], item["columns"], item["key"]
            rows = state.setdefault(table, {})
        elif isinstance(item, list) and len(item) == 2 and item[0] == "u" and table:
            row = dict(zip(columns, item[1], strict=True))
            rows[tbl.encode_key([row[k] for k in key])] = row
        elif isinstance(item, list) and len(item) == 2 and item[0] == "d" and table:
            rows.pop(tbl.encode_key(item[1]), None)
        else:
            raise CatalogDamaged("unexpected line in a record body")


def _lines(store: NamedChunkStore, keys: CatalogKeys, found: Found) -> list[Any]:
    try:
        return list(parse_body(read_body(store, keys, found.header, found.inline)))
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogDamaged("record body does not parse") from exc


def _fold(
    store: NamedChunkStore, keys: CatalogKeys, found: list[Found], report: RecoveryReport
) -> State | None:
    """The state of the newest epoch with a valid snapshot, journals replayed."""
    epochs: dict[str, list[Found]] = defaultdict(list)
    for item in found:
        epochs[item.header.epoch].append(item)
    ordered = sorted(epochs.values(), key=lambda items: max(i.obj.order for i in items))
    for items in reversed(ordered):
        snapshots = sorted(
            (i for i in items if i.header.kind == "snapshot"), key=lambda i: -i.header.seq
        )
        journals = {i.header.seq: i for i in items if i.header.kind == "journal"}
        epoch = items[0].header.epoch
        for snap in snapshots:
            state: State = {}
            try:
                _apply(state, _lines(store, keys, snap))
            except CatalogDamaged as exc:
                report.warn(f"snapshot {epoch}:{snap.header.seq} skipped: {exc}")
                continue
            report.epoch, report.snapshot_seq = epoch, snap.header.seq
            report.snapshot_created_at = report.restored_up_to = snap.header.created_at
            seq = snap.header.seq + 1
            while seq in journals:
                try:
                    _apply(state, _lines(store, keys, journals[seq]))
                except CatalogDamaged as exc:
                    report.warn(f"journal {epoch}:{seq} damaged ({exc}); replay stopped")
                    break
                report.journals_applied += 1
                report.restored_up_to = journals[seq].header.created_at
                seq += 1
            later = [s for s in journals if s >= seq]
            if later:
                report.warn(f"{len(later)} journal record(s) after {epoch}:{seq - 1} not applied")
            return state
        if snapshots or journals:
            report.warn(f"epoch {epoch}: no valid snapshot; trying an older epoch")
    return None


# -- loading ----------------------------------------------------------------------------------


def _parent_first(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a table referring to itself (folders), each after the row it refers to."""
    refs = [
        (fk.parent.name, fk.column.name) for fk in table.foreign_keys if fk.column.table is table
    ]
    if not refs:
        return rows
    index = {(remote, row[remote]): n for n, row in enumerate(rows) for _, remote in refs}
    placed: set[int] = set()
    out: list[dict[str, Any]] = []
    for start in range(len(rows)):
        chain = []
        node: int | None = start
        while node is not None and node not in placed and node not in chain:
            chain.append(node)
            parents = [index.get((remote, rows[node][local])) for local, remote in refs]
            node = next((p for p in parents if p is not None and p != node), None)
        for n in reversed(chain):
            placed.add(n)
            out.append(rows[n])
    return out


def _check_empty(conn: Connection, tables: list[Table], state: State) -> None:
    """Refuse a database with accounts, or with rows the recovered state does not have
    (rows a migration seeds, like the root folder, are allowed)."""
    for table in tables:
        key = tbl.key_columns(table)
        keep = {} if table.name == DriveUser.__tablename__ else state.get(table.name, {})
        for values in conn.execute(select(*(table.c[k] for k in key))):
            if tbl.encode_key(tbl.encode_row(tuple(values))) not in keep:
                raise CordvaultError(
                    ErrorCode.CONFLICT,
                    f"the database already holds drive data ({table.name}); recover into a "
                    "new, empty database",
                )


def _load(conn: Connection, state: State, report: RecoveryReport) -> None:
    tables = tbl.catalog_tables()
    known = {t.name for t in tables}
    for name in sorted(set(state) - known):
        report.warn(f"table {name} of the snapshot is unknown to this version; not restored")
    _check_empty(conn, tables, state)
    for table in reversed(tables):
        conn.execute(delete(table))
    for table in tables:
        rows = list(state.get(table.name, {}).values())
        columns = {c.name for c in table.columns}
        extra = {k for row in rows[:1] for k in row} - columns
        if extra:
            report.warn(f"{table.name}: columns {sorted(extra)} unknown to this version dropped")
        decoded = [{k: tbl.decode_value(v) for k, v in row.items() if k in columns} for row in rows]
        decoded = _parent_first(table, decoded)
        for start in range(0, len(decoded), _BATCH):
            conn.execute(insert(table), decoded[start : start + _BATCH])
        report.rows[table.name] = len(decoded)
        _reset_sequence(conn, table)


def _reset_sequence(conn: Connection, table: Table) -> None:
    """PostgreSQL: move an integer primary key's sequence past the restored ids."""
    if conn.dialect.name != "postgresql":
        return
    key = list(table.primary_key.columns)
    if len(key) != 1 or not isinstance(key[0].type, Integer):
        return
    column = key[0]
    top = conn.scalar(select(func.max(column)))
    seq = conn.scalar(
        text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name}
    )
    if seq is not None and top is not None:
        conn.execute(text("SELECT setval(:s, :v)"), {"s": seq, "v": top})


def _objects(found: list[Found]) -> list[dict[str, Any]]:
    rows = []
    for item in sorted(found, key=lambda i: i.obj.order):
        header = item.header
        created = datetime.fromisoformat(header.created_at) if header.created_at else utcnow()
        base = {"record": header.record_id, "kind": header.kind, "created_at": created}
        rows += [{**base, "role": "part", "locator": loc} for loc in header.parts]
        rows.append({**base, "role": "head", "locator": item.obj.locator})
    return rows


def recover(engine: Engine, store: NamedChunkStore, keys: CatalogKeys) -> RecoveryReport:
    """Rebuild the drive tables of ``engine``'s (migrated, empty) database from ``store``.

    Raises ``CordvaultError(NOT_FOUND)`` when no valid snapshot exists, ``CONFLICT`` when the
    database already holds drive data. Warnings (skipped records, gaps, schema differences)
    are in the report.
    """
    report = RecoveryReport()
    found = find_records(store, keys, report)
    state = _fold(store, keys, found, report)
    if state is None:
        raise CordvaultError(
            ErrorCode.NOT_FOUND,
            f"no valid catalog snapshot on the storage backend ({report.objects_scanned} "
            f"objects scanned, {report.records_found} records found); is the master key right?",
        )
    with engine.begin() as conn:
        schema = read_schema(conn)
        recorded = next(
            (
                f.header.schema
                for f in found
                if f.header.epoch == report.epoch and f.header.seq == report.snapshot_seq
            ),
            [],
        )
        if recorded and recorded != schema:
            report.warn(f"snapshot schema {recorded} differs from the database's {schema}")
        _load(conn, state, report)
        register_objects(conn, _objects(found))
    return report
