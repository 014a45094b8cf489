""" "Is anyone else involved?" from the chronology page, in a real Chromium at 200% zoom: the
real `hub serve` for Shire (its partner register naming Wessex), Wessex answering over the tansu
broker in a thread (the setup of `tests/integration/test_federation_discovery.py`). The social
worker allocated to the child asks with the page's button and reads, under a heading, that
Wessex holds records and whom to contact; the page passes axe-core and does not scroll
sideways. One page load and one question (the browser suite is near its time budget)."""

from __future__ import annotations

import re
import secrets
import sys
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from hub.adapters.directory import SAMPLE_DIRECTORY_PATH
from hub.adapters.tokens import issue_dev_token
from hub.bootstrap import bootstrap
from hub.settings import HubSettings
from tests.e2e import test_browser as web
from tests.e2e.test_browser import Server, free_port, login, shot, start, stop
from tests.e2e.test_browser_chronology import OVERFLOW, open_child
from tests.e2e.test_browser_dpo import no_axe_violations
from tests.factories import event_days_ago, register_agencies
from tests.integration.test_federation_discovery import (
    ASKER,
    HELD,
    NOW,
    SHIRE_LA,
    Answering,
    allocation,
    ingest,
    receive_holdings,
    write_register,
)

pytestmark = pytest.mark.kafka

# The browser fixtures of the other browser tests, used here by name; `server` is this module's.
browser, new_page, visits = web.browser, web.new_page, web.visits

WESSEX_HOLDS = (
    "Wessex Safeguarding Children Partnership holds records about this child; contact "
    "Wessex MASH, 01234 567890"
)


@pytest.fixture(scope="module")
def partners(
    tmp_path_factory: pytest.TempPathFactory, kafka_broker: str
) -> Iterator[tuple[Server, Answering]]:
    """Shire served by `hub serve`; Wessex, holding the child and answering, in this process."""
    work = tmp_path_factory.mktemp("partner-question-web")
    settings = {"directory": SAMPLE_DIRECTORY_PATH}
    shire = bootstrap(HubSettings(data_dir=work / "shire", **settings))  # type: ignore[arg-type]
    wessex = bootstrap(HubSettings(data_dir=work / "wessex", **settings))  # type: ignore[arg-type]
    registers = {
        "shire": write_register(work / "shire.yaml", "shire", wessex, "wessex", kafka_broker),
        "wessex": write_register(work / "wessex.yaml", "wessex", shire, "shire", kafka_broker),
    }
    suffix = secrets.token_hex(4)  # topics of this module's own on the session's broker
    for path in registers.values():
        path.write_text(path.read_text().replace("discovery-", f"page-{suffix}-"))
    shire.settings = shire.settings.model_copy(update={"federation_register": registers["shire"]})
    wessex.settings = wessex.settings.model_copy(
        update={"federation_register": registers["wessex"]}
    )
    for hub in (shire, wessex):
        register_agencies(hub)
    ingest(shire, allocation(HELD, "ALLOC-1"))
    contact = event_days_ago(
        NOW, 5, event_id="CONTACT-W", agency=SHIRE_LA, kind="la.contact", child={"nhs_number": HELD}
    )
    ingest(wessex, contact)
    wessex.discovery.publish_holdings("shire")
    assert receive_holdings(shire) == {"holdings-kept": 1}
    token = issue_dev_token(shire.token_key, ASKER)
    shire.close()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "serve", "--data-dir", str(work / "shire")]
    with pytest.MonkeyPatch.context() as env:  # the server's environment only
        env.setenv("HUB_FEDERATION_REGISTER", str(registers["shire"]))
        env.setenv("HUB_DIRECTORY", str(SAMPLE_DIRECTORY_PATH))
        process = start([*command, "--port", str(port)], work / "server.log", url)
    try:
        with Answering(wessex) as answering:
            yield Server(url, HELD, "", {ASKER: token}, {}), answering
    finally:
        stop(process)
        wessex.close()


@pytest.fixture(scope="module")
def server(partners: tuple[Server, Answering]) -> Server:
    return partners[0]


def test_a_social_worker_asks_from_the_chronology_page_at_200_percent_zoom(
    partners: tuple[Server, Answering], new_page: Callable[..., Page]
) -> None:
    server, _ = partners
    # 640 CSS pixels at device scale 2 is a 1280-pixel-wide window zoomed to 200%.
    page = new_page(viewport={"width": 640, "height": 800}, device_scale_factor=2)
    login(page, server, ASKER, "child-protection-planning")
    open_child(page, server.child)
    section = page.locator("section.partner-question")
    expect(section.get_by_role("heading", level=2)).to_have_text("Is anyone else involved?")
    expect(section).to_contain_text("Nothing about the child is sent to them")
    expect(section).to_contain_text("recorded in the audit ledger")

    section.get_by_role(
        "button", name="Ask the partner hubs whether they hold records about this child"
    ).click()
    expect(page).to_have_url(re.compile(r"/chronology/view/[A-Za-z0-9_-]+#partner-answers$"))
    answers = page.get_by_role("status").filter(has_text="What the partner hubs said")
    expect(answers.get_by_role("heading", level=3)).to_have_text("What the partner hubs said")
    expect(answers.locator("li")).to_have_text([WESSEX_HOLDS])
    no_axe_violations(page)
    assert page.evaluate(OVERFLOW) <= 0
    shot(page, "chronology-partner-question-200-percent")
