"""Each practitioner's inbox as they use it: the real `hub serve` on SQLite, a real Chromium,
and the consumers' state made by running them in-process on records published beforehand.

One child: enrolled at Brambleford Primary, allocated to Priya Oduya (sw-0002), under an s47
enquiry (so Bethan Quayle, hp-0001, hears as a member of the multi-agency child protection
team). The police publish an overnight domestic abuse incident (an Operation Encompass notice
for the school's DSL, dsl-100001), an exploitation concern withheld from health, and a
household arrest whose summary they shielded; the local authority's child details shield the
child's "known as" name. Bethan opens the child's chronology, so Priya is told who looked.

The DSL acknowledges the notice with the action taken; Priya opens the record from a
notification (an audited view) and sees who looked; Bethan's inbox names nothing withheld
from her and no shielded value. axe-core finds no violations and the page reflows at 200%.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.bootstrap import Hub, bootstrap
from hub.domain.access import Purpose
from hub.domain.canonical_event import ChildRef
from hub.onboarding import new_agency
from hub.settings import HubSettings
from tests.e2e import test_browser as web
from tests.e2e.test_browser import Server, free_port, hub_cli, login, shot, start, stop
from tests.e2e.test_browser_dpo import OVERFLOW, no_axe_violations
from tests.factories import nhs_number, publish_event
from tests.integration.test_inbox import HEALTH, LA, POLICE, SCHOOL, WITHHELD_FROM_HEALTH, Clock

browser, visits = web.browser, web.visits
# An item's or notice's id is opaque hex and may hold a run of ten digits by chance: the check
# that no URL carries an NHS number looks at URLs with those ids taken out (and for the child).
OPAQUE_ID = re.compile(r"/inbox/(notices|items)/[0-9a-f]{16,}")

NOW = datetime.now(UTC).replace(microsecond=0)
CHILD = nhs_number(401)
CHILD_VOICE = "I hid under the stairs with my brother"
ACTION = "Spoke to the child at breakfast club; mother offered the school's family support."
WITHHELD_REF = "EXPL-77"  # the exploitation concern withheld from health
SHIELDED_SUMMARY = "CANARYSHIELDEDSUMMARY"  # a household arrest's summary, shielded
SHIELDED_KNOWN_AS = "CANARYKNOWNAS"  # the child's known-as name, shielded
AGENCY_NAMES = {
    "shire-county-council": "Shire County Council",
    "shire-constabulary": "Shire Constabulary",
    "shire-icb": "NHS Shire Integrated Care Board",
    "school-100001": "Brambleford Primary School",
}
PEOPLE = ("dsl-100001", "sw-0002", "hp-0001")


@dataclass
class InboxServer(Server):
    data_dir: str = ""  # read afresh to see what the server audited


def publish(
    hub: Hub, agency: dict[str, str], event_id: str, kind: str, at: datetime, **extra: Any
) -> None:
    publish_event(hub, agency, event_id, kind, at, CHILD, source="inbox", **extra)


def run_consumers(hub: Hub) -> None:
    for name in ("encompass", "clocks", "inbox"):
        hub.consumer_runner(name, clock=Clock(NOW)).run_once()


def the_case(hub: Hub) -> None:
    for agency_id, name in AGENCY_NAMES.items():
        agency_type = {"shire-county-council": "local-authority", "shire-constabulary": "police",
                       "shire-icb": "health", "school-100001": "education"}[agency_id]  # fmt: skip
        hub.agencies.register(
            new_agency(agency_id, agency_type, "canonical", NOW - timedelta(days=800), name=name)
        )
    day = timedelta(days=1)
    publish(hub, SCHOOL, "ENR-1", "education.enrolled", NOW - 400 * day,
            details={"school_urn": "100001",
                     "starts_on": (NOW - 400 * day).date().isoformat()})  # fmt: skip
    publish(hub, LA, "CHILD-1", "la.child-details", NOW - 30 * day,
            details={"given_names": ["Kacey"], "family_name": "Trelawney",
                     "date_of_birth": "2017-04-09", "sex": "female",
                     "known_as": SHIELDED_KNOWN_AS},
            shielded_fields=["details.known_as"])  # fmt: skip
    publish(hub, LA, "REF-1", "la.referral", NOW - 40 * day, categories=["neglect"],
            details={"referral_source": "school"})  # fmt: skip
    publish(hub, LA, "SD-1", "la.strategy-discussion", NOW - 30 * day,
            categories=["physical-abuse"])  # fmt: skip
    publish(hub, LA, "ALLOC-1", "la.worker-allocated", NOW - 10 * day,
            details={"practitioner_id": "sw-0002", "role": "social-worker"})  # fmt: skip
    publish(hub, LA, "S47-1", "la.s47-enquiry-started", NOW - 25 * day,
            categories=["physical-abuse"])  # fmt: skip
    run_consumers(hub)
    publish(hub, POLICE, "DA-1", "police.domestic-abuse-incident", NOW - timedelta(hours=3),
            categories=["domestic-abuse"],
            details={"child_present": True, "police_reference": "OE-DA-1",
                     "child_voice": CHILD_VOICE})  # fmt: skip
    publish(hub, POLICE, WITHHELD_REF, "police.exploitation-concern", NOW - timedelta(hours=2),
            categories=["exploitation"], withheld_from=[WITHHELD_FROM_HEALTH])  # fmt: skip
    publish(hub, POLICE, "ARREST-1", "police.household-arrest", NOW - timedelta(hours=1),
            summary=SHIELDED_SUMMARY, shielded_fields=["summary"])  # fmt: skip
    publish(hub, HEALTH, "WNB-1", "health.was-not-brought", NOW - timedelta(hours=1),
            details={"service": "paediatrics", "appointment_type": "outpatient"})  # fmt: skip
    run_consumers(hub)
    # Bethan (another organisation) opens the chronology: Priya is told who looked.
    hub.gate.view(ChildRef(nhs_number=CHILD), "hp-0001", Purpose.CHILD_PROTECTION_ENQUIRY)
    run_consumers(hub)


@pytest.fixture
def new_page(server: Server, browser: Browser, visits: web.Visits) -> Iterator[Callable[..., Page]]:
    """`tests.e2e.test_browser.new_page`'s pages and checks, the ids of inbox forms aside."""
    pages = web.new_page.__wrapped__(server, browser, visits)  # type: ignore[attr-defined]
    yield next(pages)
    visits.urls[:] = [OPAQUE_ID.sub(r"/inbox/\1/ID", u) for u in visits.urls]
    assert [u for u in visits.urls if CHILD in u] == []
    next(pages, None)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InboxServer]:
    work = tmp_path_factory.mktemp("inbox-web")
    data_dir = work / "hub"
    data_dir.mkdir()
    shutil.copy(SAMPLE_DIRECTORY_PATH, data_dir / "practitioners.yaml")
    hub = bootstrap(HubSettings(data_dir=data_dir))
    try:
        the_case(hub)
    finally:
        hub.close()
    tokens = {
        p: hub_cli("token", "issue", "--practitioner", p, "--data-dir", str(data_dir))["token"]
        for p in PEOPLE
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", str(data_dir)]
    process = start([*command, "--port", str(port)], work / "server.log", url)
    try:
        yield InboxServer(url, CHILD, "", tokens, {}, str(data_dir))
    finally:
        stop(process)


def views_by(server: InboxServer, practitioner: str) -> list[str]:
    """The audit ledger's `view` entries for this practitioner (their outcomes), read afresh."""
    hub = bootstrap(HubSettings(data_dir=Path(server.data_dir)))
    try:
        return [
            r.outcome
            for r in hub.audit.all_disclosures()
            if r.practitioner_id == practitioner and r.action == "view"
        ]
    finally:
        hub.close()


def open_inbox(
    new_page: Callable[..., Page], server: Server, who: str, purpose: str, **options: Any
) -> Page:
    page = new_page(**options)
    login(page, server, who, purpose)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your inbox")
    return page


def test_the_dsl_acknowledges_an_encompass_notice_with_the_action_taken(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = open_inbox(new_page, server, "dsl-100001", "child-protection-enquiry")
    link = page.get_by_role("navigation", name="Main").get_by_role("link", name="Inbox")
    expect(link).to_contain_text("Inbox (")
    notices = page.get_by_role("region", name="Operation Encompass notices to acknowledge (1)")
    notice = notices.get_by_role("article")
    expect(notice.get_by_role("heading", level=3)).to_have_text(
        "Domestic abuse incident: Kacey Trelawney"
    )
    expect(notice).to_contain_text(CHILD_VOICE)
    expect(notice).to_contain_text("Child present")
    expect(notice).to_contain_text(" GMT" if NOW.month in (11, 12, 1, 2, 3) else " BST")
    expect(notice).not_to_contain_text(SHIELDED_KNOWN_AS)
    no_axe_violations(page)
    shot(page, "inbox-dsl-notice")

    # Acknowledging without saying what was done is refused, naming the field.
    notice.get_by_role("button", name="Acknowledge").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Action taken: say what you did about this notice.")
    expect(page.get_by_label("Action taken")).to_have_attribute("aria-invalid", "true")
    no_axe_violations(page)

    page.get_by_label("Action taken").fill(ACTION)
    page.get_by_role("button", name="Acknowledge").click()
    expect(page).to_have_url(f"{server.url}/inbox")  # Post/Redirect/Get
    expect(page.get_by_role("status")).to_contain_text("Notice acknowledged")
    expect(
        page.get_by_role("region", name="Operation Encompass notices to acknowledge (0)")
    ).to_contain_text("No notice is waiting for you.")
    done = page.locator("details.acknowledged")
    done.get_by_text("Acknowledged (1)").click()
    expect(done).to_contain_text("Harriet Polwarth")
    expect(done.locator(".action-taken")).to_have_text(ACTION)
    no_axe_violations(page)
    shot(page, "inbox-dsl-acknowledged")


def test_the_allocated_worker_opens_the_record_from_a_notification(
    server: InboxServer, new_page: Callable[..., Page]
) -> None:
    page = open_inbox(new_page, server, "sw-0002", "child-protection-planning")
    items = page.get_by_role("region", name="Notifications")
    told = items.locator("li.item-change", has_text="Domestic abuse incident").first
    expect(told).to_contain_text("new records from NHS Shire Integrated Care Board and Shire")
    expect(told.get_by_role("heading", level=3)).to_contain_text("Kacey Trelawney")
    expect(told).not_to_contain_text(SHIELDED_SUMMARY)
    # Priya may see the exploitation concern (withheld from health only): she is told of it.
    expect(items).to_contain_text("Exploitation concern")
    alerts = page.get_by_role("region", name="Statutory clock alerts (1)")
    expect(alerts.get_by_role("heading", level=3)).to_have_text("Kacey Trelawney")
    overdue = alerts.get_by_role("listitem")  # the assessment is not yet close to its due date
    expect(overdue).to_contain_text("Initial child protection conference to hold by")
    expect(overdue.locator(".late-flag")).to_contain_text("overdue by")
    no_axe_violations(page)
    shot(page, "inbox-allocated-worker")

    before = views_by(server, "sw-0002")
    told.get_by_role("button", name="Open record").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chronology for child")
    expect(page.get_by_role("main")).to_contain_text("Trelawney")
    assert "/chronology/view/" in page.url and CHILD not in page.url
    after = views_by(server, "sw-0002")
    assert len(after) == len(before) + 1  # opening is an audited view
    assert after[-1] in ("disclosed", "partially-disclosed")

    page.goto("/inbox")
    opened = page.locator("li.item-change", has_text="Domestic abuse incident").first
    expect(opened).to_contain_text("you opened the record")
    opened.get_by_role("button", name="Mark done").click()
    expect(page.get_by_role("status")).to_contain_text("marked done")


def test_the_allocated_worker_sees_who_looked_at_their_child(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = open_inbox(new_page, server, "sw-0002", "child-protection-planning")
    looked = page.locator("li.item-access")
    expect(looked).to_have_count(1)
    expect(looked).to_contain_text("Someone looked at this child's record")
    expect(looked).to_contain_text(
        "Bethan Quayle (health practitioner, NHS Shire Integrated Care Board) looked at this "
        "child's record for child protection enquiry, once"
    )
    expect(looked.get_by_role("heading", level=3)).to_contain_text("Kacey Trelawney")


def test_nothing_withheld_or_shielded_reaches_a_health_practitioners_inbox(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = open_inbox(new_page, server, "hp-0001", "child-protection-enquiry")
    items = page.get_by_role("region", name="Notifications")
    # Bethan is told of the records she may see (so this page is not empty) ...
    expect(items).to_contain_text("Domestic abuse incident where the child lives")
    expect(items).to_contain_text("(Shire Constabulary)")
    text = page.locator("body").inner_text()
    # ... and nothing of the one withheld from health, nor any shielded value.
    for hidden in ("Exploitation", WITHHELD_REF, SHIELDED_SUMMARY, SHIELDED_KNOWN_AS):
        assert hidden not in text
    assert WITHHELD_REF not in page.content() and SHIELDED_KNOWN_AS not in page.content()
    no_axe_violations(page)


def test_notices_and_alerts_redirect_and_the_inbox_reflows_at_200_percent(
    server: Server, new_page: Callable[..., Page]
) -> None:
    zoomed = {"viewport": {"width": 640, "height": 800}, "device_scale_factor": 2}
    page = open_inbox(new_page, server, "sw-0002", "child-protection-planning", **zoomed)
    expect(
        page.get_by_role("region", name="Notifications").get_by_role("article").first
    ).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "inbox-200-percent")
    for old in ("/notices", "/alerts"):
        page.goto(old)
        expect(page).to_have_url(f"{server.url}/inbox")
