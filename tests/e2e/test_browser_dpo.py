"""The data protection officers' pages as DPOs use them: the real `hub serve`, a real Chromium,
the demo data.

The demo's police force withheld three exploitation concerns from education, each past its
review date, and one of its officers (po-0002) broke the glass for the sibling case child. So
the police DPO (dpo-0002, Marcus Thornbury) answers for the withholdings and reviews the
officer's grant; the school's DPO (dpo-0004, Joanna Wrexley) is shown the police items only as
stand-ins and no grant; the partnership's lead DPO (dpo-0001) sees everything. The pages are
checked with axe-core (the copy `axe-playwright-python` ships) and at 200% zoom. Screenshots go
to `test-artifacts/`.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import Locator, Page, expect

from hub.domain.uk_time import UK
from tests.e2e import test_browser as web
from tests.e2e.test_browser import Server, free_port, hub_cli, login, shot, start, stop

# The browser fixtures of the other browser tests, used here by name; `server` is this module's.
browser, new_page, visits = web.browser, web.new_page, web.visits

DPOS = ("dpo-0001", "dpo-0002", "dpo-0004")
UK_TIME = re.compile(r"\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2} (GMT|BST)")
REASON = "Live investigation"  # the police withholdings' reason, for the police to read
KIND = "Exploitation concern"  # their kind in plain words
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("dpo-web")
    data_dir = str(work / "hub")
    demo = hub_cli("demo", "--children", "40", "--data-dir", data_dir)
    case = demo["sibling_case_disclosures"]
    tokens = {
        p: hub_cli("token", "issue", "--practitioner", p, "--data-dir", data_dir)["token"]
        for p in (*DPOS, "sw-0001")
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", data_dir]
    process = start([*command, "--port", str(port)], work / "server.log", url)
    try:
        yield Server(url, case["child"], "", tokens, demo)
    finally:
        stop(process)


def as_dpo(new_page: Callable[..., Page], server: Server, dpo: str, **options: Any) -> Page:
    page = new_page(**options)
    login(page, server, dpo, "data-protection-audit")
    page.get_by_role("link", name="Audit and break-glass review").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit and break-glass review")
    return page


def withheld_refs(page: Page) -> list[str]:
    return page.locator("table.withheld tbody th code").all_inner_texts()


def no_axe_violations(page: Page) -> None:
    page.evaluate(AXE_SCRIPT)
    results = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    found = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in results["violations"]
    ]
    assert found == [], f"{page.url}: {found}"


def test_two_organisations_dpos_see_their_own_scope_and_the_lead_dpo_sees_all(
    server: Server, new_page: Callable[..., Page]
) -> None:
    police = as_dpo(new_page, server, "dpo-0002")
    expect(police.locator(".acts-for")).to_contain_text(
        "You are the data protection officer for shire-constabulary (police)."
    )
    grant = police.locator("li.grant", has_text="po-0002")
    expect(grant).to_have_count(1)
    expect(grant.locator(".grant-practitioner")).to_have_text(
        "Amira Stenning (po-0002), police officer"
    )
    expect(grant.locator(".grant-organisation")).to_have_text("shire-constabulary (police)")
    expect(grant.locator(".grant-child")).to_have_text(server.child)  # named by the gate
    expect(grant.locator("h3")).to_have_text(
        re.compile(r"Amira Stenning .*granted " + UK_TIME.pattern)
    )
    # Every item disclosed under the grant is listed, and each opens the chronology at itself.
    disclosure = grant.locator("details.disclosed-items").first
    expect(disclosure.locator("summary")).to_contain_text(re.compile(UK_TIME.pattern))
    count = int(re.search(r"(\d+) items? disclosed", disclosure.locator("summary").inner_text())[1])
    disclosure.locator("summary").click()
    items = disclosure.locator(".item-refs button")
    expect(items).to_have_count(count)
    police_refs = withheld_refs(police)
    assert police_refs, "the demo's police withholdings"
    withheld = police.locator("table.withheld")
    expect(withheld.locator("tbody tr.withholding")).to_have_count(len(police_refs))
    expect(withheld).to_contain_text(REASON)
    expect(withheld).to_contain_text(KIND)
    expect(withheld.locator(".late-flag").first).to_have_text("Overdue")  # in words
    shot(police, "dpo-police")

    school = as_dpo(new_page, server, "dpo-0004")
    expect(school.locator(".acts-for")).to_contain_text(
        "You are the data protection officer for school-100001 (education)."
    )
    expect(school.locator(".empty-queue")).to_have_text("No break-glass grants await review.")
    expect(school.locator("li.grant")).to_have_count(0)
    assert withheld_refs(school) == police_refs  # the same items, as stand-ins only
    stand_ins = school.locator("table.withheld tbody tr.stand-in")
    expect(stand_ins).to_have_count(len(police_refs))
    expect(stand_ins.first).to_contain_text(
        re.compile(r"an item withheld by shire-constabulary on \d{1,2} \w+ \d{4}, review by")
    )
    expect(stand_ins.first).to_contain_text("child not identifiable to you")
    main = school.get_by_role("main")
    for secret in (REASON, KIND, "DS 4471", "Education:"):
        expect(main).not_to_contain_text(secret)
    shot(school, "dpo-school")

    lead = as_dpo(new_page, server, "dpo-0001")
    expect(lead.locator(".acts-for")).to_contain_text(
        "You are a lead data protection officer for the partnership."
    )
    expect(lead.locator("li.grant", has_text="po-0002")).to_have_count(1)
    assert withheld_refs(lead) == police_refs
    expect(lead.locator("table.withheld tbody tr.withholding")).to_have_count(len(police_refs))
    expect(lead.locator("table.withheld")).to_contain_text(REASON)

    # Choosing an item opens the child's chronology, as the police DPO may see it, at that item.
    ref = items.first.inner_text()
    items.first.click()
    expect(police.get_by_role("heading", level=1)).to_contain_text("Chronology for child")
    assert police.url.endswith("#item-" + ref)
    target = police.locator(f'li[id="item-{ref}"]')
    expect(target).to_be_in_viewport()
    expect(target.locator("dt:has-text('Reference') + dd")).to_have_text(ref)
    shot(police, "dpo-police-item-under-grant")


def test_the_ledger_answers_with_names_and_uk_times(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = as_dpo(new_page, server, "dpo-0002")
    page.get_by_label("Child's NHS number or provisional id").fill(server.child)
    page.get_by_role("button", name="Show who saw it").click()
    rows = page.get_by_role("table").locator("tbody tr")
    officer = rows.filter(has_text="Amira Stenning (po-0002)").first
    expect(officer).to_contain_text("shire-constabulary (police)")
    expect(officer.locator("th")).to_have_text(UK_TIME)
    page.get_by_role("link", name="Back to audit and break-glass review").click()
    page.get_by_label("Practitioner id").fill("po-0002")
    page.get_by_role("button", name="Show what they saw").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("What po-0002 was shown")
    expect(page.locator(".subject")).to_have_text(
        "Amira Stenning, police officer, shire-constabulary (police)"
    )
    expect(
        page.get_by_role("table").locator("tbody tr", has_text=server.child).first
    ).to_be_visible()


def queue_item(page: Page, record: str) -> Locator:
    heading = page.get_by_role("heading", name=record, exact=True)
    return page.locator("li.withholding-item").filter(has=heading)


def test_the_police_dpo_reviews_withholdings_from_the_queue(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = as_dpo(new_page, server, "dpo-0002")
    page.get_by_role("link", name="Withholding reviews").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Withholding reviews")
    due = page.locator("ol.withholdings-due > li")
    expect(due.first).to_be_visible()
    assert due.count() >= 2, "the demo's withholdings are all past their review date"
    first, second = (due.nth(i).locator("h3").inner_text() for i in (0, 1))
    item = queue_item(page, first)
    expect(item.locator(".review-due")).to_contain_text(re.compile(r"Overdue .* \d+ days overdue"))
    expect(item).to_contain_text(KIND)
    expect(item.locator(".withheld-from")).to_contain_text(f"Education: {REASON}")
    expect(item.locator(".withheld-from")).to_contain_text("decided by DS 4471")
    expect(item.locator("dt:has-text('Withheld since') + dd")).to_have_text(
        re.compile(r"\d{1,2} [A-Z][a-z]+ \d{4}")
    )
    expect(item.locator("dt:has-text('Last review') + dd")).to_have_text("Not reviewed yet")
    shot(page, "withholdings-due")

    # No outcome chosen, then a review date that is not after today: each named, nothing kept.
    item.get_by_label("Notes").fill("Checked with the investigating officer")
    item.get_by_role("button", name="Record the review").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Outcome: choose still withheld")
    item = queue_item(page, first)
    expect(item.get_by_label("Notes")).to_have_value("Checked with the investigating officer")
    item.get_by_label("Still withheld").check()
    item.get_by_label("Review again by").fill(f"{datetime.now(UK) - timedelta(days=1):%Y-%m-%d}")
    item.get_by_role("button", name="Record the review").click()
    expect(summary).to_contain_text("Review again by:")
    expect(summary).to_contain_text("Nothing was recorded")
    summary.get_by_role("link").first.click()
    item = queue_item(page, first)
    expect(item.get_by_label("Review again by")).to_be_focused()
    expect(item.get_by_label("Review again by")).to_have_attribute("aria-invalid", "true")
    shot(page, "withholdings-error")
    page.goto("/dpo/withholdings")
    expect(queue_item(page, first).locator("dt:has-text('Last review') + dd")).to_have_text(
        "Not reviewed yet"
    )

    # Still withheld until a new date: out of the overdue list, into the upcoming one.
    until = (datetime.now(UK) + timedelta(days=60)).date()
    until_text = f"{until.day} {until:%B %Y}"
    item = queue_item(page, first)
    item.get_by_label("Still withheld").check()
    item.get_by_label("Review again by").fill(until.isoformat())
    item.get_by_label("Notes").fill("Investigation continues; charging decision awaited")
    item.get_by_role("button", name="Record the review").click()
    expect(page).to_have_url(f"{server.url}/dpo/withholdings")  # post, redirect, get
    expect(page.get_by_role("status")).to_contain_text(
        f"{first} stays withheld; review it again by {until_text}"
    )
    expect(page.locator("ol.withholdings-due h3", has_text=first)).to_have_count(0)
    upcoming = queue_item(page, first)
    expect(upcoming.locator("xpath=ancestor::ol")).to_have_class(
        re.compile("withholdings-upcoming")
    )
    expect(upcoming.locator(".review-due")).to_have_text(f"Review by {until_text}.")
    expect(upcoming.locator("dt:has-text('Last review') + dd")).to_have_text(
        re.compile(
            f"Still withheld until {until_text}, recorded {UK_TIME.pattern} "
            r"by Marcus Thornbury \(dpo-0002\)"
        )
    )

    # Now shared: it leaves the queue.
    item = queue_item(page, second)
    item.get_by_label("Now shared").check()
    item.get_by_label("Notes").fill("Investigation closed; the school should know")
    item.get_by_role("button", name="Record the review").click()
    expect(page.get_by_role("status")).to_contain_text(f"{second} is now shared")
    expect(queue_item(page, second)).to_have_count(0)
    shot(page, "withholdings-reviewed")

    # The school's DPO sees the new review date in the stand-in, and no stand-in for the other.
    school = as_dpo(new_page, server, "dpo-0004")
    stand_in = school.locator("table.withheld tbody tr", has_text=first)
    expect(stand_in).to_contain_text(f"review by {until_text}")
    expect(school.locator("table.withheld tbody tr", has_text=second)).to_have_count(0)


def test_the_dpo_pages_pass_axe_and_reflow_at_200_percent(
    server: Server, new_page: Callable[..., Page]
) -> None:
    for dpo in ("dpo-0002", "dpo-0004"):
        page = as_dpo(new_page, server, dpo)
        for details in page.locator("details").all():
            details.locator("summary").click()
        no_axe_violations(page)
        page.goto("/dpo/withholdings")
        no_axe_violations(page)
    page = as_dpo(new_page, server, "dpo-0002")
    page.goto("/dpo/withholdings")
    page.locator("li.withholding-item").first.get_by_role(
        "button", name="Record the review"
    ).click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    no_axe_violations(page)  # with the error summary and the fields marked

    # 640 CSS pixels at device scale 2 is a 1280-pixel-wide window zoomed to 200%.
    zoomed = {"viewport": {"width": 640, "height": 800}, "device_scale_factor": 2}
    page = as_dpo(new_page, server, "dpo-0002", **zoomed)
    for details in page.locator("details").all():
        details.locator("summary").click()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "dpo-200-percent")
    page.goto("/dpo/withholdings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Withholding reviews")
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "withholdings-200-percent")


def test_any_practitioner_has_a_withholding_queue_but_not_the_dpo_desk(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "sw-0001", "child-protection-enquiry")
    page.get_by_role("link", name="Withholding reviews").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Withholding reviews")
    expect(page.locator(".empty-queue").first).to_contain_text("No withholding you answer for")
    token = page.locator("input[name=csrf_token]").first.input_value()
    refused = page.request.post(
        "/dpo/withholdings/review",
        form={
            "csrf_token": token,
            "record": "shire-constabulary/SC-23-000025/N-000005",
            "outcome": "now-shared",
            "notes": "not mine to share",
        },
    )
    assert refused.status == 403
    assert "Record: You do not answer for a withholding of that record" in refused.text()
    forged = page.request.post(
        "/dpo/withholdings/review", form={"record": "x", "outcome": "now-shared", "notes": "n"}
    )
    assert forged.status == 403 and "Request refused" in forged.text()
