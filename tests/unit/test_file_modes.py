"""Narrowing store file modes copes with SQLite removing its -wal/-shm files meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.adapters import file_modes


def test_a_store_file_removed_after_it_was_listed_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process closing the last connection removes `events.sqlite-wal` between the
    listing and the mode check: starting up must not fail on it (an ingest worker did)."""
    data_dir = tmp_path / "hub"
    data_dir.mkdir(mode=0o700)
    kept = data_dir / "events.sqlite"
    kept.write_bytes(b"")
    kept.chmod(0o644)
    gone = data_dir / "events.sqlite-wal"
    real_glob = Path.glob

    def listing_a_vanished_file(self: Path, pattern: str) -> Iterator[Path]:
        found = list(real_glob(self, pattern))
        if self == data_dir and pattern.endswith("-wal"):
            found.append(gone)  # listed, then removed before it is looked at
        return iter(found)

    monkeypatch.setattr(Path, "glob", listing_a_vanished_file)
    narrowed = file_modes.check_data_dir(data_dir)
    assert kept in narrowed and gone not in narrowed
    assert kept.stat().st_mode & 0o077 == 0
