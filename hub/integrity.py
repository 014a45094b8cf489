"""Tamper evidence: RFC 6962 Merkle trees over the stored (encrypted) rows of the event log and
the audit ledger, signed checkpoints, and verification that names what changed.

Each row, in notification order, is a leaf: SHA-256(0x00 || length-prefixed stream id,
version, topic, sealed state). The leaf index (hashes in tree order, with each row's
notification id) and the compact frontier live apart from the rows, so appending is cheap and
verifying a whole store is linear. Checkpoints (log, size, root, time, signer) are signed with
Ed25519 and exported as witness files for partners to keep; `verify` recomputes every leaf from
the rows, checks the index against the signed root, proves consistency with a witness's older
checkpoint, and names each changed, deleted, inserted or reordered row.

One piece (a little over 400 lines): the leaf index, checkpoints and verification share the
leaf encoding and the tree arithmetic, which must never drift apart.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Notification
from eventsourcing.sqlite import SQLiteAggregateRecorder

from hub.adapters.data_keys import DataKeyErasedError, DataKeyMissingError
from hub.adapters.envelope import SealedRowError
from hub.adapters.merkle_index import IndexedLeaf, LeafRow, MerkleIndexStore
from hub.adapters.signing import CheckpointSigner, signature_valid
from hub.domain.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proofs,
    root_of,
    verify_consistency,
    verify_inclusion,
)

WITNESS_FORMAT = "hub-checkpoint-v1"
_PAGE = 2000
_SCAN_PAGE = 5000


_Row = tuple[int, str, int, str, bytes]  # notification id, str(stream id), version, topic, state
_HEX_UUID = re.compile(r"[0-9a-f]{32}")
_topic_parts: dict[str, bytes] = {}


def _length(part: bytes) -> bytes:
    return len(part).to_bytes(4, "big")


def _leaf(stream: str, version: int, topic: str, state: bytes) -> bytes:
    """SHA-256(0x00 || length-prefixed stream id, version, topic, state), as `leaf_hash` of
    the joined parts, with one hashlib call and the topic's part kept per topic."""
    topic_part = _topic_parts.get(topic)
    if topic_part is None:
        encoded = topic.encode()
        topic_part = _topic_parts.setdefault(topic, _length(encoded) + encoded)
    stream_part, version_part = stream.encode(), str(version).encode()
    return hashlib.sha256(
        b"".join(
            (
                b"\x00",
                _length(stream_part),
                stream_part,
                _length(version_part),
                version_part,
                topic_part,
                _length(state),
                state,
            )
        )
    ).digest()


def row_leaf(notification: Notification) -> bytes:
    return _leaf(
        str(notification.originator_id),
        notification.originator_version,
        notification.topic,
        notification.state,
    )


def _uuid_text(stored: str) -> str:
    """str(UUID(stored)) for a stored stream id, without the UUID object for the usual form."""
    if _HEX_UUID.fullmatch(stored):
        h = stored
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return str(UUID(stored))


def checkpoint_bytes(document: dict[str, Any]) -> bytes:
    """What a checkpoint's signature covers: its log, size, root, time and signer."""
    signed = {k: document[k] for k in ("log", "size", "root", "time", "signer")}
    return json.dumps(signed, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Finding:
    log: str
    kind: str  # changed, deleted, inserted, reordered, index-mismatch, bad-signature, inconsistent
    detail: str
    rows: list[int] = field(default_factory=list)


@dataclass
class LogReport:
    log: str
    checkpoint_size: int
    checkpoint_root: str
    rows: int
    pending: int  # rows recorded after the checkpoint (not yet covered)
    consistent_with_witness: bool | None = None


@dataclass
class VerifyReport:
    logs: list[LogReport]
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return not self.findings


class IntegrityService:
    def __init__(
        self,
        recorders: dict[str, ApplicationRecorder],
        index: MerkleIndexStore,
        signer: CheckpointSigner,
        authenticate: Callable[[Notification], object] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._recorders = recorders
        self._index = index
        self._signer = signer
        self._authenticate = authenticate
        self._clock = clock

    def _rows(self, log: str, after: int = 0) -> Iterator[_Row]:
        """Every row after `after`, in notification order, as a plain tuple whose stream id
        is the text `str(notification.originator_id)` would give.

        From a SQLite recorder the rows are read with one query per page straight from its
        table (as `HubStore` does for batch look-ups): verifying reads every row, and
        building a `Notification` and a `UUID` per row costs more than hashing it. Any other
        recorder is read through `select_notifications`."""
        recorder = self._recorders[log]
        if not isinstance(recorder, SQLiteAggregateRecorder):
            start = after + 1
            while True:
                page = recorder.select_notifications(start=start, limit=_PAGE)
                for n in page:
                    yield n.id, str(n.originator_id), n.originator_version, n.topic, n.state
                if len(page) < _PAGE:
                    return
                start = page[-1].id + 1
        uuids = recorder.datastore.originator_id_type == "uuid"
        statement = (
            "SELECT rowid, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {recorder.events_table_name} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        while True:
            with recorder.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, (after, _SCAN_PAGE))
                page = cursor.fetchall()
            for row in page:
                stream = _uuid_text(row[1]) if uuids else row[1]
                yield row[0], stream, row[2], row[3], bytes(row[4])
            if len(page) < _SCAN_PAGE:
                return
            after = page[-1][0]

    def _notification(self, log: str, row: _Row) -> Notification:
        recorder = self._recorders[log]
        uuids = not isinstance(recorder, SQLiteAggregateRecorder) or (
            recorder.datastore.originator_id_type == "uuid"
        )
        return Notification(
            id=row[0],
            originator_id=UUID(row[1]) if uuids else row[1],
            originator_version=row[2],
            topic=row[3],
            state=row[4],
        )

    def extend(self, log: str) -> Frontier:
        """Add every row recorded since the last extension to the log's tree."""
        state = self._index.frontier(log) or {"frontier": Frontier.empty().to_json(), "last": 0}
        frontier = Frontier.from_json(state["frontier"])
        last = int(state["last"])
        batch: list[IndexedLeaf] = []
        for row_id, stream, version, topic, sealed in self._rows(log, last):
            leaf = _leaf(stream, version, topic, sealed)
            batch.append(IndexedLeaf(frontier.size, row_id, stream, version, leaf))
            frontier.append(leaf)
            last = row_id
            if len(batch) >= _PAGE:
                self._index.append(log, batch, {"frontier": frontier.to_json(), "last": last})
                batch = []
        self._index.append(log, batch, {"frontier": frontier.to_json(), "last": last})
        return frontier

    def checkpoint(self) -> dict[str, Any]:
        """Extend both trees, sign a checkpoint of each, and return the witness document."""
        checkpoints = []
        for log in self._recorders:
            frontier = self.extend(log)
            document = {
                "log": log,
                "size": frontier.size,
                "root": frontier.root().hex(),
                "time": self._clock().isoformat(),
                "signer": self._signer.key_id,
            }
            document["signature"] = self._signer.sign(checkpoint_bytes(document)).hex()
            self._index.add_checkpoint(log, document)
            checkpoints.append(document)
        return {
            "format": WITNESS_FORMAT,
            "signer": self._signer.key_id,
            "public_key": self._signer.public_key_hex,
            "checkpoints": checkpoints,
        }

    def latest_checkpoint(self, log: str) -> dict[str, Any] | None:
        """The log's latest signed checkpoint (None before the first)."""
        return self._index.latest_checkpoint(log)

    def verify(self, witness: dict[str, Any] | None = None) -> VerifyReport:
        findings: list[Finding] = []
        reports: list[LogReport] = []
        if witness is not None and witness.get("public_key") != self._signer.public_key_hex:
            findings.append(
                Finding("-", "bad-signature", "the witness file was signed by another key")
            )
        held = {c["log"]: c for c in (witness or {}).get("checkpoints", [])}
        for log in self._recorders:
            latest = self._index.latest_checkpoint(log)
            reference = held.get(log, latest)
            if reference is None:
                continue
            if not signature_valid(
                self._signer.public_key_hex,
                checkpoint_bytes(reference),
                bytes.fromhex(reference["signature"]),
            ):
                findings.append(
                    Finding(log, "bad-signature", "checkpoint signature does not verify")
                )
            recorded = self._index.leaf_rows(log)
            hashes = [leaf[4] for leaf in recorded]
            size = int(reference["size"])
            if len(hashes) < size or root_of(hashes[:size]).hex() != reference["root"]:
                findings.append(
                    Finding(
                        log,
                        "index-mismatch",
                        "the leaf index does not match the signed checkpoint root",
                    )
                )
            report = LogReport(log, size, reference["root"], 0, 0)
            findings += self._compare_rows(log, recorded, report)
            if log in held and latest is not None and int(latest["size"]) >= size:
                new_size = int(latest["size"])
                proof = consistency_proof(hashes, size, new_size) if len(hashes) >= new_size else []
                report.consistent_with_witness = verify_consistency(
                    size,
                    new_size,
                    bytes.fromhex(reference["root"]),
                    bytes.fromhex(latest["root"]),
                    proof,
                )
                if not report.consistent_with_witness:
                    findings.append(
                        Finding(
                            log,
                            "inconsistent",
                            "the log is not an extension of the witness's checkpoint",
                        )
                    )
            reports.append(report)
        self._index.record_verification(time.time(), not findings, len(findings))
        return VerifyReport(reports, findings)

    def last_verification(self) -> dict[str, Any] | None:
        return self._index.last_verification()

    def _compare_rows(self, log: str, recorded: list[LeafRow], report: LogReport) -> list[Finding]:
        recorded_ids = {leaf[1] for leaf in recorded}
        last_recorded = max(recorded_ids, default=0)
        # One pass over the rows, keeping each row's leaf and, for rows the index does not
        # name (pending or inserted), the row itself.
        leaves: dict[int, bytes] = {}
        unindexed: dict[int, _Row] = {}
        for row in self._rows(log):
            leaves[row[0]] = _leaf(row[1], row[2], row[3], row[4])
            if row[0] not in recorded_ids:
                unindexed[row[0]] = row
        report.rows = len(leaves)
        findings: list[Finding] = []
        mismatched: dict[int, LeafRow] = {}
        for leaf in recorded:
            index, row_id, stream, version, recorded_leaf = leaf
            current = leaves.get(row_id)
            if current is None:
                findings.append(
                    Finding(
                        log,
                        "deleted",
                        f"row {row_id} (leaf {index}, stream {stream} version {version}) "
                        "is missing",
                        [row_id],
                    )
                )
            elif current != recorded_leaf:
                mismatched[row_id] = leaf
        by_hash = {leaf[4]: row_id for row_id, leaf in mismatched.items()}
        reported: set[int] = set()
        for row_id in sorted(mismatched):
            if row_id in reported:
                continue
            other = by_hash.get(leaves[row_id])
            if other is not None and other != row_id:
                findings.append(
                    Finding(
                        log, "reordered", f"rows {row_id} and {other} were swapped", [row_id, other]
                    )
                )
                reported |= {row_id, other}
            else:
                index, _, stream, version, _ = mismatched[row_id]
                findings.append(
                    Finding(
                        log,
                        "changed",
                        f"row {row_id} (leaf {index}, stream {stream} "
                        f"version {version}) was changed",
                        [row_id],
                    )
                )
                reported.add(row_id)
        for row_id in sorted(unindexed):
            row = unindexed[row_id]
            if row_id < last_recorded:
                findings.append(
                    Finding(
                        log,
                        "inserted",
                        f"row {row_id} (stream {row[1]} version "
                        f"{row[2]}) was inserted among checkpointed rows",
                        [row_id],
                    )
                )
            else:
                report.pending += 1
                # Not covered by a checkpoint yet: it must at least be a row the hub sealed.
                if self._authenticate is not None and not self._authentic(
                    self._notification(log, row)
                ):
                    findings.append(
                        Finding(
                            log,
                            "inserted",
                            f"row {row_id} after the checkpoint was not "
                            "written by the hub (it fails authentication)",
                            [row_id],
                        )
                    )
        return findings

    def _authentic(self, row: Notification) -> bool:
        assert self._authenticate is not None
        try:
            self._authenticate(row)
        except DataKeyErasedError:
            return True  # an erased child's row: sealed by the hub, no longer readable
        except (SealedRowError, DataKeyMissingError, ValueError):
            return False
        return True

    def inclusion(self, log: str, stream: str, version: int) -> dict[str, Any]:
        """An inclusion proof for one row against the latest checkpoint of its log."""
        return self.inclusions(log, [(stream, version)])[0]

    def inclusions(self, log: str, rows: Sequence[tuple[str, int]]) -> list[dict[str, Any]]:
        """Inclusion proofs for many rows (review packs, transfers): the leaf index read and
        the tree built once for all of them."""
        if not rows:
            return []
        checkpoint = self._index.latest_checkpoint(log)
        recorded = self._index.leaves(log)
        by_row = {(leaf.stream, leaf.version): leaf for leaf in recorded}
        wanted = [by_row.get((s, v)) for s, v in rows]
        if checkpoint is None or any(
            leaf is None or leaf.index >= int(checkpoint["size"]) for leaf in wanted
        ):
            raise LookupError("that row is not covered by a checkpoint yet; run `hub checkpoint`")
        size, root = int(checkpoint["size"]), bytes.fromhex(checkpoint["root"])
        leaves = [leaf for leaf in wanted if leaf is not None]
        proofs = inclusion_proofs([leaf.leaf for leaf in recorded], [x.index for x in leaves], size)
        return [
            {
                "log": log,
                "leaf_index": leaf.index,
                "leaf_hash": leaf.leaf.hex(),
                "tree_size": size,
                "root": checkpoint["root"],
                "proof": [p.hex() for p in proof],
                "verified": verify_inclusion(leaf.leaf, leaf.index, size, proof, root),
                "checkpoint": checkpoint,
            }
            for leaf, proof in zip(leaves, proofs, strict=True)
        ]
