"""The replay page as a practice reviewer uses it: the real `hub serve`, a real Chromium, the demo.

The demo registers its agencies and then ingests every agency's export when it runs, so as of
yesterday the agencies had recorded the sibling case but the hub held nothing of it: their
history reached the hub in a backfill when they joined, which the page says (with the date), and
marks backfilled rather than late (before, it reported delays of 47,516 hours). As of now the hub
holds it all. The page passes axe-core and reflows at 200% zoom. The reviewer is commissioned
through the CLI, as a data protection officer would, before the server starts. Screenshots go
to `test-artifacts/`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hub.domain.uk_time import UK
from hub.reports.rendering import day_text
from tests.e2e import test_browser as web
from tests.e2e.test_browser import Server, free_port, hub_cli, login, shot, start, stop
from tests.e2e.test_browser_dpo import no_axe_violations

# The browser fixtures of the other browser tests, used here by name; `server` is this module's.
browser, new_page, visits = web.browser, web.new_page, web.visits

REVIEW_NOTES = "Rapid review after a serious incident"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo hub, rev-0001 commissioned to review the sibling case child, then served."""
    work = tmp_path_factory.mktemp("replay-web")
    data_dir = str(work / "hub")
    demo = hub_cli("demo", "--children", "40", "--data-dir", data_dir)
    case = demo["sibling_case_disclosures"]
    households = case["scenes"][0]["households"].values()
    siblings = {s["child"] for h in households for s in h["siblings"] if s["child"]}
    commission = hub_cli(
        "audit",
        "--as",
        "dpo-0001",
        "--commission-review",
        case["child"],
        "--reviewer",
        "rev-0001",
        "--notes",
        REVIEW_NOTES,
        "--data-dir",
        data_dir,
    )
    assert commission["reviewer"] == "rev-0001"
    tokens = {
        p: hub_cli("token", "issue", "--practitioner", p, "--data-dir", data_dir)["token"]
        for p in ("rev-0001", "lcpp-0001")
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", data_dir]
    process = start([*command, "--port", str(port)], work / "server.log", url)
    try:
        yield Server(url, case["child"], sorted(siblings)[0], tokens, demo)
    finally:
        stop(process)


def replay(page: Page, child: str, as_of: str) -> None:
    page.goto("/replay")
    expect(page.get_by_role("heading", level=1)).to_have_text("Replay a child's record")
    page.get_by_label("Child's NHS number or provisional id").fill(child)
    page.get_by_label("As of (UK time)").fill(as_of)
    page.get_by_role("button", name="Replay", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Replay of child")


def test_a_reviewer_replays_before_and_after_sharing_and_downloads_the_pack(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "rev-0001", "practice-review")
    yesterday = f"{datetime.now(UK) - timedelta(days=1):%Y-%m-%dT%H:%M}"
    replay(page, server.child, yesterday)
    expect(page.locator("#held-count")).to_contain_text("0 entries held")
    expect(page.locator("ol.held > li.entry")).to_have_count(0)
    unshared = page.locator("table.known-not-shared tbody tr")
    expect(unshared.first).to_be_visible()
    known = unshared.count()
    expect(page.get_by_label("As of (UK time)")).to_have_value(yesterday)  # the movable control
    expect(page.get_by_label("Child's NHS number or provisional id")).to_have_value(server.child)
    expect(page.locator("table.disclosures")).to_have_count(0)  # the demo's views came later
    # Who the child is (from the reviewer's own release), above the record as it stood.
    expect(page.locator(".child-header .header-name")).to_have_text("Madison Greenhalgh")
    expect(page.locator(".child-header .header-dob")).to_contain_text("2 June 2020")
    # Recorded by the agencies, not yet held by the hub: it joined today, by a backfill.
    today = day_text(datetime.now(UK).date())
    expect(page.locator(".recorded-and-held")).to_contain_text("the hub held 0 of them")
    expect(page.locator(".recorded-and-held")).to_contain_text("in a backfill")
    joined = page.locator("table.agencies-joined tbody tr")
    expect(joined).to_have_count(4)  # the council, the police, the ICB and the school
    expect(joined.first).to_contain_text(f"joined the hub on {today}")
    council = joined.filter(has_text="shire-county-council")
    expect(council).to_contain_text("Shire County Council children's services joined the hub")
    expect(joined.first).to_contain_text("that backfill had not yet arrived")
    for row in unshared.all():
        expect(row).to_contain_text("Backfilled")
    expect(page.locator("table.latency .late-flag")).to_have_count(0)
    shot(page, "replay-as-of-yesterday")
    no_axe_violations(page)

    now = f"{datetime.now(UK):%Y-%m-%dT%H:%M}"
    page.get_by_label("As of (UK time)").fill(now)
    page.get_by_label("As practitioner (optional)").fill("lcpp-0001")
    page.get_by_role("button", name="Replay as of this time").click()
    expect(page.get_by_label("As of (UK time)")).to_have_value(now)
    expect(page.get_by_label("As practitioner (optional)")).to_have_value("lcpp-0001")
    held = page.locator("ol.held > li.entry")
    # Everything recorded by yesterday has now arrived, and so has the demo's overnight
    # incident if it was recorded after that moment.
    overnight = [
        datetime.fromisoformat(t)
        for t in server.demo["consumers"]["published_recorded_at"]
        if datetime.fromisoformat(t) > datetime.fromisoformat(yesterday).replace(tzinfo=UK)
    ]
    expect(held).to_have_count(known + len(overnight))
    expect(page.locator("table.known-not-shared")).to_have_count(0)
    # The backfilled history is marked so, never late, and no delay runs to thousands of hours.
    expect(page.locator("table.latency .late-flag")).to_have_count(0)
    expect(page.locator("table.latency tbody tr").first).to_contain_text(f"backfilled on {today}")
    expect(page.locator("table.latency tbody tr").first).to_contain_text("Backfilled (not late)")
    expect(page.locator("table.latency-by-agency")).not_to_contain_text("hours")
    expect(held.first.locator(".backfilled-badge")).to_have_text("Backfilled")
    expect(held.first.locator(".kind")).not_to_contain_text(".")  # in words, not a code
    expect(page.locator("table.disclosures tbody tr", has_text="lcpp-0001").first).to_be_visible()
    then = page.locator(".practitioner-view")
    expect(then.get_by_role("heading", level=2)).to_have_text(
        "What lcpp-0001 would have been shown"
    )
    expect(then.locator("li.entry").first).to_be_visible()
    expect(page.locator(".agency-badge").first).to_be_visible()
    shot(page, "replay-as-of-now")
    no_axe_violations(page)

    with page.expect_download() as pdf_download:
        page.get_by_role("button", name="Download review pack").click()
    assert pdf_download.value.suggested_filename == "review-pack.pdf"
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF") and len(pdf) > 10_000

    page.get_by_label("HTML (one file, opens in any browser)").check()
    with page.expect_download() as html_download:
        page.get_by_role("button", name="Download review pack").click()
    assert html_download.value.suggested_filename == "review-pack.html"
    html = Path(html_download.value.path()).read_text()
    first_ref = held.first.locator("dd code").first.inner_text()
    assert "Appendix: checking this pack" in html and first_ref in html
    assert "Practice review pack" in html and "Rapid Review" in html
    assert "serious case review" not in html.lower()


def test_a_reviewer_without_a_commission_is_refused(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "rev-0001", "practice-review")
    replay(page, server.other_sibling, f"{datetime.now(UK):%Y-%m-%dT%H:%M}")
    expect(page.get_by_role("heading", name="Access denied")).to_be_visible()
    expect(page.locator(".reasons")).to_contain_text("no current legitimate relationship")
    expect(page.locator(".denied")).to_contain_text("--commission-review")
    expect(page.locator("li.entry")).to_have_count(0)
    shot(page, "replay-denied")
    token = page.locator("input[name=csrf_token]").first.input_value()
    form = {"child": server.other_sibling, "as_of": "2025-01-01", "format": "pdf"}
    refused = page.request.post("/replay/pack", form=form | {"csrf_token": token})
    assert refused.status == 403 and not refused.body().startswith(b"%PDF")
    assert "Access denied" in refused.text()
    forged = page.request.post("/replay/pack", form=form | {"child": server.child})
    assert forged.status == 403 and "Request refused" in forged.text()  # no CSRF token


def test_replay_needs_the_practice_review_purpose(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = new_page()
    login(page, server, "lcpp-0001", "child-protection-planning")
    response = page.goto("/replay")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Replay is for practice reviews")


def test_the_replay_reflows_at_200_percent(server: Server, new_page: Callable[..., Page]) -> None:
    page = new_page(viewport={"width": 640, "height": 800}, device_scale_factor=2)
    login(page, server, "rev-0001", "practice-review")
    replay(page, server.child, f"{datetime.now(UK):%Y-%m-%dT%H:%M}")
    expect(page.locator("table.latency")).to_be_visible()
    expect(page.locator("table.agencies-joined")).to_be_visible()
    overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(overflow) <= 0
