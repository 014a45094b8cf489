"""The file inbox: a directory of `.jsonl` canonical events, one subdirectory per agency.

Layout: `<inbox>/<agency-id>/<name>.jsonl`, one canonical event per line. The subdirectory is
the channel the agency is vouched for on (as a Kafka topic is), so a line claiming another
agency is quarantined. Files are append-only: the hub tracks the last committed line of each
file and resumes after it. Only complete (newline-terminated) lines are read, so a file being
written is never half-read; `hub publish` writes whole files atomically (temp file + rename).
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from hub.domain.canonical_event import CanonicalEvent
from hub.ingest import BatchOutcome, InboundMessage, IngestService

_AGENCY_DIR = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_INCOMING = ".incoming-"  # a file `write_inbox_file` is still writing
_AT_ROOT = "a file at the inbox root belongs to no agency: move it into <inbox>/<agency id>/"
_NOT_AN_AGENCY = (
    "not an agency id (2-63 characters of a-z, 0-9 and '-', as registered): its files are not read"
)
_NESTED = "a directory inside an agency's directory: only that directory's own files are read"
_NOT_JSONL = "not a .jsonl file: only <name>.jsonl files of canonical events are read"


def source_name(agency_id: str, file_name: str) -> str:
    return f"inbox:{agency_id}/{file_name}"


def _complete_lines(path: Path, after_line: int) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if number <= after_line:
                continue
            if not line.endswith(b"\n"):
                return  # still being written
            yield number, line.rstrip(b"\r\n")


class FileInbox:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def files(self) -> list[tuple[str, Path]]:
        """(agency id, file) for every inbox file, in a stable order."""
        if not self.directory.is_dir():
            return []
        found: list[tuple[str, Path]] = []
        for agency_dir in sorted(self.directory.iterdir()):
            if agency_dir.is_dir() and _AGENCY_DIR.match(agency_dir.name):
                found.extend((agency_dir.name, f) for f in sorted(agency_dir.glob("*.jsonl")))
        return found

    def unplaced(self) -> list[tuple[Path, str]]:
        """(path, why) for everything in the inbox that is not read: it belongs to no agency,
        or is not a `.jsonl` file in an agency's directory. Nothing is skipped silently."""
        if not self.directory.is_dir():
            return []
        skipped: list[tuple[Path, str]] = []
        for entry in sorted(self.directory.iterdir()):
            if entry.is_file():
                skipped.append((entry, _AT_ROOT))
            elif entry.is_dir() and not _AGENCY_DIR.match(entry.name):
                skipped.append((entry, _NOT_AN_AGENCY))
            elif entry.is_dir():
                for inner in sorted(entry.iterdir()):
                    if inner.is_dir():
                        skipped.append((inner, _NESTED))
                    elif inner.suffix != ".jsonl" and not inner.name.startswith(_INCOMING):
                        skipped.append((inner, _NOT_JSONL))
        return skipped

    def drain(self, ingest: IngestService, batch_size: int) -> list[BatchOutcome]:
        """Ingest every complete line not yet committed, batch by batch, file by file."""
        outcomes = []
        for agency_id, path in self.files():
            source = source_name(agency_id, path.name)
            committed = ingest.resume_after(source) or 0
            batch: list[InboundMessage] = []
            for number, line in _complete_lines(path, committed):
                if not line.strip():
                    continue  # blank lines carry nothing to lose
                batch.append(InboundMessage(source, number, line, agency_id))
                if len(batch) >= batch_size:
                    outcomes.append(ingest.ingest(batch))
                    batch = []
            if batch:
                outcomes.append(ingest.ingest(batch))
        return outcomes


def write_inbox_file(directory: Path, agency_id: str, name: str, lines: Iterable[bytes]) -> Path:
    """Atomically place a complete `.jsonl` file in the agency's inbox subdirectory."""
    if not _AGENCY_DIR.match(agency_id):
        raise ValueError(f"agency id {agency_id!r} is not a valid inbox directory name")
    target_dir = directory / agency_id
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / f"{name}.jsonl"
    if target.exists():
        raise FileExistsError(f"{target} exists; inbox files are append-only, choose a new name")
    fd, temp_name = tempfile.mkstemp(dir=target_dir, prefix=_INCOMING, suffix=".tmp")
    with os.fdopen(fd, "wb") as handle:
        for line in lines:
            handle.write(line.rstrip(b"\n") + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp_name, target)
    return target


def encode_events(events: Iterable[CanonicalEvent]) -> Iterator[bytes]:
    for event in events:
        yield event.model_dump_json(exclude_none=True).encode()


def purge_lines(directory: Path, needles: Iterable[str]) -> int:
    """Overwrite with spaces, in place, every line of every `.jsonl` file under `directory`
    that contains any of `needles` (a child's identifiers, as people write them), and return
    how many. The file keeps its length and line numbers, so positions already committed stay
    right, ingest skips the blank lines, and an agency appending meanwhile loses nothing."""
    wanted = [needle.encode() for needle in needles if needle]
    purged = 0
    if not wanted or not directory.is_dir():
        return 0
    for path in sorted(directory.rglob("*.jsonl")):
        with path.open("r+b") as handle:
            offset = 0
            for line in handle.readlines():
                content = line.rstrip(b"\r\n")
                if content.strip() and any(needle in content for needle in wanted):
                    here = handle.tell()
                    handle.seek(offset)
                    handle.write(b" " * len(content))
                    handle.seek(here)
                    purged += 1
                offset += len(line)
            handle.flush()
            os.fsync(handle.fileno())
    return purged
