"""The demo chart's routes: the page, the patients, the requests a pretend EHR sends, its tokens.

The page itself is driven in a real browser by tests/browser/test_demo_chart.py.
"""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import AppFactory

EMERY = "efe58fa2-c6df-4a71-8e37-06c5e4f1e2b8"
STATIN, LISINOPRIL = "617310", "314076"


def test_the_page_links_the_models_and_preselects_an_order_that_is_not_a_statin(client: FlaskClient) -> None:
    page = client.get("/demo").get_data(as_text=True)
    assert f'<option value="{LISINOPRIL}" selected>' in page
    assert '/models/ascvd-pce?format=html"' in page
    assert "/docs/registration" in page


def test_the_patients_and_a_chart_summary_in_display_units(client: FlaskClient) -> None:
    patients = {p["name"]: p for p in client.get("/demo/patients").json}
    assert patients["Emery Purdy"]["id"] == EMERY
    assert patients["Emery Purdy"]["profile"] == "diabetes, hypertension"
    summary = client.get(f"/demo/patients/{EMERY}").json
    shown = {row["label"]: row["value"] for row in summary["latest"]}
    assert shown["Systolic BP"].endswith(" mmHg")  # UCUM mm[Hg], as a chart prints it
    assert shown["eGFR"].endswith(" mL/min/1.73 m²")


def test_order_hooks_carry_every_draft_order_the_selected_one_first(client: FlaskClient) -> None:
    url = f"/demo/patients/{EMERY}/request"
    query = [("service", "statin-therapy"), ("hook", "order-select"), ("drug", LISINOPRIL), ("drug", STATIN)]
    body = client.get(url, query_string=query).json
    orders = [entry["resource"] for entry in body["context"]["draftOrders"]["entry"]]
    assert [o["medicationCodeableConcept"]["coding"][0]["code"] for o in orders] == [LISINOPRIL, STATIN]
    assert body["context"]["selections"] == [f"MedicationRequest/{orders[0]['id']}"]
    # the statin accepted earlier is a draft order now: no statin card on signing
    signed = client.get(url, query_string=[("service", "statin-therapy"), ("hook", "order-sign"),
                                           ("drug", LISINOPRIL), ("drug", STATIN)]).json  # fmt: skip
    assert client.post("/cds-services/statin-therapy", json=signed).json == {"cards": []}
    alone = client.get(url, query_string={"service": "statin-therapy", "hook": "order-sign"}).json
    assert len(client.post("/cds-services/statin-therapy", json=alone).json["cards"]) == 1
    assert client.get(url, query_string=[*query, ("drug", "000")]).status_code == 400


def test_demo_tokens_for_configured_networks_only(make_app: AppFactory) -> None:
    url = "http://127.0.0.1:8000/cds-services"
    client = make_app(demo_token_networks=["172.16.0.0/12"]).test_client(sign=False)

    def token_from(address: str) -> int:
        return client.get(
            "/demo/token", query_string={"url": url}, environ_base={"REMOTE_ADDR": address}
        ).status_code

    # the Docker bridge of the compose stack, where the browser's requests come from
    assert token_from("172.18.0.1") == 200
    assert token_from("127.0.0.1") == 200
    assert token_from("10.1.2.3") == 404
    assert token_from("not-an-address") == 404
