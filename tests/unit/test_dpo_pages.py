"""The DPO pages' own logic, without a hub: what a withholding review form may be, how a
service's refusal is named, the anchors items are linked by, and dates and kinds in words."""

from __future__ import annotations

from datetime import date

from hub.api.dpo_pages import ReviewForm, check_review, service_problem
from hub.api.page_kit import item_anchor
from hub.reports.rendering import day_text, kind_text


def test_a_review_form_names_each_problem_by_its_field_and_never_the_value() -> None:
    form = ReviewForm("police/E-1", outcome="", until="", notes=" ")
    assert check_review(form) is None
    assert list(form.errors) == ["outcome", "notes"]
    form = ReviewForm("police/E-1", outcome="still-withheld", until="31/02/2027", notes="why")
    assert check_review(form) is None
    assert form.errors == {
        "until": "Review again by: enter the date of the next review, as YYYY-MM-DD."
    }
    assert "31/02/2027" not in str(form.errors)
    form = ReviewForm("police/E-1", outcome="still-withheld", until="", notes="why")
    check_review(form)
    assert form.errors["until"].startswith("Review again by:")
    form = ReviewForm("police/E-1", outcome="now-shared", until="2027-01-01", notes="x" * 2001)
    assert check_review(form) is None  # a shared item's date is not asked for
    assert list(form.errors) == ["notes"]
    form = ReviewForm("police/E-1", outcome="still-withheld", until="2027-03-01", notes="why")
    assert check_review(form) == date(2027, 3, 1)
    assert form.errors == {}


def test_a_services_refusal_is_named_by_the_form_field() -> None:
    assert service_problem("until: a still-withheld item needs its next review date") == (
        "until",
        "Review again by: A still-withheld item needs its next review date.",
    )
    assert service_problem("record: you do not answer for it")[1].startswith("Record: You do")
    assert service_problem("no field here")[1] == "Review: No field here."


def test_item_anchors_are_fragment_safe_and_distinct() -> None:
    assert item_anchor("shire-icb/Appointment/sg-1@1") == "item-shire-icb/Appointment/sg-1@1"
    assert item_anchor("a b") == "item-a_20b"
    assert item_anchor("a_20b") == "item-a_5f20b"  # the escape is escaped: never a clash
    assert item_anchor("é") == "item-_c3_a9"


def test_dates_and_kinds_in_words() -> None:
    assert day_text(date(2022, 9, 27)) == "27 September 2022"
    assert day_text("2023-06-01") == "1 June 2023"
    assert day_text(None) == ""
    assert kind_text("police.exploitation-concern").startswith("Exploitation concern")
    assert kind_text("agency.something-new") == "Agency.something new"
