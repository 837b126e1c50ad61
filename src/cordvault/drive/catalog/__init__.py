"""Disaster recovery: the drive's catalog (every ``drive_`` table) on the chunk store.

- :mod:`~cordvault.drive.catalog.tables`: which tables, how values become JSON (generic over
  the metadata, so tables added later are included);
- :mod:`~cordvault.drive.catalog.records`: the stored format (tagged names, encrypted heads and
  parts; ``docs/drive-format.md``, "Catalog records");
- :mod:`~cordvault.drive.catalog.writer`: snapshots + change journal, one writer at a time
  (``catalog_loop``, run by ``Services.running``);
- :mod:`~cordvault.drive.catalog.recover`: ``cordvault drive recover``.
"""
