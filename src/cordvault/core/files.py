"""Writing files safely, once for every domain: atomic replacement and create-once secrets.

- :func:`atomic_output` / :func:`atomic_write`: the new content goes to a temporary file in the
  destination's directory (``.<name>.<random>.part``, created exclusively), is flushed and
  fsynced, gets its final mode and is renamed onto the destination with ``os.replace``; the
  directory is then fsynced so the rename survives a crash. Readers see the old file or the
  whole new one, never a partial one; on any error the temporary file is removed and the
  destination is untouched.
- :func:`read_or_create_secret`: a key file generated on first use (``O_CREAT | O_EXCL``), so of
  several processes starting at once exactly one writes it and all of them read the same key.
- :func:`make_private_dirs`: the missing directories of a path, created ``0700``;
  :func:`private_dir` does the same for a state directory (``DATA_DIR``) and warns when an
  existing one is open to other users (it is not changed: the operator decides);
  :func:`create_private_file`: an empty ``0600`` file, unless one exists (the SQLite database).

Files created here are ``0600`` and directories ``0700`` whatever the process umask; the modes
are set explicitly. Directories that already exist are left alone (they may be a user's own
output folder).
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and its missing parents with mode 0700; existing ones are unchanged."""
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # created meanwhile by someone else: theirs to set up
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask


def fsync_dir(path: Path) -> None:
    """Make a rename or a file creation in directory ``path`` durable (best effort: some
    filesystems refuse to fsync a directory)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(path: Path, *, mode: int = FILE_MODE) -> Iterator[BinaryIO]:
    """Yield a binary file whose content replaces ``path`` when the block ends without error.

    Missing parent directories are created 0700 (see the module docstring for the rest).
    """
    make_private_dirs(path.parent)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data`` atomically and durably (see :func:`atomic_output`)."""
    with atomic_output(path, mode=mode) as out:
        out.write(data)


def read_or_create_secret(path: Path, make: Callable[[], bytes], *, wait: float = 2.5) -> bytes:
    """The content of the secret file ``path``, written first with ``make()`` if it is absent.

    The file is created with ``O_CREAT | O_EXCL`` and mode 0600, written, fsynced, and its
    directory fsynced; a process that finds it already created waits up to ``wait`` seconds for
    the creator's content. If it is still empty then (a creator died between creating and
    writing it), ``b""`` is returned and the caller decides. If writing fails the file is
    removed, so the next start tries again. Missing directories are created 0700.
    """
    make_private_dirs(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    else:
        try:
            with os.fdopen(fd, "wb") as out:
                content = make()
                os.fchmod(out.fileno(), FILE_MODE)
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)
        return content
    deadline = time.monotonic() + wait
    while True:
        data = path.read_bytes()
        if data or time.monotonic() >= deadline:
            return data
        # Another process created the file and has not written it yet.
        time.sleep(0.02)


def private_dir(path: Path, *, what: str = "directory") -> Path:
    """Create ``path`` (and parents) with mode 0700; warn if an existing one is open to others.

    The warning names the mode, never the contents. ``what`` names the directory in it (e.g.
    ``DATA_DIR``).
    """
    if not path.is_dir():
        make_private_dirs(path)
        return path
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning(
            "%s %s is accessible by other users (mode %04o); run chmod 700 on it",
            what,
            path,
            mode,
        )
    return path


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (an existing file is kept)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return
    os.close(fd)
