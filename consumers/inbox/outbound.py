"""Delivery beyond the page: an email digest and signed webhooks for new inbox items
(docs/inbox.md, "Delivery beyond the page").

Neither says anything an item says. An email tells an address only how many new items there
are and links to the inbox; a webhook tells an agency system an item's id, type, recipient
and time, and the system reads the item through the authenticated, audited API.

Queueing happens inside the inbox consumer's pass: `queue` writes `outbox:` documents in the
same transaction as the item, so an item is queued exactly once. `send` delivers what is due,
committing after each delivery (a crash between sending and committing sends that one again:
the email repeats a count, the webhook repeats its delivery id). Document names carry only
keyed pseudonyms and item ids (names are stored in clear):

- `outbox:email:<address pseudonym>`: how many new items since the last email to it;
- `outbox:webhook:<name>:<item id>`: one delivery, with its id, attempts and next attempt;
- `sent:email:<address pseudonym>`, `sent:webhook:<name>`: counters for status;
- `sent:dead:webhook:<name>:<item id>`: a delivery given up after its last attempt.

One piece (about 470 lines): the email digest and the webhook deliveries share the outbox
documents, the retry schedule and the commit-per-delivery rule; the configuration
(`channels`) and the signature (`webhook_signature`) are modules of their own.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING, Any

import structlog

from consumers.framework import NoOutbound, Outbound
from consumers.inbox.channels import (
    DEFAULT_RETRY_MINUTES,
    ChannelConfigError,
    ChannelSettings,
    NotificationChannels,
    WebhookChannel,
    configured_channels,
    is_address,
    is_loopback,
)
from consumers.inbox.webhook_signature import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature,
)
from hub.domain.uk_time import UK

if TYPE_CHECKING:
    from pydantic import SecretStr

    from consumers.framework import Document, Documents
    from hub.adapters.pseudonyms import Pseudonymiser
    from hub.domain.access import Practitioner

log = structlog.get_logger("hub.consumers.inbox.outbound")

OUTBOX = "outbox:"
EMAIL_OUTBOX = "outbox:email:"
WEBHOOK_OUTBOX = "outbox:webhook:"
EMAIL_SENT = "sent:email:"
WEBHOOK_SENT = "sent:webhook:"
DEAD_LETTER = "sent:dead:webhook:"
SUBJECT = "New items in your safeguarding hub inbox"
EVENT_TYPE = "hub.inbox.item"
EMAIL_RETRY_MINUTES = DEFAULT_RETRY_MINUTES  # then every 120 minutes until it goes
WEBHOOK_DELIVERIES_PER_PASS = 200
SMTP_TIMEOUT_SECONDS = 30
# An error about one message; any other SMTP error is about the connection, and ends the pass.
_ONE_MESSAGE_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPSenderRefused,
)


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    sender: str
    starttls: bool
    username: SecretStr | None
    password: SecretStr | None

    def connect(self) -> smtplib.SMTP:
        connection = smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS)
        try:
            if self.starttls:
                connection.starttls(context=ssl.create_default_context())
            if self.username is not None and self.password is not None:
                connection.login(self.username.get_secret_value(), self.password.get_secret_value())
        except Exception:
            connection.close()
            raise
        return connection


def digest_text(count: int, link: str) -> str:
    """Everything an email says: how many, and where to read them."""
    items = "1 new item" if count == 1 else f"{count} new items"
    return f"You have {items} in the hub.\n\n{link}\n"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _due(document: Document, now: datetime) -> bool:
    at = document.get("next_attempt_at")
    return at is None or datetime.fromisoformat(at) <= now


def _error_name(error: BaseException) -> str:
    if isinstance(error, urllib.error.URLError) and isinstance(error.reason, BaseException):
        return type(error.reason).__name__
    return type(error).__name__


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is a failed delivery: the signed body goes only to the configured URL."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects())


class ChannelOutbound:
    """The configured channels: `Outbound` for the inbox consumer."""

    def __init__(
        self,
        channels: NotificationChannels,
        smtp: SmtpServer | None,
        public_url: str,
        pseudonyms: Pseudonymiser,
    ) -> None:
        self._channels = channels
        self._smtp = smtp
        self._link = public_url.rstrip("/") + "/inbox"
        self._pseudonyms = pseudonyms

    def address_key(self, address: str) -> str:
        """A keyed pseudonym of an address, for document names (stored in clear)."""
        return self._pseudonyms.source_stream("inbox-email", address.casefold()).hex

    # -- queueing (inside the consumer's pass, committed with the item) ------------------

    def queue(self, documents: Documents, practitioner: Practitioner, item: Document) -> None:
        if self._smtp is not None:
            for address in self._channels.addresses_for(practitioner):
                name = EMAIL_OUTBOX + self.address_key(address)
                pending = documents.get(name) or {"items": 0, "attempts": 0}
                pending["items"] += 1
                pending.setdefault("queued_at", item["created_at"])
                documents.put(name, pending)
        for webhook in self._channels.webhooks_for(practitioner):
            name = f"{WEBHOOK_OUTBOX}{webhook.name}:{item['id']}"
            if documents.get(name) is not None:
                continue
            documents.put(
                name,
                {
                    "delivery_id": str(uuid.uuid4()),
                    "item": {
                        "id": item["id"],
                        "type": item["type"],
                        "practitioner": practitioner.id,
                        "created_at": item["created_at"],
                    },
                    "attempts": 0,
                    "next_attempt_at": None,
                },
            )

    # -- sending (after the pass's items are committed) -----------------------------------

    def send(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        self._send_emails(documents, now, commit)
        for webhook, names in self._webhook_outboxes(documents).items():
            self._send_webhook(webhook, names, documents, now, commit)

    def _send_emails(self, documents: Documents, now: datetime, commit: Callable[[], None]) -> None:
        if self._smtp is None:
            return  # email is off: what is queued waits for it to be switched on
        names = documents.names(EMAIL_OUTBOX)
        documents.load(names)
        addresses = {self.address_key(a): a for a in self._channels.addresses()}
        due: list[tuple[str, str, Document]] = []
        for name in names:
            pending = documents.get(name)
            if pending is None or not _due(pending, now):
                continue
            address = addresses.get(name.removeprefix(EMAIL_OUTBOX))
            if address is None:
                documents.delete(name)  # the address is no longer configured
                log.info("inbox_email_dropped", reason="address-not-configured")
                continue
            due.append((name, address, pending))
        commit()
        if not due:
            return
        try:
            connection = self._smtp.connect()
        except (smtplib.SMTPException, OSError) as error:
            self._emails_failed(due, error, documents, now, commit)
            return
        try:
            for index, (name, address, pending) in enumerate(due):
                try:
                    connection.send_message(self._digest(address, pending["items"], now))
                except _ONE_MESSAGE_ERRORS as error:
                    self._emails_failed([(name, address, pending)], error, documents, now, commit)
                    continue
                except (smtplib.SMTPException, OSError) as error:
                    self._emails_failed(due[index:], error, documents, now, commit)
                    return
                self._email_sent(name, pending, documents, now)
                commit()
        finally:
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def _digest(self, address: str, count: int, now: datetime) -> EmailMessage:
        assert self._smtp is not None
        message = EmailMessage()
        message["From"] = self._smtp.sender
        message["To"] = address
        message["Subject"] = SUBJECT
        message["Date"] = format_datetime(now.astimezone(UK))
        message["Message-ID"] = make_msgid(domain=self._smtp.sender.rpartition("@")[2])
        message.set_content(digest_text(count, self._link))
        return message

    def _email_sent(
        self, name: str, pending: Document, documents: Documents, now: datetime
    ) -> None:
        documents.delete(name)
        counter = EMAIL_SENT + name.removeprefix(EMAIL_OUTBOX)
        sent = documents.get(counter) or {"count": 0, "items": 0}
        sent["count"] += 1
        sent["items"] += pending["items"]
        sent["last_at"] = _stamp(now)
        documents.put(counter, sent)

    def _emails_failed(
        self,
        failed: list[tuple[str, str, Document]],
        error: BaseException,
        documents: Documents,
        now: datetime,
        commit: Callable[[], None],
    ) -> None:
        """Kept, to be tried again after a wait that grows with each failure."""
        for name, _address, pending in failed:
            pending["attempts"] = pending.get("attempts", 0) + 1
            wait = EMAIL_RETRY_MINUTES[min(pending["attempts"], len(EMAIL_RETRY_MINUTES)) - 1]
            pending["next_attempt_at"] = _stamp(now + timedelta(minutes=wait))
            pending["last_error"] = _error_name(error)
            documents.put(name, pending)
        commit()
        # The error's type only: its text may quote an address.
        log.warning("inbox_email_failed", error=_error_name(error), emails=len(failed))

    # -- webhooks ---------------------------------------------------------------------------

    def _webhook_outboxes(self, documents: Documents) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = {}
        for name in documents.names(WEBHOOK_OUTBOX):
            webhook = name.removeprefix(WEBHOOK_OUTBOX).split(":", 1)[0]
            grouped.setdefault(webhook, []).append(name)
        return grouped

    def _send_webhook(
        self,
        name: str,
        outbox: list[str],
        documents: Documents,
        now: datetime,
        commit: Callable[[], None],
    ) -> None:
        """Due deliveries, oldest item first; the first failure ends this webhook's turn in
        the pass (the receiver is unwell: the others keep their place and their attempts)."""
        documents.load(outbox)
        webhook = self._channels.webhook(name)
        pending = [(n, d) for n in outbox if (d := documents.get(n)) is not None]
        due = sorted(
            ((n, d) for n, d in pending if _due(d, now)),
            key=lambda pair: (pair[1]["item"]["created_at"], pair[0]),
        )
        for document_name, delivery in due[:WEBHOOK_DELIVERIES_PER_PASS]:
            if webhook is None:  # removed from the channels file: nowhere to deliver
                self._give_up(
                    name, document_name, delivery, "webhook-not-configured", documents, now
                )
                commit()
                continue
            status, error = self._post(webhook, delivery, now)
            delivery["attempts"] = delivery.get("attempts", 0) + 1
            delivery.setdefault("first_attempt_at", _stamp(now))
            delivery["last_attempt_at"] = _stamp(now)
            if error is None:
                documents.delete(document_name)
                counter = WEBHOOK_SENT + name
                sent = documents.get(counter) or {"count": 0}
                sent["count"] += 1
                sent["last_at"] = _stamp(now)
                documents.put(counter, sent)
                commit()
                continue
            delivery["last_status"] = status
            delivery["last_error"] = error
            retries = webhook.config.retry_minutes
            if delivery["attempts"] > len(retries):
                self._give_up(name, document_name, delivery, error, documents, now)
            else:
                wait = timedelta(minutes=retries[delivery["attempts"] - 1])
                delivery["next_attempt_at"] = _stamp(now + wait)
                documents.put(document_name, delivery)
            commit()
            log.warning(
                "inbox_webhook_failed",
                webhook=name,
                status=status,
                error=error,
                attempts=delivery["attempts"],
            )
            return

    @staticmethod
    def _give_up(
        webhook: str,
        document_name: str,
        delivery: Document,
        error: str,
        documents: Documents,
        now: datetime,
    ) -> None:
        """A dead letter in place of the delivery: ids, attempts and how the last one ended,
        nothing of the payload beyond the item's id."""
        item_id = delivery["item"]["id"]
        documents.delete(document_name)
        documents.put(
            f"{DEAD_LETTER}{webhook}:{item_id}",
            {
                "webhook": webhook,
                "item_id": item_id,
                "delivery_id": delivery["delivery_id"],
                "attempts": delivery.get("attempts", 0),
                "last_status": delivery.get("last_status"),
                "last_error": error,
                "first_attempt_at": delivery.get("first_attempt_at"),
                "last_attempt_at": delivery.get("last_attempt_at"),
                "dead_at": _stamp(now),
            },
        )
        log.error(
            "inbox_webhook_dead_letter",
            webhook=webhook,
            attempts=delivery.get("attempts", 0),
            status=delivery.get("last_status"),
            error=error,
        )

    def payload(self, delivery: Document, now: datetime) -> dict[str, Any]:
        return {
            "type": EVENT_TYPE,
            "id": delivery["delivery_id"],
            "item": dict(delivery["item"]),
            "link": self._link,
            "sent_at": _stamp(now),
        }

    def _post(
        self, webhook: WebhookChannel, delivery: Document, now: datetime
    ) -> tuple[int | None, str | None]:
        """(status, error): error None for a 2xx answer; otherwise the status (if any) and
        the error's type, never its text."""
        body = json.dumps(self.payload(delivery, now), separators=(",", ":")).encode()
        timestamp = int(now.timestamp())
        request = urllib.request.Request(  # noqa: S310 - the URL is checked: https or loopback
            webhook.config.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "safeguarding-hub-inbox-webhook/1",
                TIMESTAMP_HEADER: str(timestamp),
                SIGNATURE_HEADER: signature(webhook.secret, timestamp, body),
                DELIVERY_HEADER: delivery["delivery_id"],
            },
        )
        try:
            with _OPENER.open(request, timeout=webhook.config.timeout_seconds) as response:
                response.read(64 * 1024)
                status = int(response.status)
        except urllib.error.HTTPError as error:
            return error.code, "HTTPError"
        except (urllib.error.URLError, OSError, ValueError) as error:
            return None, _error_name(error)
        if 200 <= status < 300:
            return status, None
        return status, "unexpected-status"

    # -- status ---------------------------------------------------------------------------

    def describe(self, documents: Documents) -> dict[str, Any]:
        """Counts for `hub consumer status` (no addresses, no items)."""
        sent_emails = documents.names(EMAIL_SENT)
        webhook_counters = documents.names(WEBHOOK_SENT)
        documents.load([*sent_emails, *webhook_counters])
        return {
            "outbox_pending": len(documents.names(OUTBOX)),
            "emails_sent": sum((documents.get(n) or {}).get("count", 0) for n in sent_emails),
            "webhooks_delivered": sum(
                (documents.get(n) or {}).get("count", 0) for n in webhook_counters
            ),
            "webhook_dead_letters": len(documents.names(DEAD_LETTER)),
            "email": "on" if self._smtp is not None else "off",
            "webhooks": len(self._channels.webhooks),
        }


def _smtp_server(settings: ChannelSettings) -> SmtpServer | None:
    if settings.smtp_host is None:
        return None
    if settings.smtp_from is None or not is_address(settings.smtp_from):
        raise ChannelConfigError("HUB_SMTP_FROM: set one sender address when HUB_SMTP_HOST is set")
    if (settings.smtp_username is None) != (settings.smtp_password is None):
        raise ChannelConfigError("HUB_SMTP_USERNAME and HUB_SMTP_PASSWORD: set both or neither")
    if settings.smtp_username is not None and not (
        settings.smtp_starttls or is_loopback(settings.smtp_host)
    ):
        raise ChannelConfigError(
            "HUB_SMTP_USERNAME: set HUB_SMTP_STARTTLS too, or the password crosses the network "
            "in clear"
        )
    return SmtpServer(
        host=settings.smtp_host,
        port=settings.smtp_port,
        sender=settings.smtp_from,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
    )


def outbound_for(settings: ChannelSettings, pseudonyms: Pseudonymiser) -> Outbound:
    """The channels this deployment configures; none (`NoOutbound`) without a channels file."""
    channels = configured_channels(settings)
    if channels is None or not (channels.email or channels.webhooks):
        return NoOutbound()
    smtp = _smtp_server(settings) if channels.email else None
    if channels.email and smtp is None:
        log.warning(
            "inbox_email_off",
            reason="HUB_SMTP_HOST is not set",
            addresses=len(channels.addresses()),
        )
    return ChannelOutbound(channels, smtp, settings.public_url, pseudonyms)
