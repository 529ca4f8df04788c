"""Files that hold personal data or secrets (database, images, mail, secret key) are the service account's alone:
directories 0700 and files 0600, whatever the process umask (which only ever removes bits, so modes are set
explicitly after creating, and files are created with 0600 from the start so they are never briefly readable)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600


def private_directory(path: Path) -> Path:
    """Create `path` (and missing parents) and make `path` itself 0700. Parents are left as they are: they may be
    shared system directories."""
    path.mkdir(parents=True, exist_ok=True)
    _tighten(path, PRIVATE_DIRECTORY)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a file that is 0600 from the moment it exists (an existing file is tightened too)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "wb") as file:
        os.fchmod(file.fileno(), PRIVATE_FILE)
        file.write(data)


def create_private(path: Path) -> BinaryIO:
    """A new file opened for writing, 0600 from the moment it exists; never an existing one (O_EXCL), so a
    random name that collided could not be written through."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    os.fchmod(descriptor, PRIVATE_FILE)
    return os.fdopen(descriptor, "wb")


def private_sqlite_file(database: Path) -> None:
    """Before SQLite opens `database`: its directory exists (0700 when we create it) and the file exists with
    mode 0600. SQLite gives the -wal and -shm files it creates the mode of the database file, so they are 0600
    too; ones left by an earlier run are tightened here."""
    if not database.parent.exists():
        private_directory(database.parent)
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))  # an empty file is a new database
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        if path.exists():
            _tighten(path, PRIVATE_FILE)


def _tighten(path: Path, mode: int) -> None:
    # A file owned by someone else (a shared directory) cannot be changed by us; it is not ours to protect.
    with contextlib.suppress(PermissionError):
        if path.stat().st_mode & 0o777 != mode:
            path.chmod(mode)
