"""Holdings for "Is anyone else involved?" on each store backend (SQLite and PostgreSQL): the
children a hub holds by NHS number (an erased child is not held, nor one known only by a
provisional id), and a partner's published holdings kept in the receiving hub's own store,
only under the partner's registered discovery key, and read back as the latest complete set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.canonical_event import ChildRef
from hub.domain.federation import FederationMessage, KafkaEndpoint, MessageProblem
from hub.federation_discovery import DISCOVERY_SOURCE_PREFIX, serve
from hub.settings import HubSettings
from hub.transports.federation_kafka import Received
from tests.factories import event_days_ago, nhs_number, register_agencies
from tests.integration.test_federation_discovery import NOW, SHIRE_LA, ingest, write_register

HELD, ERASED, WESSEX_ONLY = nhs_number(81), nhs_number(82), nhs_number(83)


def contact(child: dict[str, str], event_id: str) -> bytes:
    return event_days_ago(
        NOW, 3, event_id=event_id, agency=SHIRE_LA, kind="la.contact", child=child
    )


@pytest.fixture
def hubs(partnership_hub: Hub, tmp_path: Path) -> Iterator[tuple[Hub, Hub]]:
    shire = partnership_hub
    wessex = bootstrap(HubSettings(data_dir=tmp_path / "wessex", directory=SAMPLE_DIRECTORY_PATH))
    register_agencies(wessex)
    broker = "127.0.0.1:9"  # nothing is sent over Kafka here
    shire.settings = shire.settings.model_copy(
        update={
            "federation_register": write_register(
                tmp_path / "shire.yaml", "shire", wessex, "wessex", broker
            )
        }
    )
    wessex.settings = wessex.settings.model_copy(
        update={
            "federation_register": write_register(
                tmp_path / "wessex.yaml", "wessex", shire, "shire", broker
            )
        }
    )
    yield shire, wessex
    wessex.close()


def published(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> list[FederationMessage]:
    sent: list[FederationMessage] = []

    def capture(endpoint: KafkaEndpoint, message: FederationMessage) -> None:
        sent.append(message)

    monkeypatch.setattr(hub.discovery, "_send", capture)
    hub.discovery.publish_holdings()
    return sent


def test_the_children_held_are_those_with_an_nhs_number_and_not_erased(
    hubs: tuple[Hub, Hub],
) -> None:
    shire, _ = hubs
    ingest(
        shire,
        contact({"nhs_number": HELD}, "C-1"),
        contact({"nhs_number": ERASED}, "C-2"),
        contact({"nhs_number": HELD}, "C-3"),
    )
    assert shire.discovery.held_nhs_numbers() == sorted([HELD, ERASED])
    shire.erasure.erase_child("dpo-0001", ChildRef(nhs_number=ERASED), "retention period ended")
    assert shire.discovery.held_nhs_numbers() == [HELD]
    digests = shire.discovery.holdings().digests
    assert digests == {shire.discovery_key.holding_digest(HELD)}


def test_a_partner_s_holdings_are_kept_under_its_registered_key_only(
    hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    shire, wessex = hubs
    ingest(wessex, contact({"nhs_number": WESSEX_ONLY}, "W-1"))
    assert shire.discovery.latest_holdings("wessex") is None
    [message] = published(wessex, monkeypatch)
    assert message.type == "holdings" and WESSEX_ONLY not in message.to_bytes().decode()
    received, partner = shire.federation.receive(message.to_bytes())
    shire.discovery.store_holdings(received, partner)
    shire.discovery.store_holdings(received, partner)  # the same message again changes nothing
    holdings = shire.discovery.latest_holdings("wessex")
    assert holdings is not None
    assert holdings.digests == {wessex.discovery_key.holding_digest(WESSEX_ONLY)}
    assert holdings.computed_with(wessex.discovery_key.key_id)

    # Holdings computed with a key other than the registered one are refused, by field.
    other = wessex.federation.seal("holdings", "shire", {**received.body, "key_id": "voprf-r255:0"})
    refused, partner = shire.federation.receive(other.to_bytes())
    with pytest.raises(MessageProblem) as raised:
        shire.discovery.store_holdings(refused, partner)
    assert raised.value.field == "body.key_id"

    # The first part of a newer publication of two hides nothing until the second arrives.
    newer = wessex.federation.seal(
        "holdings", "shire", {**received.body, "holdings_id": "c" * 32, "parts": 2, "digests": ""}
    )
    arriving, partner = shire.federation.receive(newer.to_bytes())
    shire.discovery.store_holdings(arriving, partner)
    assert shire.discovery.latest_holdings("wessex") == holdings


def test_answering_keeps_its_own_position_in_the_inbound_topic(
    hubs: tuple[Hub, Hub], monkeypatch: pytest.MonkeyPatch
) -> None:
    shire, wessex = hubs
    [message] = published(wessex, monkeypatch)
    source = "kafka:hub.federation.discovery-shire:0"
    done = serve(shire.discovery, shire.federation, [Received(source, 7, message.to_bytes())])
    assert done == {"holdings-kept": 1}
    assert shire.store.position(DISCOVERY_SOURCE_PREFIX + source) == 7
    assert shire.store.position(source) is None  # `hub federation receive`'s own is untouched
    document = orjson.loads(message.to_bytes())
    sealed = document["body"]["encrypted"]  # encrypted to Shire's key: change a byte of it
    sealed["ciphertext"] = ("B" if sealed["ciphertext"][0] == "A" else "A") + sealed["ciphertext"][
        1:
    ]
    tampered = orjson.dumps(document)
    done = serve(shire.discovery, shire.federation, [Received(source, 8, tampered)])
    assert done == {"refused: signature does not verify with the sender's registered key": 1}
    assert shire.store.position(DISCOVERY_SOURCE_PREFIX + source) == 8
