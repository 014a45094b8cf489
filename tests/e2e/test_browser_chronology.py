"""The chronology page as practitioners use it: the real `hub serve`, a real Chromium, the demo.

The sibling case's middle child (Madison) as the lead child protection practitioner sees her:
who she is (name, date of birth and age, NHS number, plan and looked-after status, allocated
worker, each agency and whom to contact there), a compact timeline with the pattern flags
linked both ways, the picture of her history and its text alternative, narrowed by a filter;
her siblings opened one by one and together; Back and Refresh that never disclose again
(counted in the audit ledger); CSV and Word exports, downloaded, opened and audited as
exports; and the school DSL told whom to ask about what is not shared with her. Every page is
checked with axe-core, at 200% zoom and with the keyboard. Screenshots go to
`test-artifacts/`.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from collections.abc import Callable, Iterator

import docx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.e2e import test_browser as web
from tests.e2e.test_browser import Server, free_port, hub_cli, login, shot, start, stop
from tests.e2e.test_browser_dpo import no_axe_violations

# The browser fixtures of the other browser tests, used here by name; `server` is this module's.
browser, new_page, visits = web.browser, web.new_page, web.visits

UK_TIME = re.compile(r"^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (GMT|BST)$")
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
VIEW_URL = re.compile(r"/chronology/view/[A-Za-z0-9_-]+(\?.*)?$")
PLANNING = "child-protection-planning"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("chronology-web")
    data_dir = str(work / "hub")
    demo = hub_cli("demo", "--children", "40", "--data-dir", data_dir)
    demo["data_dir"] = data_dir
    case = demo["sibling_case_disclosures"]
    households = case["scenes"][0]["households"].values()
    siblings = sorted({s["child"] for h in households for s in h["siblings"] if s["child"]})
    tokens = {
        p: hub_cli("token", "issue", "--practitioner", p, "--data-dir", data_dir)["token"]
        for p in ("lcpp-0001", "dsl-100001")
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", data_dir]
    process = start([*command, "--port", str(port)], work / "server.log", url)
    try:
        yield Server(url, case["child"], siblings[0], tokens, demo)
    finally:
        stop(process)


def audited(server: Server, child: str, practitioner: str, action: str) -> int:
    """How many disclosures of this child to this practitioner, for this action, the audit
    ledger holds (asked as the lead DPO, through the CLI)."""
    rows = hub_cli(
        "audit", "--as", "dpo-0001", "--child", child, "--data-dir", server.demo["data_dir"]
    )["rows"]
    return sum(1 for r in rows if r["practitioner"] == practitioner and r["action"] == action)


def open_child(page: Page, child: str) -> None:
    page.goto("/chronology")
    page.get_by_label("Child's NHS number or provisional id").fill(child)
    page.get_by_role("button", name="Show chronology").click()
    expect(page).to_have_url(VIEW_URL)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chronology for child")


def open_all_details(page: Page) -> None:
    for summary in page.locator("details > summary").all():
        summary.click()


def test_the_header_the_timeline_and_its_picture_with_a_filter(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "lcpp-0001", PLANNING)
    no_axe_violations(page)  # the lookup form
    open_child(page, server.child)
    header = page.locator(".child-header")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Madison")
    expect(header.locator(".header-name")).to_contain_text("Madison")
    expect(header.locator(".header-dob")).to_contain_text("2 June 2020 (age ")
    expect(header.locator(".child-id")).to_have_text(server.child)
    expect(header.locator(".header-status")).to_contain_text("On a child protection plan since")
    expect(header.locator(".header-status")).to_contain_text("Looked after since")
    expect(header.locator(".header-legal")).to_have_text("Interim care order")
    expect(header.locator(".header-worker")).to_contain_text("Priya Oduya (social worker)")
    expect(page.locator("dt:has-text('Relationship') + dd")).to_contain_text(
        "You are in the multi-agency child protection team"
    )
    contacts = header.locator(".agency-contacts li")
    expect(contacts).to_have_count(4)
    expect(contacts.filter(has_text="Shire Constabulary")).to_contain_text("01632 960002")

    # One line per entry; the fact that matters for a police visit is on the line itself.
    entries = page.locator("ol.timeline > li.entry")
    total = entries.count()
    visit = entries.filter(has_text="Police visit to the home")
    expect(visit.locator(".key-facts")).to_contain_text("Spoken to: no")
    expect(visit.locator(".meta")).not_to_be_visible()  # the rest on demand
    visit.locator("summary").click()
    expect(visit.locator(".meta")).to_be_visible()
    for line in entries.locator("h3 time").all_inner_texts():
        assert UK_TIME.match(line), line
    assert "Status" not in entries.first.inner_text()  # filler is not repeated
    # Pattern flags and their entries link both ways.
    flag = page.locator(".patterns .flag", has_text="Child not seen on visit")
    expect(visit).to_have_class(re.compile(r"\bflagged\b"))
    visit.locator(".entry-flags a").first.click()
    flag_id = flag.get_attribute("id")
    assert flag_id and page.url.endswith(f"#{flag_id}")
    expect(flag).to_be_in_viewport()
    flag.locator(".flag-entries a").first.click()
    expect(visit).to_be_in_viewport()
    assert page.url.endswith("#" + (visit.get_attribute("id") or "-"))

    # The picture: a lane per agency, a mark per entry, the same in words.
    chart = page.locator("svg.history-chart")
    expect(chart).to_have_attribute("role", "img")
    expect(chart.locator("title").first).to_contain_text("history")
    expect(chart.locator(".marker")).to_have_count(total)
    expect(chart.locator(".band-plan")).to_have_count(1)
    expect(chart.locator(".band-looked-after")).to_have_count(1)
    assert chart.locator(".band-pattern").count() >= 2
    words = page.locator("table.picture-words tbody tr")
    expect(words).to_have_count(4)
    expect(page.locator(".picture-periods")).to_contain_text("Child protection plan:")
    open_all_details(page)
    no_axe_violations(page)
    shot(page, "chronology-header-timeline-picture")

    # Narrowed to health: the timeline and the picture both, and no new disclosure.
    before = audited(server, server.child, "lcpp-0001", "view")
    page.get_by_label("Agency", exact=True).select_option("type:health")
    page.get_by_role("button", name="Apply filters").click()
    health = page.locator("ol.timeline > li.entry")
    expect(page.locator("#entry-count")).to_contain_text("(filtered)")
    count = health.count()
    assert 0 < count < total
    for agency_type in health.evaluate_all("els => els.map(e => e.dataset.agencyType)"):
        assert agency_type == "health"
    expect(chart.locator(".marker")).to_have_count(count)
    expect(chart.locator(".marker-health")).to_have_count(count)
    expect(words).to_have_count(1)
    expect(words.first).to_contain_text("Health")
    assert audited(server, server.child, "lcpp-0001", "view") == before
    no_axe_violations(page)
    shot(page, "chronology-filtered-health-picture")
    # Printed: the picture and every entry whole ("More" open or not), no forms.
    page.emulate_media(media="print")
    expect(chart).to_be_visible()
    expect(health.first.locator(".meta")).to_be_visible()
    expect(page.locator("form.export")).to_be_hidden()
    page.emulate_media(media="screen")


def test_back_and_refresh_never_disclose_again(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    dialogs: list[str] = []

    def resubmission(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", resubmission)
    login(page, server, "lcpp-0001", PLANNING)
    before = audited(server, server.child, "lcpp-0001", "view")
    open_child(page, server.child)
    assert audited(server, server.child, "lcpp-0001", "view") == before + 1
    audit_ref = page.locator("dt:has-text('Audit reference') + dd").inner_text()
    page.get_by_label("Harm category").select_option("disengagement")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#entry-count")).to_contain_text("(filtered)")
    page.reload()
    expect(page.locator("#entry-count")).to_contain_text("(filtered)")
    page.go_back()
    expect(page.locator("#entry-count")).not_to_contain_text("(filtered)")
    expect(page.locator("dt:has-text('Audit reference') + dd")).to_have_text(audit_ref)
    page.reload()
    page.go_back()  # to the lookup form, which was a GET: nothing is sent again
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a child's chronology")
    page.go_forward()
    expect(page.locator("dt:has-text('Audit reference') + dd")).to_have_text(audit_ref)
    assert dialogs == []  # no "Confirm Form Resubmission"
    assert audited(server, server.child, "lcpp-0001", "view") == before + 1


def test_siblings_one_by_one_and_together(server: Server, new_page: Callable[..., Page]) -> None:
    page = new_page()
    login(page, server, "lcpp-0001", PLANNING)
    open_child(page, server.child)
    household = page.locator(".households")
    siblings = household.locator("ul.siblings > li")
    expect(siblings).to_have_count(2)  # one household across the council, police and school
    expect(household.locator("h2")).to_have_text("Household")
    other = server.other_sibling
    before = audited(server, other, "lcpp-0001", "view")
    siblings.filter(has_text=other).get_by_role("button", name=re.compile("Open this")).click()
    expect(page).to_have_url(VIEW_URL)
    expect(page.locator(".child-header .child-id")).to_have_text(other)
    assert audited(server, other, "lcpp-0001", "view") == before + 1
    no_axe_violations(page)

    open_child(page, server.child)
    for box in page.locator("input[name=siblings]").all():
        box.check()
    page.get_by_role("button", name=re.compile("together with this one")).click()
    expect(page).to_have_url(VIEW_URL)
    expect(page.get_by_role("heading", level=1)).to_contain_text("together")
    expect(page.locator(".child-header")).to_have_count(3)
    labels = set(page.locator(".entry-child").all_inner_texts())
    assert len(labels) == 3 and any("Madison" in label for label in labels)
    times = page.locator("ol.timeline > li.entry h3 time").evaluate_all(
        "els => els.map(e => e.getAttribute('datetime'))"
    )
    assert times == sorted(times)  # one merged timeline, in the order things happened
    expect(page.locator("table.view-facts-table tbody tr")).to_have_count(3)
    assert audited(server, other, "lcpp-0001", "view") == before + 2  # each child audited
    open_all_details(page)
    no_axe_violations(page)
    shot(page, "chronology-siblings-together")


def test_csv_and_word_exports_are_what_the_viewer_sees_and_audited(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page(accept_downloads=True)
    login(page, server, "lcpp-0001", PLANNING)
    open_child(page, server.child)
    page.get_by_label("Agency", exact=True).select_option("type:health")
    page.get_by_role("button", name="Apply filters").click()
    shown = page.locator("ol.timeline > li.entry").count()
    before = audited(server, server.child, "lcpp-0001", "export")

    with page.expect_download() as csv_download:
        page.get_by_role("button", name="Download as CSV (spreadsheet)").click()
    assert csv_download.value.suggested_filename.endswith(".csv")
    assert server.child not in csv_download.value.suggested_filename
    text = open(csv_download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    lines = list(csv.reader(io.StringIO(text)))
    assert lines[0][0].startswith("Exported by Morag Ellison (lcpp-0001)")
    start_at = lines.index(next(row for row in lines if row and row[0] == "Child"))
    rows = [dict(zip(lines[start_at], row, strict=True)) for row in lines[start_at + 1 :]]
    assert len(rows) == shown
    for row in rows:
        assert row["Agency type"] == "Health" and UK_TIME.match(row["Occurred (UK time)"])
        assert "Madison" in row["Child"] and "." not in row["What happened"][:1]
        assert not any(cell.startswith(("=", "+", "-", "@")) for cell in row.values())
    assert any(row["Key facts"].startswith("Appointment:") for row in rows)

    with page.expect_download() as word_download:
        page.get_by_role("button", name="Download as Word document").click()
    assert word_download.value.suggested_filename.endswith(".docx")
    document = docx.Document(str(word_download.value.path()))
    paragraphs = [p.text for p in document.paragraphs]
    assert "Madison" in paragraphs[0]
    assert any(p.startswith("Exported by Morag Ellison") for p in paragraphs)
    who, timeline = document.tables
    facts = {row.cells[0].text: row.cells[1].text for row in who.rows}
    assert facts["NHS number or provisional id"] == server.child
    assert facts["Date of birth"] == "2 June 2020"
    assert len(timeline.rows) == shown + 1
    assert [c.text for c in timeline.rows[0].cells][:2] == ["Occurred (UK time)", "Agency"]
    assert all(UK_TIME.match(row.cells[0].text) for row in timeline.rows[1:])
    assert audited(server, server.child, "lcpp-0001", "export") == before + 2


def test_the_school_dsl_is_told_whom_to_contact(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "dsl-100001", PLANNING)
    open_child(page, server.child)
    expect(page.locator(".outcome")).to_have_text("Partially disclosed")
    contact = page.locator(".whom-to-contact")
    expect(contact).to_be_visible()
    expect(contact.locator("li", has_text="Shire Constabulary")).to_contain_text(
        "Public protection unit duty desk, 01632 960002"
    )
    expect(contact).to_contain_text("Shire County Council children's services")
    # The agreement redacts the legal status for a DSL: the header says so, not the status.
    expect(page.locator(".header-legal .redacted")).to_have_text("[redacted]")
    expect(page.locator(".header-worker")).to_have_text("None shown to you")
    no_axe_violations(page)
    shot(page, "chronology-school-dsl-whom-to-contact")


def test_keyboard_alone_and_200_percent_zoom(server: Server, new_page: Callable[..., Page]) -> None:
    zoomed = {"viewport": {"width": 640, "height": 800}, "device_scale_factor": 2}
    page = new_page(**zoomed)
    login(page, server, "lcpp-0001", PLANNING)
    open_child(page, server.child)
    assert page.evaluate(OVERFLOW) <= 0
    expect(page.locator("svg.history-chart")).to_be_visible()
    box = page.locator("svg.history-chart").bounding_box()
    assert box is not None and box["width"] <= 640
    # A keyboard user opens an entry's details: Tab to its "More", Enter.
    first = page.locator("ol.timeline > li.entry").first
    summary = first.locator("summary")
    summary.focus()
    for _ in range(3):
        if page.evaluate("() => document.activeElement.tagName") == "SUMMARY":
            break
        page.keyboard.press("Tab")
    expect(summary).to_be_focused()
    page.keyboard.press("Enter")
    expect(first.locator(".meta")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "chronology-200-percent-picture")
    # The merged view of the siblings reflows too (its table of disclosures included).
    for box in page.locator("input[name=siblings]").all():
        box.check()
    page.get_by_role("button", name=re.compile("together with this one")).click()
    expect(page.locator("table.view-facts-table")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
