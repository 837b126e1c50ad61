"""Local-directory chunk store: one file per chunk, written atomically.

Layout under the root directory::

    <root>/objects/<l[0:2]>/<l[2:4]>/<locator>    a stored chunk
    <root>/tmp/<random>.part                      a write in progress

A locator is 32 lowercase hex characters of randomness (never derived from content, so equal
chunks of different files stay unlinkable). ``put`` writes the chunk into ``tmp/``, fsyncs it,
then ``os.replace``s it into place and fsyncs the directory, so a reader either sees the whole
chunk or nothing: a crash mid-write leaves only a ``.part`` file, which a later store removes
once it is older than :data:`STALE_PART_SECONDS` (other processes may be writing right now).

Errors: a full disk or exhausted quota -> :class:`StorageFull`; any other OS failure ->
:class:`StorageError` (permanent); an unknown or malformed locator -> :class:`ChunkNotFound`
(malformed locators never touch the filesystem, so they cannot escape the root); a chunk larger
than ``max_chunk_size``, more than ``max_batch`` chunks or a range outside the chunk ->
``ValueError`` (caller bugs).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from cordvault.core.metrics import STORAGE_BYTES
from cordvault.storage.base import (
    NAME_PATTERN,
    Capabilities,
    ChunkNotFound,
    NamedObject,
    StorageError,
    StorageFull,
)

_UPLOADED = STORAGE_BYTES.labels("local", "uploaded")
_DOWNLOADED = STORAGE_BYTES.labels("local", "downloaded")

DEFAULT_MAX_CHUNK_SIZE = 256 * 1024 * 1024
DEFAULT_MAX_BATCH = 64
STALE_PART_SECONDS = 3600
_LOCATOR = re.compile(r"[0-9a-f]{32}")
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


def _os_error(exc: OSError, action: str) -> StorageError:
    if exc.errno in _FULL_ERRNOS:
        return StorageFull(f"local chunk store is full ({os.strerror(exc.errno or 0)})")
    return StorageError(f"local chunk store could not {action}: {exc.strerror or exc}")


class LocalChunkStore:
    """A :class:`~cordvault.storage.base.ChunkStore` in a local directory; thread-safe and
    safe to share between processes (every write goes through a unique temp file)."""

    def __init__(
        self,
        root: Path,
        *,
        max_chunk_size: int = DEFAULT_MAX_CHUNK_SIZE,
        max_batch: int = DEFAULT_MAX_BATCH,
        fsync: bool = True,
    ) -> None:
        """Open (creating if needed) the store at ``root``.

        ``fsync=False`` skips the durability syncs (tests, benchmarks on throwaway dirs).
        Raises :class:`StorageError` if the directory cannot be created.
        """
        self.root = Path(root)
        self._objects = self.root / "objects"
        self._tmp = self.root / "tmp"
        self._fsync = fsync
        self._capabilities = Capabilities(
            max_chunk_size=max_chunk_size,
            ranged_reads=True,
            batch_put=False,
            max_batch=max_batch,
        )
        try:
            # Private to the server's user (0700), whatever the umask.
            for folder in (self.root, self._objects, self._tmp):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise _os_error(exc, "create its directory") from exc
        self._remove_stale_parts()

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _path(self, locator: str) -> Path | None:
        if not _LOCATOR.fullmatch(locator):
            return None
        return self._objects / locator[0:2] / locator[2:4] / locator

    def _remove_stale_parts(self) -> None:
        cutoff = time.time() - STALE_PART_SECONDS
        with contextlib.suppress(OSError), os.scandir(self._tmp) as entries:
            for entry in entries:
                if entry.name.endswith(".part") and entry.stat().st_mtime < cutoff:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)

    def _sync_dir(self, path: Path) -> None:
        if not self._fsync:
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_part(self, data: bytes) -> Path:
        """Write ``data`` to a fresh temp file; on failure nothing is left behind."""
        part = self._tmp / f"{secrets.token_hex(16)}.part"
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if self._fsync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(part)
            raise
        return part

    def put(self, data: bytes) -> str:
        """Store ``data`` atomically and durably; return its new locator."""
        return self._store(data, secrets.token_hex(16))

    def put_named(self, data: bytes, name: str) -> str:
        """Store ``data`` under ``name`` (the name is the locator: 32 hex, like every chunk)."""
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError("an object name is 32 lowercase hex characters")
        return self._store(data, name)

    def scan_named(self) -> Iterator[NamedObject]:
        """Every stored chunk, by walking ``objects/`` (order: mtime in nanoseconds)."""
        for first in _subdirs(self._objects):
            for second in _subdirs(first):
                with contextlib.suppress(FileNotFoundError), os.scandir(second) as entries:
                    for entry in entries:
                        if not _LOCATOR.fullmatch(entry.name):
                            continue
                        with contextlib.suppress(FileNotFoundError):
                            stamp = entry.stat().st_mtime_ns
                            yield NamedObject(entry.name, entry.name, stamp)

    def _store(self, data: bytes, locator: str) -> str:
        if len(data) > self._capabilities.max_chunk_size:
            raise ValueError("chunk larger than max_chunk_size")
        _UPLOADED.inc(len(data))
        path = self._path(locator)
        assert path is not None
        try:
            part = self._write_part(data)
            new_dirs = not path.parent.is_dir()
            try:
                # Both fan-out levels 0700 (mkdir's mode does not apply to created parents).
                path.parent.parent.mkdir(mode=0o700, exist_ok=True)
                path.parent.mkdir(mode=0o700, exist_ok=True)
                os.replace(part, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(part)
                raise
            self._sync_dir(path.parent)
            if new_dirs:  # a fresh fan-out directory is durable only once its parents are synced
                self._sync_dir(path.parent.parent)
                self._sync_dir(self._objects)
        except OSError as exc:
            raise _os_error(exc, "store a chunk") from exc
        return locator

    def put_many(self, chunks: Sequence[bytes]) -> list[str]:
        """Store each chunk in order; if one fails, the ones already stored are deleted."""
        if len(chunks) > self._capabilities.max_batch:
            raise ValueError("more chunks than max_batch")
        for chunk in chunks:
            if len(chunk) > self._capabilities.max_chunk_size:
                raise ValueError("chunk larger than max_chunk_size")
        locators: list[str] = []
        try:
            for chunk in chunks:
                locators.append(self.put(chunk))
        except BaseException:
            for locator in locators:
                self.delete(locator)
            raise
        return locators

    def get(self, locator: str, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of the chunk, reading only those bytes from disk."""
        path = self._path(locator)
        if path is None:
            raise ChunkNotFound()
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            raise ChunkNotFound() from None
        except OSError as exc:
            raise _os_error(exc, "read a chunk") from exc
        try:
            size = os.fstat(fd).st_size
            stop = size if end is None else end
            if not 0 <= start <= stop <= size:
                raise ValueError("range outside the chunk")
            parts: list[bytes] = []
            offset = start
            while offset < stop:
                piece = os.pread(fd, stop - offset, offset)
                if not piece:
                    raise StorageError("local chunk shrank while being read")
                parts.append(piece)
                offset += len(piece)
            _DOWNLOADED.inc(stop - start)
            return b"".join(parts)
        except OSError as exc:
            raise _os_error(exc, "read a chunk") from exc
        finally:
            os.close(fd)

    def delete(self, locator: str) -> None:
        """Remove the chunk; unknown or malformed locators are ignored."""
        path = self._path(locator)
        if path is None:
            return
        try:
            os.unlink(path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise _os_error(exc, "delete a chunk") from exc

    def close(self) -> None:
        """Nothing to release: every call opens and closes its own file descriptors."""


def _subdirs(path: Path) -> list[Path]:
    try:
        with os.scandir(path) as entries:
            return [Path(e.path) for e in entries if e.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
