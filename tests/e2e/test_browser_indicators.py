"""The indicators dashboard as a reader opens it: `hub indicators --format html --out FILE` on a
real hub, the file opened from disk in a real Chromium; the charts and tables render, each
chart has an accessible name, each dashboard row shows the published England figure with its
source and the quartile in words, axe-core finds no violation, and the page asks for nothing but
itself."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hub.adapters.comparators import SHIPPED_COMPARATOR_FILES, load_comparators
from hub.bootstrap import bootstrap
from hub.domain.indicators import quarter_of
from hub.ingest import InboundMessage
from hub.settings import HubSettings
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_browser_dpo import no_axe_violations
from tests.factories import event_dict, nhs_number, register_agencies

LA = {"id": "shire-county-council", "type": "local-authority"}
POLICE = {"id": "shire-constabulary", "type": "police"}
NOW = datetime.now(UTC).replace(microsecond=0)
AS_AT = quarter_of(NOW.date()).end + timedelta(days=1)  # reports the quarter holding today


def _event(agency: dict[str, str], event_id: str, kind: str, i: int, **fields: Any) -> bytes:
    recorded = NOW - timedelta(hours=2 + 3 * i)
    document = event_dict(
        event_id=event_id,
        agency=agency,
        kind=kind,
        child={"nhs_number": nhs_number(i)},
        occurred_at=(recorded - timedelta(days=1)).isoformat(),
        recorded_at=recorded.isoformat(),
        details=fields.pop("details", {}),
        **fields,
    )
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Twelve children's referrals and police visits, received now; the HTML written by the
    real command line."""
    work = tmp_path_factory.mktemp("indicators")
    hub = bootstrap(HubSettings(data_dir=work / "hub"))
    register_agencies(hub)
    la = [
        _event(LA, f"REF-{i}", "la.referral", i, details={"referral_source": "police"})
        for i in range(12)
    ]
    police = [
        _event(
            POLICE,
            f"VISIT-{i}",
            "police.home-visit",
            i,
            details={"reason": "welfare", "child_seen": True, "child_spoken_to": False},
            withheld_from=[
                {
                    "agency_type": "education",
                    "reason": "Live investigation",
                    "decided_by": "DS 4471",
                    "review_by": (NOW + timedelta(days=60)).date().isoformat(),
                }
            ]
            if i < 6
            else [],
        )
        for i in range(12)
    ]
    for agency, values in ((LA["id"], la), (POLICE["id"], police)):
        hub.ingest.ingest(
            [InboundMessage(f"inbox:{agency}/x", n + 1, v, agency) for n, v in enumerate(values)]
        )
    hub.close()
    out = work / "indicators.html"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "indicators",
            "--data-dir",
            str(work / "hub"),
            "--as-at",
            AS_AT.isoformat(),
            "--format",
            "html",
            "--out",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def test_the_dashboard_renders_charts_and_tables_from_disk(
    dashboard: Path, browser: Browser
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page: Page = context.new_page()
    requests: list[str] = []
    console: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: console.append(message.text))
    try:
        page.goto(dashboard.as_uri())
        label = quarter_of(NOW.date()).label
        expect(page.get_by_role("heading", level=1)).to_have_text("Partnership indicators")
        expect(page.locator("header")).to_contain_text(label)
        expect(page.locator("header")).to_contain_text(quarter_of(NOW.date()).name)

        # The dashboard table: one row per indicator, the seed's columns.
        table = page.locator("#dashboard-table")
        expect(table.locator("thead th")).to_have_count(10)
        expect(table.locator("thead th").nth(8)).to_have_text("England")
        expect(table.locator("thead th").nth(9)).to_have_text("Quartile")
        expect(table.locator("tbody tr")).to_have_count(10)  # with the two care leaver rows
        care_leavers = table.locator("tr[data-code='care-leavers-suitable-accommodation']")
        expect(care_leavers.locator(".definition")).to_contain_text("aged 19 to 21")
        row = table.locator("tr[data-code='re-referrals-12-months']")
        expect(row).to_contain_text("Re-referrals to CSC within 12 mths")
        # Each figure says its definition (with its source) and its period in words.
        expect(row.locator(".definition")).to_contain_text("DfE children in need census, C3")
        expect(row.locator(".period")).to_contain_text("year to date (April")
        expect(row).to_contain_text("0.0%")  # 12 first referrals, no re-referral
        expect(row).to_contain_text("0 of 12")
        expect(row.locator(".rag")).to_have_text("G")
        expect(row).to_contain_text("<18.7%")
        # Beside it, the published England figure for the comparators' year, with its source,
        # and the quartile in words: the shipped files publish no quartile boundaries.
        year = quarter_of(NOW.date()).year  # a quarter of Y/Y+1 compares with year ending Y
        shipped = max(y for y in SHIPPED_COMPARATOR_FILES if y <= year)
        england = load_comparators(SHIPPED_COMPARATOR_FILES[shipped]).for_indicator(
            "re-referrals-12-months"
        )
        assert england is not None and england.england is not None
        published = england.england
        expect(row.locator("td.england")).to_contain_text(
            f"{published.value:g}% (England {published.source.reporting_year})"
        )
        link = row.locator("td.england a")
        expect(link).to_have_attribute("href", published.source.url)
        expect(link).to_contain_text(published.source.publication)
        expect(row.locator("td.quartile")).to_have_text("not published")
        for cell in table.locator("tbody td.england, tbody td.quartile").all():
            assert cell.inner_text().strip()  # words, never an empty cell
        expect(page.locator("#comparators-note")).to_contain_text(
            SHIPPED_COMPARATOR_FILES[shipped].name
        )
        if shipped != year:
            expect(page.locator("#comparators-note")).to_contain_text("none is shipped for")

        # Charts: inline SVG, each an image with a name, drawn with real size.
        charts = page.locator("svg.chart")
        assert charts.count() == 13  # 10 dashboard + all four agencies + latency + withheld
        expect(
            page.get_by_role("img", name="Re-referrals to CSC within 12 mths", exact=False)
        ).to_be_visible()
        for index in range(charts.count()):
            box = charts.nth(index).bounding_box()
            assert box is not None and box["width"] > 300 and box["height"] > 40
        latency = page.locator("#chart-latency")
        police_median = latency.locator("rect.median").nth(0)  # local authority, then police
        expect(latency.locator("rect")).to_have_count(4)  # LA and police: median and p90
        assert float(police_median.get_attribute("width") or 0) > 0
        withheld = page.locator("#chart-withheld")
        expect(withheld.locator("rect.withheld")).to_have_count(1)  # 6 for an investigation
        expect(withheld).to_contain_text("Live investigation or prosecution")

        # Text alternatives beside the charts.
        expect(page.locator("#latency-table tbody tr")).to_have_count(4)
        expect(page.locator("#agency-table tbody tr")).to_have_count(2)
        expect(page.locator("#withheld-table tbody tr").first).to_contain_text("6")
        expect(page.locator("#not-supported li").first).to_be_visible()

        assert page.evaluate("document.scripts.length") == 0
        no_axe_violations(page)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "indicators-dashboard.png"), full_page=True)
    finally:
        context.close()
    assert requests == [dashboard.as_uri()]  # nothing fetched: no external requests
    assert [m for m in console if "Content Security Policy" in m] == []
