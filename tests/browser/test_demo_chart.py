"""The demo chart in real headless Chromium against ``cds-server serve``: Emery Purdy's chart, the cards
of patient-view with the inputs behind them, the statin suggestion of order-select accepted, a card
dismissed with a reason — and the feedback rows those clicks left in the server's database.

Screenshots go to ``test-artifacts/`` (gitignored) for a person to look at.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import ADMIN_TOKEN
from tests.browser.conftest import ARTIFACTS
from tests.browser.conftest import full_page_screenshot
from tests.support.served import ServedApp

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WAIT_S = 30
EMERY = "efe58fa2-c6df-4a71-8e37-06c5e4f1e2b8"
REASON = "recipient-disagrees-evidence"


def wait_for_status(browser: webdriver.Chrome, prefix: str) -> None:
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: driver.find_element(By.ID, "status").text.startswith(prefix),
        f"status never started with {prefix!r}",
    )


def cards_by_service(browser: webdriver.Chrome) -> dict[str, WebElement]:
    return {
        card.get_attribute("data-service") or "": card
        for card in browser.find_elements(By.CSS_SELECTOR, "article.card")
    }


def feedback_rows(served: ServedApp) -> list[dict[str, Any]]:
    with sqlite3.connect(served.database_file) as connection:
        connection.row_factory = sqlite3.Row
        rows = connection.execute(
            "SELECT service_id, outcome, reason_system, reason_code, accepted_suggestions, card_uuid "
            "FROM feedback ORDER BY id"
        ).fetchall()
    return [dict(row) for row in rows]


def severe_console_messages(browser: webdriver.Chrome) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def test_cards_render_and_accept_and_dismiss_send_feedback(
    browser: webdriver.Chrome, served: ServedApp
) -> None:
    browser.get(f"{served.url}/demo")
    patient = WebDriverWait(browser, WAIT_S).until(
        lambda driver: Select(driver.find_element(By.ID, "patient"))
    )
    WebDriverWait(browser, WAIT_S).until(lambda _: len(patient.options) == 6)
    emery = next(option for option in patient.options if option.text.startswith("Emery Purdy"))
    patient.select_by_value(emery.get_attribute("value") or "")
    WebDriverWait(browser, WAIT_S).until(
        lambda driver: driver.find_element(By.CSS_SELECTOR, "#chart h2").text == "Emery Purdy"
    )
    chart = browser.find_element(By.ID, "chart").text
    assert "Diabetes" in chart
    assert "Hypertension" in chart
    assert "mmHg" in chart

    browser.find_element(By.ID, "patient-view").click()
    wait_for_status(browser, "patient-view:")
    cards = cards_by_service(browser)
    assert {"ascvd-risk", "prevent-risk", "diabetes-progression", "news2", "risk-trajectory"} <= set(cards)

    ascvd = cards["ascvd-risk"].text
    assert ascvd.startswith("WARNING\n10-year ASCVD risk ") or ascvd.startswith("WARNING 10-year ASCVD risk ")
    for shown in (
        "Systolic blood pressure",
        "Total cholesterol",
        "HDL cholesterol",
        "mg/dL",
        "Modifiable factors",
    ):
        assert shown in ascvd, shown
    diabetes = cards["diabetes-progression"].text
    assert "Predicted 1-year diabetes progression score" in diabetes
    assert "Glucose" in diabetes
    assert "Body mass index" in diabetes
    assert "10-year risk: CVD" in cards["prevent-risk"].text
    # EHRs show the most severe first: the warning before the info cards
    order = [
        card.get_attribute("data-service") for card in browser.find_elements(By.CSS_SELECTOR, "article.card")
    ]
    assert order[0] == "ascvd-risk"
    # the model card link of a card opens the model page
    link = cards["ascvd-risk"].find_element(By.LINK_TEXT, "Model card and source attributes")
    assert link.get_attribute("href") == f"{served.url}/models/ascvd-pce"
    full_page_screenshot(browser, "demo-patient-view")
    dismissed_card = cards["ascvd-risk"].get_attribute("data-card")

    Select(cards["ascvd-risk"].find_element(By.CSS_SELECTOR, "select.reason")).select_by_value(REASON)
    cards["ascvd-risk"].find_element(By.CSS_SELECTOR, "button.dismiss").click()
    WebDriverWait(browser, WAIT_S).until(
        lambda _: "Dismissed: Recipient disagrees" in cards["ascvd-risk"].text, "no dismissal confirmation"
    )

    Select(browser.find_element(By.ID, "drug")).select_by_value("314076")  # lisinopril, not a statin
    browser.find_element(By.ID, "order-select").click()
    wait_for_status(browser, "order-select:")
    statin = cards_by_service(browser)["statin-therapy"]
    assert "consider a moderate-intensity statin" in statin.text
    accept = statin.find_element(By.CSS_SELECTOR, "button.accept")
    assert accept.text == "Accept: Order atorvastatin 20 mg daily (moderate intensity)"
    accept.click()
    WebDriverWait(browser, WAIT_S).until(
        lambda _: "Accepted: Order atorvastatin" in statin.text, "no acceptance"
    )
    assert "Pending orders: atorvastatin 20 MG Oral Tablet" in browser.find_element(By.ID, "orders").text
    full_page_screenshot(browser, "demo-order-select-accepted")

    # the accepted statin is a draft order now: signing raises no statin card
    browser.find_element(By.ID, "order-sign").click()
    wait_for_status(browser, "order-sign:")
    assert "No cards" in browser.find_element(By.ID, "cards").text
    full_page_screenshot(browser, "demo-order-sign")

    rows = feedback_rows(served)
    assert [(row["service_id"], row["outcome"]) for row in rows] == [
        ("ascvd-risk", "overridden"),
        ("statin-therapy", "accepted"),
    ]
    assert rows[0]["reason_code"] == REASON
    assert rows[0]["reason_system"] == "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes"
    assert rows[0]["card_uuid"] == dismissed_card
    assert len(json.loads(rows[1]["accepted_suggestions"])) == 1
    assert severe_console_messages(browser) == []


def call_ascvd(served: ServedApp, times: int) -> None:
    """Open Emery Purdy's chart ``times`` more times, as an EHR would (a development-client JWT each)."""
    with httpx.Client(base_url=served.url, timeout=10) as http:
        for _ in range(times):
            body = http.get(
                f"/demo/patients/{EMERY}/request", params={"service": "ascvd-risk", "hook": "patient-view"}
            ).json()
            url = f"{served.url}/cds-services/ascvd-risk"
            token = http.get("/demo/token", params={"url": url}).json()["token"]
            assert http.post(url, json=body, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_the_operator_and_integrator_pages_render(browser: webdriver.Chrome, served: ServedApp) -> None:
    """The dashboard (admin token sent as a header) after enough calls for drift, the model and
    registration pages."""
    call_ascvd(served, 30)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd(
        "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}
    )
    try:
        browser.get(f"{served.url}/dashboard")
        page = browser.find_element(By.TAG_NAME, "main").text
        assert "What the server has been doing" in page
        assert "ascvd-risk" in page
        assert "statin-therapy" in page
        assert "ascvd-pce 1.0.0" in page
        assert "major shift" in page  # 31 calls for one patient: every input in one reference decile
        assert "1.0.0 (active) vs 1.1.0 (shadow)" in page
        assert len(browser.find_elements(By.CSS_SELECTOR, "figure svg")) >= 5
        full_page_screenshot(browser, "dashboard")
        sections = browser.find_elements(By.CSS_SELECTOR, "main section")
        for name, section in zip(("calls", "feedback", "drift", "shadow", "models"), sections, strict=True):
            section.screenshot(str(ARTIFACTS / f"dashboard-{name}.png"))
    finally:
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {}})

    browser.get(f"{served.url}/models/ascvd-pce")
    assert browser.find_element(By.TAG_NAME, "h1").text.startswith("10-year ASCVD risk")
    full_page_screenshot(browser, "model-card-ascvd-pce")

    browser.get(f"{served.url}/docs/registration")
    assert browser.find_element(By.ID, "statin-therapy").text.startswith(
        "Statin therapy for primary prevention"
    )
    full_page_screenshot(browser, "registration-sheet")
    assert severe_console_messages(browser) == []
