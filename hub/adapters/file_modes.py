"""Files the hub writes are its owner's alone.

Every store file (SQLite databases and their -wal/-shm files, keys, consumer state, inbox
files, exports) holds children's records or what unlocks them. The process creates them with
umask 077 (files 0600, directories 0700) whatever the directory they land in allows, so one
chosen place covers every store, including those added later. Store files an earlier version
left readable by others are narrowed when the hub opens them; a data directory that others may
enter is reported, not changed (it may be a mount the operator shares on purpose).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

PRIVATE = 0o077  # the permission bits for group and others

# What the hub keeps in a data directory (and its consumers/ and keys/ subdirectories).
_STORE_FILES = ("*.sqlite", "*.sqlite-wal", "*.sqlite-shm", "*.sqlite-journal")


def keep_new_files_private() -> None:
    """From now on, this process creates files 0600 and directories 0700 (at most)."""
    os.umask(os.umask(PRIVATE) | PRIVATE)


def _open_to_others(path: Path) -> bool:
    """Group or others may read it. A file gone since it was listed (SQLite removes its `-wal`
    and `-shm` files when the last connection closes, e.g. another process's) is not."""
    try:
        return bool(path.stat().st_mode & PRIVATE)
    except FileNotFoundError:
        return False


def check_data_dir(data_dir: Path) -> list[Path]:
    """Narrow the store files and development keys in the data directory that group or others
    may read to 0600, and warn about a data directory they may enter. A key directory mounted
    elsewhere (HUB_KEYS_DIR) is the deployment's to set. Returns the files narrowed."""
    if _open_to_others(data_dir):
        log.warning(
            "data_dir_open_to_others",
            path=str(data_dir),
            mode=oct(stat.S_IMODE(data_dir.stat().st_mode)),
            advice=f"chmod 700 {data_dir}: it holds children's records and the keys to them",
        )
    candidates = [
        found
        for place in (data_dir, data_dir / "consumers")
        for pattern in _STORE_FILES
        for found in place.glob(pattern)
    ] + [found for found in (data_dir / "keys").rglob("*") if found.is_file()]
    narrowed = []
    for path in candidates:
        if _open_to_others(path):
            try:
                path.chmod(stat.S_IMODE(path.stat().st_mode) & ~PRIVATE)
            except FileNotFoundError:
                continue  # removed meanwhile: nothing left to narrow
            except OSError as error:
                log.warning("store_file_mode_unchanged", path=str(path), error=error.strerror)
                continue
            narrowed.append(path)
    if narrowed:
        log.warning(
            "store_files_narrowed",
            files=[str(p) for p in narrowed],
            detail="group or others could read them; now only the hub's user can",
        )
    return narrowed
