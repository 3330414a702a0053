"""``GET /openapi.json`` documents exactly the routes the app has."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient


def flask_paths(app: Flask) -> set[tuple[str, str]]:
    routes = set()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path.replace("{service_id}", "{id}"), method.lower()))
    return routes


def test_every_route_is_documented_and_every_documented_path_exists(app: Flask, client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented == flask_paths(app)


def test_the_document_is_open_and_names_the_two_credentials(app: Flask) -> None:
    document = app.test_client(sign=False).get("/openapi.json").json
    assert set(document["components"]["securitySchemes"]) == {"ehrJwt", "adminToken"}
    assert document["components"]["securitySchemes"]["ehrJwt"]["bearerFormat"] == "JWT"
    call = document["paths"]["/cds-services/{id}"]["post"]
    assert call["security"] == [{"ehrJwt": []}]
    assert call["responses"]["401"] == {"$ref": "#/components/responses/Unauthorized"}
    assert "HookRequest" in document["components"]["schemas"]
    assert document["servers"] == [{"url": "http://127.0.0.1:8000"}]


def test_every_reference_resolves(app: Flask) -> None:
    document = app.test_client(sign=False).get("/openapi.json").json
    text = str(document)
    for kind, name in re.findall(r"#/components/(schemas|responses)/([A-Za-z0-9_]+)", text):
        assert name in document["components"][kind], name
