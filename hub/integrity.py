"""Tamper evidence: RFC 6962 Merkle trees over the stored (encrypted) rows of the event log and
the audit ledger, signed checkpoints, and verification that names what changed.

Each row, in notification order, is a leaf: SHA-256(0x00 || length-prefixed stream id,
version, topic, sealed state). The leaf index (hashes in tree order, with each row's
notification id) and the compact frontier live apart from the rows, so appending is cheap and
verifying a whole store is linear. Checkpoints (log, size, root, time, signer) are signed with
Ed25519 and exported as witness files for partners to keep; `verify` recomputes every leaf from
the rows, checks the index against the signed root, proves consistency with a witness's older
checkpoint, and names each changed, deleted, inserted or reordered row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, Notification

from hub.adapters.data_keys import DataKeyErasedError, DataKeyMissingError
from hub.adapters.envelope import SealedRowError
from hub.adapters.merkle_index import IndexedLeaf, MerkleIndexStore
from hub.adapters.signing import CheckpointSigner, signature_valid
from hub.domain.merkle import (
    Frontier,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)

WITNESS_FORMAT = "hub-checkpoint-v1"
_PAGE = 2000


def row_leaf(notification: Notification) -> bytes:
    parts = [
        str(notification.originator_id).encode(),
        str(notification.originator_version).encode(),
        notification.topic.encode(),
        notification.state,
    ]
    return leaf_hash(b"".join(len(p).to_bytes(4, "big") + p for p in parts))


def _canonical(document: dict[str, Any]) -> bytes:
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

    def _rows(self, log: str, after: int = 0) -> Iterator[Notification]:
        start = after + 1
        while True:
            page = self._recorders[log].select_notifications(start=start, limit=_PAGE)
            yield from page
            if len(page) < _PAGE:
                return
            start = page[-1].id + 1

    def extend(self, log: str) -> Frontier:
        """Add every row recorded since the last extension to the log's tree."""
        state = self._index.frontier(log) or {"frontier": Frontier.empty().to_json(), "last": 0}
        frontier = Frontier.from_json(state["frontier"])
        last = int(state["last"])
        batch: list[IndexedLeaf] = []
        for row in self._rows(log, last):
            leaf = row_leaf(row)
            batch.append(
                IndexedLeaf(
                    frontier.size, row.id, str(row.originator_id), row.originator_version, leaf
                )
            )
            frontier.append(leaf)
            last = row.id
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
            document["signature"] = self._signer.sign(_canonical(document)).hex()
            self._index.add_checkpoint(log, document)
            checkpoints.append(document)
        return {
            "format": WITNESS_FORMAT,
            "signer": self._signer.key_id,
            "public_key": self._signer.public_key_hex,
            "checkpoints": checkpoints,
        }

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
                _canonical(reference),
                bytes.fromhex(reference["signature"]),
            ):
                findings.append(
                    Finding(log, "bad-signature", "checkpoint signature does not verify")
                )
            recorded = self._index.leaves(log)
            hashes = [leaf.leaf for leaf in recorded]
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
        return VerifyReport(reports, findings)

    def _compare_rows(
        self, log: str, recorded: list[IndexedLeaf], report: LogReport
    ) -> list[Finding]:
        current = {row.id: row for row in self._rows(log)}
        leaves = {row_id: row_leaf(row) for row_id, row in current.items()}
        report.rows = len(current)
        findings: list[Finding] = []
        recorded_ids = {leaf.notification_id for leaf in recorded}
        last_recorded = max(recorded_ids, default=0)
        mismatched: dict[int, IndexedLeaf] = {}
        for leaf in recorded:
            if leaf.notification_id not in current:
                findings.append(
                    Finding(
                        log,
                        "deleted",
                        f"row {leaf.notification_id} (leaf {leaf.index}, stream "
                        f"{leaf.stream} version {leaf.version}) is missing",
                        [leaf.notification_id],
                    )
                )
            elif leaves[leaf.notification_id] != leaf.leaf:
                mismatched[leaf.notification_id] = leaf
        by_hash = {leaf.leaf: row_id for row_id, leaf in mismatched.items()}
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
                leaf = mismatched[row_id]
                findings.append(
                    Finding(
                        log,
                        "changed",
                        f"row {row_id} (leaf {leaf.index}, stream {leaf.stream} "
                        f"version {leaf.version}) was changed",
                        [row_id],
                    )
                )
                reported.add(row_id)
        for row_id in sorted(set(current) - recorded_ids):
            if row_id < last_recorded:
                row = current[row_id]
                findings.append(
                    Finding(
                        log,
                        "inserted",
                        f"row {row_id} (stream {row.originator_id} version "
                        f"{row.originator_version}) was inserted among checkpointed rows",
                        [row_id],
                    )
                )
            else:
                report.pending += 1
                # Not covered by a checkpoint yet: it must at least be a row the hub sealed.
                if self._authenticate is not None and not self._authentic(current[row_id]):
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
        """Inclusion proofs for many rows, reading the leaf index once (review packs)."""
        checkpoint = self._index.latest_checkpoint(log)
        recorded = self._index.leaves(log)
        by_row = {(leaf.stream, leaf.version): leaf for leaf in recorded}
        hashes = [leaf.leaf for leaf in recorded]
        return [self._inclusion(log, by_row.get((s, v)), checkpoint, hashes) for s, v in rows]

    def _inclusion(
        self,
        log: str,
        leaf: IndexedLeaf | None,
        checkpoint: dict[str, Any] | None,
        hashes: list[bytes],
    ) -> dict[str, Any]:
        if leaf is None or checkpoint is None or leaf.index >= int(checkpoint["size"]):
            raise LookupError("that row is not covered by a checkpoint yet; run `hub checkpoint`")
        size = int(checkpoint["size"])
        proof = inclusion_proof(hashes, leaf.index, size)
        return {
            "log": log,
            "leaf_index": leaf.index,
            "leaf_hash": leaf.leaf.hex(),
            "tree_size": size,
            "root": checkpoint["root"],
            "proof": [p.hex() for p in proof],
            "verified": verify_inclusion(
                leaf.leaf, leaf.index, size, proof, bytes.fromhex(checkpoint["root"])
            ),
            "checkpoint": checkpoint,
        }
