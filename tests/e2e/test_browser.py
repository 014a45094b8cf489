"""The web pages as practitioners use them: the real `hub serve`, a real Chromium, the demo data.

Each test signs in with a token from `hub token issue` and drives the pages with the keyboard
and mouse as a person would, asserting on what is on screen. Screenshots go to
`test-artifacts/` so a reviewer can look at the pages. Synchronisation is Playwright's own
auto-waiting (`expect`); the only loop is the bounded wait for the server to answer.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hub.api.chronology_views import Held, view_context
from hub.api.page_kit import page_templates
from hub.api.pages import Filters
from hub.api.sessions import Session
from hub.chronology_header import child_header
from hub.disclosure_gate import ChronologyView, ShownEntry
from hub.domain.access import Practitioner, Purpose, Role
from hub.domain.markers import REDACTED, RETRACTED, SHIELDED
from hub.domain.taxonomy import AgencyType
from hub.policies.decision import Action
from hub.policies.redaction import RETRACTED_FIELDS

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NHS_NUMBER = re.compile(r"(?<!\d)\d{3}(?:%20|\+|-)?\d{3}(?:%20|\+|-)?\d{4}(?!\d)")
PRACTITIONERS = ("lcpp-0001", "dsl-100001", "po-0002", "dpo-0001")


def hub_cli(*args: str) -> Any:
    result = subprocess.run(
        [sys.executable, "-m", "hub.cli", *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "HUB_LOG_LEVEL": "warning"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    child: str  # the sibling case child (NHS number) from the demo report
    other_sibling: str  # a sibling nobody broke the glass for in the demo
    tokens: dict[str, str]
    demo: dict[str, Any]


def start(command: list[str], log: Path, url: str) -> subprocess.Popen[bytes]:
    """Start a server and wait (bounded) until /healthz answers."""
    process = subprocess.Popen(command, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)  # bounded poll interval while the port opens, not a sync point
    process.kill()
    raise AssertionError(f"server did not answer within 60 s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("web")
    data_dir = str(work / "hub")
    demo = hub_cli("demo", "--children", "40", "--data-dir", data_dir)
    case = demo["sibling_case_disclosures"]
    # The demo itself breaks the glass for po-0002 on `child` (and ends it), so the denial is
    # shown on a sibling from the same household, whom po-0002 has never seen.
    households = case["scenes"][0]["households"].values()
    siblings = {s["child"] for h in households for s in h["siblings"] if s["child"]}
    tokens = {
        p: hub_cli("token", "issue", "--practitioner", p, "--data-dir", data_dir)["token"]
        for p in (*PRACTITIONERS, "sw-0001")
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", data_dir]
    process = start([*command, "--port", str(port)], log, url)
    try:
        yield Server(url, case["child"], sorted(siblings)[0], tokens, demo)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@dataclass
class Visits:
    """Every URL a browser context asked for, and any Content-Security-Policy complaints."""

    urls: list[str] = field(default_factory=list)
    csp_errors: list[str] = field(default_factory=list)


@pytest.fixture
def visits() -> Visits:
    return Visits()


@pytest.fixture
def new_page(server: Server, browser: Browser, visits: Visits) -> Iterator[Callable[..., Page]]:
    """Pages in fresh browser contexts (own cookie jars); afterwards, check no URL carried an
    NHS number or left the hub, and the CSP never had to block anything."""
    contexts = []

    def make(**options: Any) -> Page:
        context = browser.new_context(
            base_url=server.url, **{"viewport": {"width": 1280, "height": 900}, **options}
        )
        contexts.append(context)
        page = context.new_page()
        page.on("request", lambda request: visits.urls.append(request.url))
        page.on("framenavigated", lambda frame: visits.urls.append(frame.url))
        page.on(
            "console",
            lambda message: (
                visits.csp_errors.append(message.text)
                if "Content Security Policy" in message.text
                else None
            ),
        )
        return page

    yield make
    for context in contexts:
        context.close()
    assert [u for u in visits.urls if NHS_NUMBER.search(u)] == []
    assert [u for u in visits.urls if not u.startswith((server.url, "about:"))] == []
    assert visits.csp_errors == []


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def login(page: Page, server: Server, practitioner: str, purpose: str) -> None:
    page.goto("/")
    page.get_by_label("Access token").fill(server.tokens[practitioner])
    page.get_by_label("Purpose").select_option(purpose)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(f"{server.url}/chronology")
    expect(page.locator(".practitioner-id")).to_have_text(practitioner)


def open_chronology(page: Page, child: str) -> None:
    page.get_by_label("Child's NHS number or provisional id").fill(child)
    page.get_by_role("button", name="Show chronology").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chronology for child")


def test_lead_practitioner_sees_every_agency_and_patterns_and_filters(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "lcpp-0001", "child-protection-planning")
    header = page.get_by_role("banner")
    for text in ("Morag Ellison", "Lead child protection practitioner", "shire-county-council"):
        expect(header).to_contain_text(text)
    expect(header.locator(".purpose")).to_have_text("Child protection planning")
    open_chronology(page, server.child)

    entries = page.locator("ol.timeline > li.entry")
    # The walkthrough's entries, plus the overnight incident the demo publishes afterwards.
    total = len(server.demo["sibling_case_disclosures"]["scenes"][0]["entries"])
    total += server.demo["consumers"]["published_events"]
    expect(entries).to_have_count(total)
    for agency_type, label in (
        ("local-authority", "Local authority"),
        ("police", "Police"),
        ("health", "Health"),
        ("education", "Education"),
    ):
        of_type = page.locator(f"li.entry.agency-{agency_type}")
        expect(of_type.first).to_be_visible()
        expect(of_type.first.locator(".agency-badge")).to_have_text(label)  # never colour alone
    flags = page.locator(".patterns .flag")
    expect(flags.first).to_be_visible()
    expect(page.locator(".patterns")).to_contain_text("Repeated was not brought")
    expect(page.locator(".patterns")).to_contain_text("Child not seen on visit")
    expect(page.locator(".households")).to_contain_text(server.other_sibling)
    shot(page, "chronology-lead-practitioner")

    audit_ref = page.locator("dt:has-text('Audit reference') + dd").inner_text()
    health = page.locator("li.entry.agency-health").count()
    page.get_by_label("Agency", exact=True).select_option("type:health")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#entry-count")).to_contain_text(f"Showing {health} of {total}")
    expect(entries).to_have_count(health)
    assert health < total
    for kind in page.locator("li.entry").evaluate_all("els => els.map(e => e.dataset.agencyType)"):
        assert kind == "health"
    expect(page.locator(".patterns")).to_contain_text("Child not seen on visit")  # not filtered
    shot(page, "chronology-filtered-health")
    # Filtering narrowed what was disclosed: the same disclosure, no new audit entry.
    page.get_by_role("button", name="Show all entries").click()
    expect(entries).to_have_count(total)
    expect(page.locator("dt:has-text('Audit reference') + dd")).to_have_text(audit_ref)
    page.goto("/chronology")
    open_chronology(page, server.child)  # looking the child up again is a new disclosure
    expect(page.locator("dt:has-text('Audit reference') + dd")).not_to_have_text(audit_ref)


def test_school_dsl_sees_a_narrower_view(server: Server, new_page: Callable[..., Page]) -> None:
    page = new_page()
    login(page, server, "dsl-100001", "child-protection-planning")
    open_chronology(page, server.child)
    scenes = server.demo["sibling_case_disclosures"]["scenes"]
    lead, school = len(scenes[0]["entries"]), len(scenes[1]["entries"])
    assert 0 < school < lead
    expect(page.locator("ol.timeline > li.entry")).to_have_count(school)
    expect(page.locator(".outcome")).to_have_text("Partially disclosed")
    expect(page.get_by_text("not shared with your role")).to_be_visible()
    police = page.locator("li.entry.agency-police")
    for index in range(police.count()):  # the agreement redacts police references for DSLs
        references = police.nth(index).locator("dt", has_text="Police reference")
        if references.count():
            expect(police.nth(index).locator(".redacted")).to_have_text("[redacted]")
    shot(page, "chronology-school-dsl")


def test_police_officer_without_relationship_is_denied_then_breaks_glass(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "po-0002", "child-protection-enquiry")
    open_chronology(page, server.other_sibling)
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.locator(".reasons")).to_contain_text("no current legitimate relationship")
    expect(page.locator("li.entry")).to_have_count(0)
    shot(page, "chronology-denied")

    reason = "Browser test: child missing from home, whereabouts unknown"
    page.get_by_label("Reason for emergency access").fill(reason)
    page.get_by_role("button", name="Break glass and view").click()
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("Break-glass access in use")
    expect(banner).to_contain_text(reason)
    expect(page.locator("li.entry").first).to_be_visible()
    shot(page, "chronology-break-glass")

    page.get_by_role("button", name="The emergency is over: end my emergency access now").click()
    expect(page.get_by_role("status")).to_contain_text("Your emergency access to this child has")
    expect(page.locator("li.entry")).to_have_count(0)
    shot(page, "break-glass-ended")
    open_chronology(page, server.other_sibling)
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()

    dpo = new_page()
    login(dpo, server, "dpo-0001", "data-protection-audit")
    dpo.goto("/dpo")
    expect(dpo.locator("li.grant", has_text=reason)).to_contain_text("po-0002")


def test_dpo_reviews_a_break_glass_grant_and_queries_the_ledger(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "dpo-0001", "data-protection-audit")
    page.get_by_role("link", name="Audit and break-glass review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit and break-glass review")
    grant = page.locator("li.grant", has=page.locator(".grant-practitioner", has_text="po-0002"))
    expect(grant.first).to_be_visible()
    grant_ref = grant.first.locator("input[name=grant]").input_value()
    expect(page.locator("#withheld-heading")).to_be_visible()
    shot(page, "dpo-queue")

    grant.first.get_by_label("Appropriate", exact=True).check()
    grant.first.get_by_label("Review notes").fill("Missing child; access was proportionate.")
    grant.first.get_by_role("button", name="Mark reviewed").click()
    expect(page.get_by_role("status")).to_contain_text(f"{grant_ref} marked appropriate")
    expect(page.locator(f"input[name=grant][value='{grant_ref}']")).to_have_count(0)
    shot(page, "dpo-reviewed")

    page.get_by_label("Child's NHS number or provisional id").fill(server.child)
    page.get_by_role("button", name="Show who saw it").click()
    table = page.get_by_role("table")
    expect(table.locator("tbody tr", has_text="lcpp-0001").first).to_be_visible()
    expect(table.locator("th[scope=col]").first).to_have_text("When")
    page.get_by_role("link", name="Back to audit and break-glass review").click()
    page.get_by_label("Practitioner id").fill("po-0002")
    page.get_by_role("button", name="Show what they saw").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What po-0002 was shown")
    expect(page.get_by_role("table").locator("tbody tr", has_text="Denied").first).to_be_visible()
    shot(page, "dpo-practitioner-query")


def test_dpo_pages_refuse_other_roles(server: Server, new_page: Callable[..., Page]) -> None:
    page = new_page()
    login(page, server, "sw-0001", "child-protection-enquiry")
    expect(page.get_by_role("link", name="Audit and break-glass review")).to_have_count(0)
    response = page.goto("/dpo")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Data protection officers only")


def test_keyboard_alone_signs_in_and_reaches_the_form(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Access token")).to_be_focused()
    page.keyboard.insert_text(server.tokens["lcpp-0001"])
    page.keyboard.press("Tab")
    expect(page.get_by_label("Purpose")).to_be_focused()
    purpose = page.get_by_label("Purpose")
    page.keyboard.press("Home")
    for _ in range(8):  # arrow keys, as a keyboard user does (type-ahead is timing-sensitive)
        if purpose.input_value() == "child-protection-planning":
            break
        page.keyboard.press("ArrowDown")
    expect(purpose).to_have_value("child-protection-planning")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Sign in")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{server.url}/chronology")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to main content")).to_be_focused()
    page.keyboard.press("Enter")  # skips the header and navigation
    page.keyboard.press("Tab")
    child = page.get_by_label("Child's NHS number or provisional id")
    expect(child).to_be_focused()
    page.keyboard.insert_text(server.child)
    page.keyboard.press("Enter")
    expect(page.locator("ol.timeline > li.entry").first).to_be_visible()
    # Tab to a navigation link as a keyboard user does (a scripted focus() is not reliably
    # "focus-visible" in Chromium, which made this check flaky) and look at its outline.
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('nav a')"):
            break
    assert page.evaluate("() => document.activeElement.matches('nav a')")
    focus_style = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert focus_style == "solid"


def test_a_post_without_the_csrf_token_is_refused(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "lcpp-0001", "child-protection-planning")
    forms: list[dict[str, str | float | bool]] = [
        {"child": server.child},
        {"child": server.child, "csrf_token": "forged"},
    ]
    for form in forms:
        refused = page.request.post("/chronology", form=form)
        assert refused.status == 403
        assert "Request refused" in refused.text() and 'li class="entry' not in refused.text()
    token = page.locator("input[name=csrf_token]").first.input_value()
    accepted = page.request.post("/chronology", form={"child": server.child, "csrf_token": token})
    assert accepted.status == 200 and "Timeline" in accepted.text()
    login_without_token = page.request.post(
        "/login", form={"token": server.tokens["lcpp-0001"], "purpose": "family-help"}
    )
    assert login_without_token.status == 403


def test_pages_without_a_session_go_to_the_login_page(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    page.goto("/chronology")
    expect(page).to_have_url(f"{server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    login(page, server, "lcpp-0001", "child-protection-planning")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.goto("/chronology")  # the session ended on the server, not just in the browser
    expect(page).to_have_url(f"{server.url}/")
    for method, path in (("GET", "/chronology"), ("GET", "/dpo"), ("POST", "/dpo/who-saw")):
        response = page.request.fetch(path, method=method, max_redirects=0)
        assert response.status == 303 and response.headers["location"] == "/"


def test_no_child_identifier_in_any_url_and_no_sideways_scroll_at_200_percent(
    server: Server, new_page: Callable[..., Page], visits: Visits
) -> None:
    # 640 CSS pixels at device scale 2 is a 1280-pixel-wide window zoomed to 200%.
    zoomed = {"viewport": {"width": 640, "height": 800}, "device_scale_factor": 2}
    page = new_page(**zoomed)
    login(page, server, "lcpp-0001", "child-protection-planning")
    open_chronology(page, server.child)
    page.get_by_label("Harm category").select_option("disengagement")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#entry-count")).to_contain_text("(filtered)")
    overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(overflow) <= 0
    shot(page, "chronology-200-percent")
    page = new_page(**zoomed)
    login(page, server, "dpo-0001", "data-protection-audit")
    page.goto("/dpo")
    page.get_by_label("Child's NHS number or provisional id").fill(server.child)
    page.get_by_role("button", name="Show who saw it").click()
    expect(page.get_by_role("table")).to_be_visible()
    assert page.evaluate(overflow) <= 0
    shot(page, "dpo-who-saw-200-percent")
    assert visits.urls and not [u for u in visits.urls if server.child in u]


def test_redactions_shielding_and_corrections_are_marked(
    server: Server, new_page: Callable[..., Page]
) -> None:
    """The demo's sibling case has no corrected, redacted or shielded entry, so the timeline
    template is rendered here with one of each and shown in the browser with the real CSS."""
    practitioner = Practitioner(
        "dsl-100001", "Harriet Polwarth", "school-100001", AgencyType.EDUCATION, Role.SCHOOL_DSL
    )
    at = datetime(2024, 3, 7, 7, 40, tzinfo=UTC)

    def entry(ref: str, **fields: Any) -> ShownEntry:
        base: dict[str, Any] = {
            "ref": ref,
            "agency": "shire-constabulary",
            "agency_type": "police",
            "kind": "police.domestic-abuse-incident",
            "categories": ["domestic-abuse"],
            "occurred_at": at,
            "recorded_at": at + timedelta(hours=3),
            "received_at": at + timedelta(days=1),
            "summary": "Officers attended a domestic incident",
            "details": {"police_reference": REDACTED, "victim_address": SHIELDED},
            "sensitivity": "sensitive",
            "status": "current",
            "replaced_by": None,
            "household_ref": None,
            "redacted": ["details.police_reference"],
            "shielded": ["details.victim_address"],
            "withheld_from": None,
            "lawful_basis": "legal-obligation",
        }
        return ShownEntry(**(base | fields))

    entries = [
        entry("shire-constabulary/N-1@1", status="superseded", replaced_by="N-1@2"),
        entry(
            "shire-constabulary/N-1@2",
            summary=REDACTED,
            redacted=["summary", "details.police_reference"],
        ),
        entry("shire-constabulary/N-2@1", status="retracted", replaced_by="N-3@1"),
        # A retracted record as anyone outside its publisher is shown it: nothing it said.
        entry(
            "shire-constabulary/N-4@1",
            kind=RETRACTED,
            categories=[],
            occurred_at=at + timedelta(days=1),
            recorded_at=at + timedelta(days=1),
            summary=RETRACTED,
            details={},
            sensitivity="standard",
            status="retracted",
            replaced_by="N-5@1",
            redacted=list(RETRACTED_FIELDS),
            shielded=[],
        ),
    ]
    view = ChronologyView(
        child="9999939082",
        practitioner=practitioner,
        purpose=Purpose.CHILD_PROTECTION_PLANNING,
        action=Action.VIEW,
        agreement_version="shire-safeguarding-partnership@2025.1",
        outcome="partially-disclosed",
        relationship="school-dsl via school-100001/CP-100007",
        break_glass=None,
        entries=entries,
        audit_ref="0" * 32 + "@1",
    )
    session = Session(
        id="s",
        practitioner_id=practitioner.id,
        name=practitioner.name,
        role=practitioner.role.value,
        organisation=practitioner.organisation,
        purpose=Purpose.CHILD_PROTECTION_PLANNING,
        csrf="c",
        expires_at=at,
    )
    header = child_header(view, {}, lambda _: None, at.date())
    context = view_context(Held([view], at), [header], Filters(), {}, lambda _: None, at.date())
    html = (
        page_templates()
        .env.get_template("chronology.html")
        .render(session=session, key="k", errors=[], status_message=None, **context)
    )
    page = new_page()
    page.goto("/")  # so the stylesheet's /static URL resolves against the hub
    page.set_content(html)
    superseded, current, retracted, stand_in = (page.locator("li.entry").nth(i) for i in range(4))
    expect(stand_in.locator("h3 .kind")).to_have_text("Retracted record")
    expect(stand_in.locator(".status-note")).to_contain_text(
        "shire-constabulary withdrew a record it had shared"
    )
    expect(stand_in.locator(".summary, .details, .redaction-note")).to_have_count(0)
    expect(superseded.locator(".status-note")).to_contain_text("Superseded by N-1@2")
    expect(retracted.locator(".status-note")).to_contain_text("Retracted by N-3@1")
    expect(current.locator(".status-note")).to_have_count(0)
    expect(current.locator(".summary .redacted")).to_have_text("[redacted]")
    for item in (superseded, current, retracted):
        expect(item.locator("dd .redacted")).to_have_text("[redacted]")
        expect(item.locator("dd .shielded")).to_have_text("[shielded]")
        expect(item.locator(".redaction-note").first).to_contain_text("Police reference")
        expect(item.locator(".redaction-note").last).to_contain_text("Victim address")
    colour = current.locator(".summary .redacted").evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert colour == "rgb(11, 12, 12)"  # the stylesheet loaded: marked, not only worded
    shot(page, "chronology-markings")
