"""Finding a child by name and date of birth as practitioners do: the real `hub serve`, a real
Chromium, the demo data.

The front door's social worker (mash-0001) finds Madison, the sibling case's middle child, by
a misspelt family name and her date of birth, and opens her chronology from the result; the
address stays `/find` (no name, date of birth or NHS number in any URL), and Back and Refresh
never search again. A police officer with no relationship (po-0002) finds no one. A form with a
problem names each field and searches nothing. axe-core finds no violations and the page
reflows at 200% zoom. Screenshots go to `test-artifacts/`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, Request, expect

from tests.e2e import test_browser as web
from tests.e2e.test_browser import Server, free_port, hub_cli, login, shot, start, stop
from tests.e2e.test_browser_dpo import OVERFLOW, no_axe_violations

browser, new_page, visits = web.browser, web.new_page, web.visits

MADISON = "9999939082"
BORN = "2020-06-02"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("find-web")
    data_dir = str(work / "hub")
    demo = hub_cli("demo", "--children", "40", "--data-dir", data_dir)
    view = hub_cli("chronology", MADISON, "--as", "lcpp-0001", "--purpose",
                   "child-protection-planning", "--data-dir", data_dir)  # fmt: skip
    details = next(e for e in view["entries"] if e["kind"] == "la.child-details")["details"]
    tokens = {
        p: hub_cli("token", "issue", "--practitioner", p, "--data-dir", data_dir)["token"]
        for p in ("lcpp-0001", "mash-0001", "po-0002")
    }
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", data_dir]
    process = start([*command, "--port", str(port)], work / "server.log", url)
    try:
        # `other_sibling` carries Madison's family name here.
        yield Server(url, MADISON, str(details["family_name"]), tokens, demo)
    finally:
        stop(process)


def search(page: Page, family: str, born: str, given: str = "") -> None:
    page.get_by_label("Family name").fill(family)
    page.get_by_label("Date of birth").fill(born)
    page.get_by_label("Given name (optional)").fill(given)
    page.get_by_role("button", name="Find").click()


def open_find(new_page: Callable[..., Page], server: Server, who: str, **options: object) -> Page:
    page = new_page(**options)
    login(page, server, who, "child-protection-enquiry")
    page.get_by_role("link", name="Find a child").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Find a child")
    return page


def test_the_lead_practitioner_finds_madison_and_opens_her_chronology(
    server: Server, new_page: Callable[..., Page]
) -> None:
    family = server.other_sibling
    page = open_find(new_page, server, "lcpp-0001")
    no_axe_violations(page)
    search(page, family[:-1].lower(), BORN, "Maddison")  # misspelt, as people type
    expect(page).to_have_url(f"{server.url}/find")  # nothing of the search in the address
    result = page.locator("ol.find-list > li")
    expect(result).to_have_count(1)
    expect(result.get_by_role("heading", level=3)).to_have_text(f"Madison {family}")
    expect(result).to_contain_text("2 June 2020")
    expect(result).to_contain_text("Similar family name, given name matches")
    expect(result).to_contain_text("Shire County Council")  # agencies by name, not id
    expect(result).to_contain_text(MADISON)
    expect(result).not_to_contain_text("ddress")  # no address, nor that one is shielded
    no_axe_violations(page)
    shot(page, "find-results")

    # Back and Refresh show the answer the session holds: nothing is posted (searched) again.
    posted: list[str] = []

    def on_request(request: Request) -> None:
        if request.method == "POST":
            posted.append(request.url)

    page.on("request", on_request)
    page.reload()
    expect(result).to_have_count(1)
    page.go_back()
    expect(page).to_have_url(f"{server.url}/find")
    page.go_forward()
    assert posted == []

    result.get_by_role("button", name=f"Open the chronology of Madison {family}").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chronology for child")
    expect(page.get_by_role("main")).to_contain_text(family)


def test_the_front_door_finds_madison_but_may_not_open_her_chronology(
    server: Server, new_page: Callable[..., Page]
) -> None:
    family = server.other_sibling
    page = open_find(new_page, server, "mash-0001")
    search(page, family.upper(), BORN)
    result = page.locator("ol.find-list > li", has_text="Madison")
    expect(result.get_by_role("heading", level=3)).to_have_text(f"Madison {family}")
    expect(result).to_contain_text("Same family name")
    # Enough to pick the right child; the chronology needs a relationship (or break-glass).
    result.get_by_role("button", name=f"Open the chronology of Madison {family}").click()
    expect(page.get_by_role("region", name="Access denied")).to_be_visible()


def test_no_relationship_and_no_front_door_role_finds_no_one(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = open_find(new_page, server, "po-0002")
    search(page, server.other_sibling, BORN)
    expect(page.get_by_role("status")).to_contain_text("No child you may see matches")
    expect(page.locator("ol.find-list")).to_have_count(0)
    expect(page.get_by_role("main")).not_to_contain_text(MADISON)
    no_axe_violations(page)


def test_a_form_with_problems_names_each_field_and_searches_nothing(
    server: Server, new_page: Callable[..., Page]
) -> None:
    page = open_find(new_page, server, "mash-0001")
    search(page, "1234", "", "")
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Nothing was searched.")
    expect(summary.get_by_role("link", name="Family name: must contain letters")).to_have_count(1)
    expect(
        summary.get_by_role("link", name="Date of birth: enter the child's date of birth")
    ).to_have_count(1)
    expect(page.get_by_label("Family name")).to_have_attribute("aria-invalid", "true")
    expect(summary).not_to_contain_text("1234")  # named, never repeated
    no_axe_violations(page)
    summary.get_by_role("link").first.click()
    expect(page.get_by_label("Family name")).to_be_focused()


def test_the_find_page_reflows_at_200_percent(
    server: Server, new_page: Callable[..., Page]
) -> None:
    # 640 CSS pixels at device scale 2 is a 1280-pixel-wide window zoomed to 200%.
    zoomed = {"viewport": {"width": 640, "height": 800}, "device_scale_factor": 2}
    page = open_find(new_page, server, "mash-0001", **zoomed)
    search(page, server.other_sibling, BORN)
    expect(page.locator("ol.find-list > li").first).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "find-200-percent")
