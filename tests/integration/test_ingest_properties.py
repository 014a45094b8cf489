"""Whatever arrives, ingest never raises, never drops, and its counts reconcile (real SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.bootstrap import Hub, bootstrap
from hub.ingest import InboundMessage
from hub.reports.operations import quarantined_messages, store_status
from hub.settings import HubSettings
from tests.factories import event_dict, nhs_number, register_agencies

OWNER = "shire-county-council"

valid_events = st.builds(
    lambda ref, child, summary: json.dumps(
        event_dict(event_id=f"H-{ref}", child={"nhs_number": nhs_number(child)}, summary=summary)
    ).encode(),
    st.integers(0, 30),  # a small pool of record ids, so duplicates and conflicts happen
    st.integers(0, 5),
    st.sampled_from(["Referral from school", "Referral from GP"]),
)
json_values = st.none() | st.booleans() | st.integers() | st.text(max_size=30)
mutated_events = st.builds(
    lambda field, value: json.dumps({**event_dict(), field: value}).encode(),
    st.sampled_from(sorted(event_dict())),
    json_values,
)
messages = st.one_of(valid_events, mutated_events, st.binary(max_size=300))


@pytest.fixture(scope="module")
def shared_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    hub = bootstrap(HubSettings(data_dir=Path(tmp_path_factory.mktemp("props")) / "hub"))
    register_agencies(hub)
    yield hub
    hub.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages, min_size=1, max_size=25))
def test_any_batch_reconciles_and_every_rejection_is_kept(
    shared_hub: Hub, values: list[bytes]
) -> None:
    source = f"inbox:{OWNER}/{uuid4().hex}.jsonl"
    batch = [InboundMessage(source, i + 1, v, OWNER) for i, v in enumerate(values)]
    outcome = shared_hub.ingest.ingest(batch)
    assert outcome.consumed == len(values)

    (ledger,) = [s for s in store_status(shared_hub.store, "t").sources if s.source == source]
    assert (ledger.position, ledger.consumed) == (len(values), len(values))
    assert ledger.accepted + ledger.duplicates + ledger.quarantined == len(values)
    kept = [q for q in quarantined_messages(shared_hub.store) if q.source == source]
    assert len(kept) == ledger.quarantined
    for item in kept:
        assert item.raw == values[item.position - 1] and item.reason
