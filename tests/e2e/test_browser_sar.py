"""The subject access pages as a data protection officer uses them (issue 18): the real
`hub serve`, a real Chromium, the demo partnership. The lead DPO opens a case (a form with a
problem first: the error summary), is refused the pack while flagged items are undecided,
decides each one on the draft, and downloads the pack as PDF and JSON. axe-core finds no
violations on the pages, and at 200% zoom nothing scrolls sideways. Screenshots go to
`test-artifacts/`."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from hub.domain.uk_time import UK
from tests.e2e import test_browser as web
from tests.e2e.test_browser import Server, free_port, hub_cli, login, shot, start, stop

# The browser fixtures of the other browser tests, used here by name; `server` is this module's.
browser, new_page, visits = web.browser, web.new_page, web.visits
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("sar-web")
    data_dir = str(work / "hub")
    demo = hub_cli("demo", "--children", "20", "--data-dir", data_dir)
    child = demo["sibling_case_disclosures"]["child"]
    tokens = {
        p: hub_cli("token", "issue", "--practitioner", p, "--data-dir", data_dir)["token"]
        for p in ("dpo-0001", "lcpp-0001")
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", data_dir]
    process = start([*command, "--port", str(port)], work / "server.log", url)
    try:
        yield Server(url, child, child, tokens, demo)
    finally:
        stop(process)


def no_axe_violations(page: Page) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


def open_case(page: Page, child: str) -> None:
    page.goto("/sar")
    expect(page.get_by_role("heading", level=1)).to_have_text("Subject access requests")
    # A form with problems records nothing and says what is wrong, field by field.
    page.get_by_role("button", name="Open the case").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Child:")
    expect(summary).to_contain_text("Basis of the request: Choose who is asking")
    expect(page.get_by_label("Requester's name")).to_have_attribute("aria-invalid", "true")
    no_axe_violations(page)
    shot(page, "sar-open-errors")
    page.get_by_label("Child's NHS number or provisional id").fill(child)
    page.get_by_label("Requester's name").fill("Dana Whitlock")
    page.get_by_role("group", name="Who is asking").get_by_label(
        "A person with parental responsibility for the child"
    ).check()
    received = (datetime.now(UK) - timedelta(days=3)).date().isoformat()
    page.get_by_label("Date the request was received").fill(received)
    page.get_by_label("How the requester's identity was confirmed (optional)").fill("passport")
    page.get_by_role("button", name="Open the case").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Subject access case SAR-")
    expect(page.get_by_role("status")).to_contain_text("opened: due")


def test_a_dpo_takes_a_request_through_to_the_pack(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "dpo-0001", "data-protection-audit")
    open_case(page, server.child)
    expect(page.locator(".clock")).to_contain_text("days left")
    expect(page.locator(".child-id")).to_have_text(server.child)
    undecided = page.locator("li.sar-item.undecided")
    expect(undecided.first).to_be_visible()
    flagged = undecided.count()
    expect(page.locator("#draft-count")).to_contain_text(f"{flagged} undecided")
    no_axe_violations(page)
    shot(page, "sar-draft")

    # The pack is refused while anything flagged is undecided.
    page.get_by_role("button", name="Build and download the pack").click()
    expect(page.get_by_role("alert")).to_contain_text(
        f"{flagged} flagged items still need a decision"
    )

    # A decision form with a problem names it; nothing is recorded.
    first = undecided.first
    first.get_by_role("button", name="Record the decision").click()
    expect(page.get_by_role("alert")).to_contain_text("Decision:")
    expect(page.locator("li.sar-item.undecided")).to_have_count(flagged)

    decided = 0
    while page.locator("li.sar-item.undecided").count():
        item = page.locator("li.sar-item.undecided").first
        crime = item.locator(".flag-crime-exemption-possible").count() > 0
        if crime:
            item.get_by_label("Withhold", exact=True).check()
            item.get_by_label("Exemption (to redact or withhold)").select_option("crime")
            item.get_by_label("Reason for the decision").fill(
                "The force advises a live investigation"
            )
        else:
            item.get_by_label("Release", exact=True).check()
            item.get_by_label("Reason for the decision").fill(
                "About the child; no harm in releasing it"
            )
        item.get_by_role("button", name="Record the decision").click()
        expect(page.get_by_role("status")).to_contain_text("Decision recorded")
        decided += 1
        assert decided <= flagged
    assert decided == flagged
    expect(page.locator("#draft-count")).to_contain_text("0 undecided")

    with page.expect_download() as pdf_download:
        page.get_by_role("button", name="Build and download the pack").click()
    assert pdf_download.value.suggested_filename == "subject-access-pack.pdf"
    assert Path(pdf_download.value.path()).read_bytes().startswith(b"%PDF")
    page.get_by_label("JSON (for systems)").check()
    with page.expect_download() as json_download:
        page.get_by_role("button", name="Build and download the pack").click()
    document = json.loads(Path(json_download.value.path()).read_text())
    assert document["requester"]["name"] == "Dana Whitlock" and document["records"]
    assert all(r["decision"] for r in document["records"])

    page.reload()
    expect(page.locator(".pack-built").first).to_contain_text("Pack released")
    expect(page.locator(".case-status")).to_contain_text("Completed")
    page.goto("/sar")
    expect(page.locator("table.sar-cases")).to_contain_text("Completed")
    no_axe_violations(page)
    shot(page, "sar-cases")


def test_the_case_pages_at_200_percent_and_for_others(
    server: Server, new_page: Callable[..., Page]
) -> None:
    # 640 CSS pixels at device scale 2 is a 1280-pixel-wide window zoomed to 200%.
    page = new_page(viewport={"width": 640, "height": 800}, device_scale_factor=2)
    login(page, server, "dpo-0001", "data-protection-audit")
    open_case(page, server.child)
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "sar-draft-200-percent")
    page.goto("/sar")
    assert page.evaluate(OVERFLOW) <= 0
    other = new_page()
    login(other, server, "lcpp-0001", "child-protection-planning")
    other.goto("/sar")
    expect(other.get_by_role("heading", level=1)).to_have_text("Data protection officers only")
