"""The outbound feed's CP-IS-style FHIR `Flag` (a recipient with `fhir_flags: true`), against a
real store and a real Kafka-protocol broker (tansu): each plan or looked-after message carries
a Flag that validates as FHIR R4 (`fhir.resources`), built from what the gate released; the end
of a plan closes the same Flag; nothing the feed never sends (NHS numbers, stream ids, shielded
or withheld values) appears in it; a recipient without the option gets no Flag."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.flag import Flag

from consumers.feed import FeedConfigError, load_recipients
from consumers.feed.fhir_flag import FEED_CHILD_SYSTEM, HUB_FLAG_CODES, SNOMED_CT
from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings
from tests.factories import nhs_number, register_agencies
from tests.integration.test_feed_consumer import (
    CASE,
    LA,
    REFUGE,
    SIBLING_NHS,
    SUMMARY_TEXT,
    Publisher,
    event,
    feed_runner,
    read_topic,
    recipient_entry,
    stream_of,
    values,
    write_recipients,
)

PLAN_ENDED = event(LA, "CP-END-1", "la.cp-plan-ended", 2, 1)
PLAN_CORRECTED = event(
    LA, "CP-1", "la.cp-plan-started", 61, 1, revision=2, details={"category": "emotional-abuse"}
)


@pytest.fixture
def topic() -> str:
    return f"hub.feed.flag-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def flag_hub(
    settings: HubSettings,
    tmp_path: Path,
    topic: str,
    kafka_broker: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Hub]:
    path = write_recipients(
        tmp_path / "recipients.yaml",
        recipient_entry("cp-is", topic, fhir_flags=True),
        recipient_entry("gp-alerts", f"{topic}.gp"),  # no Flags
    )
    monkeypatch.setenv("HUB_FEED_RECIPIENTS", str(path))
    monkeypatch.setenv("HUB_FEED_BOOTSTRAP", kafka_broker)
    hub = bootstrap(settings)
    register_agencies(hub)
    yield hub
    hub.close()


def flags_of(messages: list[dict[str, Any]]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(m["kind"], m["revision"]): m["flag"] for m in messages if "flag" in m}


@pytest.mark.kafka
def test_plan_and_looked_after_messages_carry_a_valid_fhir_flag_and_the_end_closes_it(
    flag_hub: Hub, kafka_broker: str, topic: str
) -> None:
    publisher = Publisher(flag_hub)
    publisher.publish(CASE)
    runner, consumer = feed_runner(flag_hub)
    assert runner.run_once().errors == 0
    first = values(read_topic(kafka_broker, topic, 4))
    flags = flags_of(first)
    assert set(flags) == {
        ("la.cp-plan-started", 1),
        ("la.looked-after", 1),
        ("la.looked-after", 2),
    }  # a placement's end is not a status: no Flag
    for flag in flags.values():
        Flag.model_validate(flag)  # valid FHIR R4

    child = consumer.child_pseudonym(stream_of(flag_hub, 1))
    plan_message = next(m for m in first if m["kind"] == "la.cp-plan-started")
    plan = flags[("la.cp-plan-started", 1)]
    assert plan["status"] == "active"
    assert plan["period"] == {"start": plan_message["occurred_at"]}
    assert plan["subject"]["identifier"] == {"system": FEED_CHILD_SYSTEM, "value": child}
    assert plan["author"]["type"] == "Organization"
    assert plan["author"]["identifier"]["value"] == "shire-county-council"
    assert "shire-county-council" in plan["author"]["display"]
    codes = {(c["system"], c["code"]) for c in plan["code"]["coding"]}
    assert codes == {
        (HUB_FLAG_CODES, "child-protection-plan"),
        (SNOMED_CT, "342191000000101"),
    }
    assert plan["category"][0]["coding"][0]["code"] == "safety"
    assert plan["id"] == plan_message["item"]
    looked_after = flags[("la.looked-after", 1)]
    assert looked_after["code"]["coding"][0]["code"] == "looked-after"
    assert looked_after["status"] == "active"
    assert flags[("la.looked-after", 2)]["id"] == looked_after["id"]  # a correction: same Flag

    # The plan ends, and a later correction of its start: one Flag, closed, kept closed.
    publisher.publish([PLAN_ENDED])
    assert runner.run_once().errors == 0
    ended_messages = values(read_topic(kafka_broker, topic, 5))
    ended = flags_of(ended_messages)[("la.cp-plan-ended", 1)]
    Flag.model_validate(ended)
    end_message = next(m for m in ended_messages if m["kind"] == "la.cp-plan-ended")
    assert ended["status"] == "inactive"
    assert ended["id"] == plan["id"]  # the recipient updates the Flag it holds
    assert ended["period"] == {
        "start": plan_message["occurred_at"],
        "end": end_message["occurred_at"],
    }

    records = read_topic(kafka_broker, topic, 5)
    raw = b"\n".join(r.value for r in records)
    secrets = [stream_of(flag_hub, c) for c in (1, 2, 3)] + [nhs_number(c) for c in (1, 2, 3)]
    secrets += [REFUGE, SUMMARY_TEXT, SIBLING_NHS, SIBLING_NHS.replace(" ", "")]
    for secret in secrets:
        assert secret.encode() not in raw, secret

    # The other recipient, not configured for Flags, gets the same events without one.
    gp_runner, _ = feed_runner(flag_hub, "feed-gp-alerts")
    assert gp_runner.run_once().errors == 0
    gp_messages = values(read_topic(kafka_broker, f"{topic}.gp", 5))
    assert gp_messages and not any("flag" in m for m in gp_messages)


@pytest.mark.kafka
def test_a_correction_of_an_ended_plan_keeps_its_flag_closed(
    flag_hub: Hub, kafka_broker: str, topic: str
) -> None:
    publisher = Publisher(flag_hub)
    publisher.publish([*CASE, PLAN_ENDED])
    runner, _ = feed_runner(flag_hub)
    assert runner.run_once().errors == 0
    publisher.publish([PLAN_CORRECTED])
    assert runner.run_once().errors == 0
    messages = values(read_topic(kafka_broker, topic, 6))
    flags = flags_of(messages)
    corrected = flags[("la.cp-plan-started", 2)]
    Flag.model_validate(corrected)
    assert corrected["status"] == "inactive"
    assert corrected["id"] == flags[("la.cp-plan-ended", 1)]["id"]
    assert corrected["period"]["end"] == flags[("la.cp-plan-ended", 1)]["period"]["end"]
    assert (
        json.dumps(corrected).count("emotional") == 0
    )  # details are the message's, not the Flag's


def test_flags_need_a_status_kind(tmp_path: Path) -> None:
    path = write_recipients(
        tmp_path / "recipients.yaml",
        recipient_entry("cp-is", "hub.feed.x", fhir_flags=True, kinds=["la.contact"]),
    )
    with pytest.raises(FeedConfigError, match="fhir_flags"):
        load_recipients(path)
    ok = write_recipients(tmp_path / "ok.yaml", recipient_entry("cp-is", "t", fhir_flags=True))
    assert load_recipients(ok)[0].fhir_flags
