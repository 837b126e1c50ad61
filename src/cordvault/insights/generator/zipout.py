"""A deterministic, streaming zip writer: same inputs, same bytes.

Every entry gets a fixed timestamp, permissions and creator system, and large entries are
written through ``ZipFile.open(..., "w", force_zip64=True)`` so nothing is held in memory.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import orjson


class PackageZip:
    """Writes entries of one package zip; use as a context manager."""

    def __init__(self, path: Path, level: int, year: int) -> None:
        self._level = level
        self._date_time = (year, 6, 14, 12, 0, 0)
        method = zipfile.ZIP_DEFLATED if level > 0 else zipfile.ZIP_STORED
        self._method = method
        self._zip = zipfile.ZipFile(path, "w", compression=method, allowZip64=True)
        self.names: list[str] = []

    def __enter__(self) -> PackageZip:
        return self

    def __exit__(self, *exc: object) -> None:
        self._zip.close()

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._date_time)
        info.compress_type = self._method
        info._compresslevel = self._level  # type: ignore[attr-defined]  # no public setter in 3.11
        info.external_attr = 0o644 << 16
        info.create_system = 3
        self.names.append(name)
        return info

    def write_bytes(self, name: str, data: bytes) -> None:
        """A small entry written at once."""
        with self._zip.open(self._info(name), "w") as out:
            out.write(data)

    def write_json(self, name: str, value: object) -> None:
        """A small JSON entry (UTF-8, not ASCII-escaped, like Discord's)."""
        self.write_bytes(name, orjson.dumps(value))

    @contextmanager
    def stream(self, name: str) -> Iterator[IO[bytes]]:
        """A large entry, written piece by piece."""
        with self._zip.open(self._info(name), "w", force_zip64=True) as out:
            yield out
