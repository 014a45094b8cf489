"""Delivery beyond the page on the real SQLite hub: an email digest to a real SMTP server
(aiosmtpd on a loopback port) that says only how many new items and where, and signed
webhooks to a receiver on a loopback port, retried with backoff and given up as a dead
letter; configuration errors name the field and never the value."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from consumers.framework import ConsumerRunner, NoOutbound
from consumers.inbox import InboxConsumer
from consumers.inbox.channels import ChannelConfigError, load_channels
from consumers.inbox.outbound import SUBJECT, ChannelOutbound, outbound_for
from consumers.inbox.webhook_signature import signature, verify_signature
from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.settings import HubSettings
from tests.factories import nhs_number, publish_event, register_agencies

NOW = datetime.now(UTC).replace(microsecond=0)
LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
CHILD = nhs_number(311)
GIVEN, FAMILY = "Ellowen", "Trevanion-Quist"
SECRET = b"a-shared-secret-of-32-bytes-long"
WORKER_ADDRESS = "worker.one@la.example"
MACPT_ADDRESS = "child-protection-team@la.example"
SENDER = "safeguarding-hub@hub.example"
PUBLIC_URL = "https://hub.example"
SAMPLE_CHANNELS_PATH = (
    Path(__file__).resolve().parents[2] / "hub" / "samples" / "notification-channels.yaml"
)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- a real SMTP server ----------------------------------------------------------------------


class Mailbox:
    """Collects what the SMTP server accepted."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.received.append((list(envelope.rcpt_tos), message_from_bytes(content)))
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.received if address in rcpts]


class SmtpServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.mailbox = Mailbox()
        self._controller: Controller | None = None

    def start(self) -> None:
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


# -- a real webhook receiver ------------------------------------------------------------------


class Receiver:
    """An agency system's endpoint: verifies each delivery's signature and timestamp against
    its clock, and answers with the scripted statuses (then 200)."""

    def __init__(self, clock: Clock, statuses: list[int], always: int | None = None) -> None:
        self.clock = clock
        self.statuses = statuses
        self.always = always
        self.deliveries: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                verified = verify_signature(
                    SECRET,
                    self.headers["X-Hub-Timestamp"],
                    body,
                    self.headers["X-Hub-Signature-256"],
                    now=receiver.clock.now,
                )
                status = receiver.answer()
                receiver.deliveries.append(
                    {
                        "delivery": self.headers["X-Hub-Delivery"],
                        "verified": verified,
                        "status": status,
                        "body": json.loads(body),
                        "raw": body,
                    }
                )
                self.send_response(status if verified else 401)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub-events"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def answer(self) -> int:
        if self.always is not None:
            return self.always
        return self.statuses.pop(0) if self.statuses else 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


@pytest.fixture
def make_receiver() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(
        clock: Clock, statuses: list[int] | None = None, always: int | None = None
    ) -> Receiver:
        receiver = Receiver(clock, statuses or [], always)
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.close()


# -- the hub ----------------------------------------------------------------------------------


def write_channels(settings: HubSettings, text: str) -> Path:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / "webhook.secret").write_bytes(SECRET + b"\n")
    path = settings.data_dir / "notification-channels.yaml"
    path.write_text(text)
    return path


def email_channels(settings: HubSettings) -> None:
    write_channels(
        settings,
        f"""
email:
  - practitioner: sw-0002
    address: {WORKER_ADDRESS}
  - team: macpt:shire-county-council
    address: {MACPT_ADDRESS}
""",
    )


def webhook_channels(settings: HubSettings, url: str, retry_minutes: str = "[1, 5]") -> None:
    write_channels(
        settings,
        f"""
webhooks:
  - name: icb-case-system
    organisation: shire-icb
    url: {url}
    secret_file: webhook.secret
    retry_minutes: {retry_minutes}
""",
    )


@pytest.fixture
def channel_settings(sqlite_settings: HubSettings, smtp_server: SmtpServer) -> HubSettings:
    sqlite_settings.directory = SAMPLE_DIRECTORY_PATH
    sqlite_settings.smtp_host = "127.0.0.1"
    sqlite_settings.smtp_port = smtp_server.port
    sqlite_settings.smtp_from = SENDER
    sqlite_settings.public_url = PUBLIC_URL + "/"
    return sqlite_settings


@pytest.fixture
def open_hub(channel_settings: HubSettings) -> Iterator[Callable[[], Hub]]:
    """Bootstraps the hub once the test has written its channels file."""
    opened: list[Hub] = []

    def open_hub() -> Hub:
        instance = bootstrap(channel_settings)
        register_agencies(instance)
        opened.append(instance)
        return instance

    yield open_hub
    for instance in opened:
        instance.close()


def publish(
    hub: Hub, agency: dict[str, str], event_id: str, kind: str, days_ago: float, **extra: Any
) -> None:
    at = NOW - timedelta(days=days_ago)
    publish_event(hub, agency, event_id, kind, at, CHILD, source="channels", **extra)


def a_case_with_news(hub: Hub) -> None:
    """A named child allocated to sw-0002, an s47 enquiry (the MACPT), then a police record."""
    publish(
        hub,
        LA,
        "CD-1",
        "la.child-details",
        30,
        details={
            "given_names": [GIVEN],
            "family_name": FAMILY,
            "date_of_birth": "2018-05-06",
            "sex": "female",
            "ethnic_category": "M",
        },
    )
    publish(
        hub,
        LA,
        "ALLOC-1",
        "la.worker-allocated",
        10,
        details={"practitioner_id": "sw-0002", "role": "social-worker"},
    )
    publish(hub, LA, "S47-1", "la.s47-enquiry-started", 5, categories=["physical-abuse"])
    publish(
        hub,
        POLICE,
        "DA-1",
        "police.domestic-abuse-incident",
        1,
        categories=["domestic-abuse"],
        details={"child_present": True, "police_reference": "DA-1"},
    )


def runner(hub: Hub, clock: Clock) -> ConsumerRunner:
    return hub.consumer_runner("inbox", clock=clock)


def items_of(hub: Hub, clock: Clock, practitioner_ids: list[str]) -> list[dict[str, Any]]:
    run = runner(hub, clock)
    assert isinstance(run.consumer, InboxConsumer)
    documents = run.documents()
    return [i for p in practitioner_ids for i in run.consumer.items_for(documents, p)]


def team_members(hub: Hub, team: str) -> list[str]:
    return [p.id for p in hub.directory.all() if team in p.teams]


def staff_of(hub: Hub, organisation: str) -> list[str]:
    return [p.id for p in hub.directory.all() if p.organisation == organisation]


def text_of(message: Message) -> str:
    return message.as_string()


# -- email ------------------------------------------------------------------------------------


def test_one_email_per_address_says_only_how_many_and_where(
    channel_settings: HubSettings, open_hub: Callable[[], Hub], smtp_server: SmtpServer
) -> None:
    email_channels(channel_settings)
    hub = open_hub()
    a_case_with_news(hub)
    clock = Clock(NOW)
    runner(hub, clock).run_once()

    worker_items = len(items_of(hub, clock, ["sw-0002"]))
    team_items = len(items_of(hub, clock, team_members(hub, "macpt:shire-county-council")))
    assert worker_items >= 1 and team_items >= 2
    (to_worker,) = smtp_server.mailbox.to(WORKER_ADDRESS)
    (to_team,) = smtp_server.mailbox.to(MACPT_ADDRESS)
    assert len(smtp_server.mailbox.received) == 2
    for message, count in ((to_worker, worker_items), (to_team, team_items)):
        assert message["Subject"] == SUBJECT
        assert message["From"] == SENDER
        body = message.get_payload(decode=True).decode().replace("\r\n", "\n")
        items = "1 new item" if count == 1 else f"{count} new items"
        assert body == f"You have {items} in the hub.\n\n{PUBLIC_URL}/inbox\n"
        whole = text_of(message).lower()
        for never in (
            CHILD,
            GIVEN,
            FAMILY,
            "police",
            "domestic",
            "s47",
            "enquiry",
            "shire-constabulary",
            "shire county",
            "shire-county-council",
            "sw-0002",
        ):
            assert never.lower() not in whole, never

    # Sent once: the next pass has nothing new to say.
    runner(hub, clock).run_once()
    assert len(smtp_server.mailbox.received) == 2
    details = runner(hub, clock).status().details
    assert details["emails_sent"] == 2
    assert details["outbox_pending"] == 0


def test_an_smtp_outage_keeps_the_outbox_and_a_later_pass_delivers(
    channel_settings: HubSettings, open_hub: Callable[[], Hub], smtp_server: SmtpServer
) -> None:
    email_channels(channel_settings)
    hub = open_hub()
    a_case_with_news(hub)
    smtp_server.stop()
    clock = Clock(NOW)
    runner(hub, clock).run_once()
    details = runner(hub, clock).status().details
    assert details["outbox_pending"] == 2
    assert details["emails_sent"] == 0

    smtp_server.start()
    runner(hub, clock).run_once()  # within the backoff: not tried again yet
    assert smtp_server.mailbox.received == []

    clock.now = NOW + timedelta(minutes=1, seconds=1)
    runner(hub, clock).run_once()
    assert {r for rcpts, _ in smtp_server.mailbox.received for r in rcpts} == {
        WORKER_ADDRESS,
        MACPT_ADDRESS,
    }
    assert len(smtp_server.mailbox.received) == 2
    details = runner(hub, clock).status().details
    assert (details["outbox_pending"], details["emails_sent"]) == (0, 2)


# -- webhooks ---------------------------------------------------------------------------------


def test_webhook_retries_with_the_same_delivery_id_until_accepted(
    channel_settings: HubSettings,
    open_hub: Callable[[], Hub],
    make_receiver: Callable[..., Receiver],
) -> None:
    clock = Clock(NOW)
    receiver = make_receiver(clock, statuses=[500, 500])
    webhook_channels(channel_settings, receiver.url)
    hub = open_hub()
    a_case_with_news(hub)

    runner(hub, clock).run_once()  # 500: tried again after 1 minute
    runner(hub, clock).run_once()  # not yet due
    clock.now = NOW + timedelta(minutes=1)
    runner(hub, clock).run_once()  # 500: tried again after 5 more
    clock.now = NOW + timedelta(minutes=6)
    runner(hub, clock).run_once()  # 200, and the rest follow

    expected = items_of(hub, clock, staff_of(hub, "shire-icb"))
    assert expected, "the health practitioner in the MACPT has items"
    first = receiver.deliveries[0]["delivery"]
    assert [d["delivery"] for d in receiver.deliveries[:3]] == [first, first, first]
    assert [d["status"] for d in receiver.deliveries[:3]] == [500, 500, 200]
    assert all(d["verified"] for d in receiver.deliveries)
    accepted = {d["body"]["item"]["id"] for d in receiver.deliveries if d["status"] == 200}
    assert accepted == {i["id"] for i in expected}
    assert len(receiver.deliveries) == 2 + len(expected)

    body = receiver.deliveries[0]["body"]
    item = next(i for i in expected if i["id"] == body["item"]["id"])
    assert body == {
        "type": "hub.inbox.item",
        "id": first,
        "item": {
            "id": item["id"],
            "type": item["type"],
            "practitioner": item["practitioner"],
            "created_at": item["created_at"],
        },
        "link": f"{PUBLIC_URL}/inbox",
        "sent_at": NOW.isoformat(),
    }
    raw = b"".join(d["raw"] for d in receiver.deliveries).decode().lower()
    for never in (CHILD, GIVEN.lower(), "police", "domestic", "s47", item["child_stream"]):
        assert never not in raw, never

    details = runner(hub, clock).status().details
    assert (details["webhooks_delivered"], details["outbox_pending"]) == (len(expected), 0)


def test_a_webhook_that_always_fails_ends_in_a_dead_letter(
    channel_settings: HubSettings,
    open_hub: Callable[[], Hub],
    make_receiver: Callable[..., Receiver],
) -> None:
    clock = Clock(NOW)
    receiver = make_receiver(clock, always=503)
    webhook_channels(channel_settings, receiver.url, retry_minutes="[1, 5]")
    hub = open_hub()
    a_case_with_news(hub)
    for minutes in (0, 1, 6):
        clock.now = NOW + timedelta(minutes=minutes)
        runner(hub, clock).run_once()
    first = receiver.deliveries[0]["delivery"]
    assert [d["delivery"] for d in receiver.deliveries[:3]] == [first] * 3

    run = runner(hub, clock)
    documents = run.documents()
    item_id = receiver.deliveries[0]["body"]["item"]["id"]
    dead = documents.get(f"sent:dead:webhook:icb-case-system:{item_id}")
    assert dead is not None
    assert dead == {
        "webhook": "icb-case-system",
        "item_id": item_id,
        "delivery_id": first,
        "attempts": 3,
        "last_status": 503,
        "last_error": "HTTPError",
        "first_attempt_at": NOW.isoformat(),
        "last_attempt_at": (NOW + timedelta(minutes=6)).isoformat(),
        "dead_at": (NOW + timedelta(minutes=6)).isoformat(),
    }
    assert documents.names(f"outbox:webhook:icb-case-system:{item_id}") == []
    assert run.status().details["webhook_dead_letters"] == 1

    # Given up: never sent again, however many passes.
    seen = sum(1 for d in receiver.deliveries if d["delivery"] == first)
    clock.now = NOW + timedelta(days=1)
    runner(hub, clock).run_once()
    assert sum(1 for d in receiver.deliveries if d["delivery"] == first) == seen


def test_a_receiver_refuses_a_tampered_body_an_old_timestamp_and_a_wrong_secret() -> None:
    body = json.dumps({"type": "hub.inbox.item", "id": "d-1"}).encode()
    at = NOW
    timestamp = int(at.timestamp())
    header = signature(SECRET, timestamp, body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert verify_signature(SECRET, str(timestamp), body, header, now=at)
    assert not verify_signature(SECRET, timestamp, body.replace(b"d-1", b"d-2"), header, now=at)
    assert not verify_signature(SECRET, timestamp + 1, body, header, now=at)  # not what was signed
    assert not verify_signature(SECRET, timestamp, body, header, now=at + timedelta(minutes=6))
    assert verify_signature(
        SECRET,
        timestamp,
        body,
        header,
        max_age=timedelta(minutes=10),
        now=at + timedelta(minutes=6),
    )
    assert not verify_signature(b"another-secret-of-some-length!!", timestamp, body, header, now=at)
    assert not verify_signature(SECRET, "not-a-number", body, header, now=at)
    assert not verify_signature(SECRET, timestamp, body, "sha256=" + "0" * 64, now=at)


# -- configuration ----------------------------------------------------------------------------


def test_without_a_channels_file_nothing_is_sent(channel_settings: HubSettings) -> None:
    instance = bootstrap(channel_settings)
    try:
        assert isinstance(outbound_for(channel_settings, instance.pseudonyms), NoOutbound)
        channel_settings.notification_channels = channel_settings.data_dir / "elsewhere.yaml"
        with pytest.raises(ChannelConfigError, match="cannot read notification channels"):
            outbound_for(channel_settings, instance.pseudonyms)
    finally:
        instance.close()


def test_the_channels_file_can_live_elsewhere(
    channel_settings: HubSettings, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "config" / "channels.yaml"
    elsewhere.parent.mkdir()
    (elsewhere.parent / "hook.secret").write_bytes(SECRET)
    elsewhere.write_text(
        "webhooks:\n  - {name: one, organisation: shire-icb, url: 'https://icb.example/hub',"
        " secret_file: hook.secret}\n"
    )
    channel_settings.notification_channels = elsewhere
    instance = bootstrap(channel_settings)
    try:
        outbound = outbound_for(channel_settings, instance.pseudonyms)
        assert isinstance(outbound, ChannelOutbound)
        assert outbound.describe(instance.consumer_runner("inbox").documents())["webhooks"] == 1
    finally:
        instance.close()


@pytest.mark.parametrize(
    ("text", "field", "secret_value"),
    [
        (
            "webhooks:\n  - {name: a, organisation: shire-icb, url: 'http://10.9.8.7/tok-SECRET1',"
            " secret_file: webhook.secret}\n",
            "webhooks.0.url",
            "tok-SECRET1",
        ),
        (
            "webhooks:\n  - {name: a, organisation: shire-icb, url: 'https://u:pw-SECRET2@x.example/',"
            " secret_file: webhook.secret}\n",
            "webhooks.0.url",
            "pw-SECRET2",
        ),
        (
            "webhooks:\n  - {name: a, organisation: shire-icb, url: 'https://x.example/',"
            " secret_file: /nowhere/SECRET3.key}\n",
            "webhooks.0.secret_file",
            "SECRET3",
        ),
        (
            "email:\n  - {practitioner: sw-0002, address: 'SECRET4 person at la'}\n",
            "email.0.address",
            "SECRET4",
        ),
        (
            "email:\n  - {practitioner: sw-0002, team: t, address: someone@SECRET5.example}\n",
            "email.0",
            "SECRET5",
        ),
        (
            "email:\n  - {practitioner: sw-0002, address: a@b.example, cc: SECRET6@x.example}\n",
            "email.0.cc",
            "SECRET6",
        ),
        (
            "webhooks:\n  - {name: a, organisation: shire-icb, url: 'https://x.example/',"
            " secret_file: webhook.secret, retry_minutes: [0]}\n",
            "webhooks.0.retry_minutes",
            "[0]",
        ),
        ("email: {practitioner: SECRET7}\n", "email", "SECRET7"),
        ("email: [unclosed SECRET8\n", "ParserError", "SECRET8"),
    ],
)
def test_config_errors_name_the_field_never_the_value(
    channel_settings: HubSettings, text: str, field: str, secret_value: str
) -> None:
    write_channels(channel_settings, text)
    instance = bootstrap(channel_settings)
    try:
        with pytest.raises(ChannelConfigError) as raised:
            outbound_for(channel_settings, instance.pseudonyms)
    finally:
        instance.close()
    message = str(raised.value)
    assert field in message
    assert secret_value not in message


def test_a_short_webhook_secret_is_refused(channel_settings: HubSettings) -> None:
    write_channels(
        channel_settings,
        "webhooks:\n  - {name: a, organisation: shire-icb, url: 'https://x.example/',"
        " secret_file: short.secret}\n",
    )
    (channel_settings.data_dir / "short.secret").write_text("tooshort\n")
    instance = bootstrap(channel_settings)
    try:
        with pytest.raises(ChannelConfigError, match=r"webhooks\.0\.secret_file: the secret"):
            outbound_for(channel_settings, instance.pseudonyms)
    finally:
        instance.close()


def test_email_needs_a_sender_address(channel_settings: HubSettings) -> None:
    email_channels(channel_settings)
    channel_settings.smtp_from = None
    instance = bootstrap(channel_settings)
    try:
        with pytest.raises(ChannelConfigError, match="HUB_SMTP_FROM"):
            outbound_for(channel_settings, instance.pseudonyms)
    finally:
        instance.close()


def test_the_sample_channels_file_is_valid(tmp_path: Path) -> None:
    copy = tmp_path / "notification-channels.yaml"
    copy.write_text(SAMPLE_CHANNELS_PATH.read_text())
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "icb-case-system.secret").write_bytes(SECRET)
    channels = load_channels(copy)
    assert [w.name for w in channels.webhooks] == ["icb-case-system"]
    assert channels.webhooks[0].secret == SECRET
    assert len(channels.email) == 2


def test_a_dsl_is_emailed_when_an_encompass_notice_is_delivered(
    channel_settings: HubSettings, open_hub: Callable[[], Hub], smtp_server: SmtpServer
) -> None:
    """The school day case: the notice is in the DSL's inbox before school, and the email
    (the school's own address for its DSLs) says only that there is something to read."""
    write_channels(
        channel_settings,
        """
email:
  - practitioner: dsl-100001
    address: dsl@brambleford.example
""",
    )
    hub = open_hub()
    school = {"id": "school-100001", "type": "education"}
    publish(
        hub,
        school,
        "ENR-1",
        "education.enrolled",
        400,
        details={
            "school_urn": "100001",
            "starts_on": (NOW - timedelta(days=400)).date().isoformat(),
        },
    )
    publish(
        hub,
        POLICE,
        "DA-9",
        "police.domestic-abuse-incident",
        0.5,
        categories=["domestic-abuse"],
        summary="Officers attended; CANARY-DSL",
        details={"child_present": True, "police_reference": "OE-DSL-9"},
    )
    hub.consumer_runner("encompass", clock=Clock(NOW)).run_once()
    (message,) = smtp_server.mailbox.to("dsl@brambleford.example")
    assert message["Subject"] == SUBJECT
    body = message.get_payload()
    assert "You have 1 new item in the hub." in body and f"{PUBLIC_URL}/inbox" in body
    for secret in (CHILD, "CANARY", "OE-DSL-9", "domestic", "Constabulary"):
        assert secret not in str(message)
    # Delivered once: another pass sends nothing more.
    hub.consumer_runner("encompass", clock=Clock(NOW)).run_once()
    assert len(smtp_server.mailbox.to("dsl@brambleford.example")) == 1
