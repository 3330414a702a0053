"""Reading request bodies: content type, size, strict JSON.

orjson is strict where the stdlib is lenient: it rejects NaN/Infinity, numbers that overflow a
double (``1e999999``, 5,000-digit integers), lone surrogates, invalid UTF-8, a BOM and nesting
deeper than 1,024 — each a 400 here, never a 500. Duplicate keys are the one thing orjson lets
through (last wins), so the envelope keys that decide routing, identity and where we connect
(``hook``, ``fhirServer``, ``context.patientId``, ...) are checked for duplicates explicitly.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

import orjson
from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from cds_server.errors import InvalidJson
from cds_server.errors import PayloadTooLarge
from cds_server.errors import UnsupportedMediaType

JSON_MEDIA_TYPES = frozenset({"application/json", "application/fhir+json"})

_ENVELOPE_KEY = re.compile(
    rb'"(hook|hookInstance|fhirServer|fhirAuthorization|context|prefetch|patientId|userId|encounterId'
    rb'|access_token|feedback|card|outcome)"\s*:'
)


def read_json_body(request: Request) -> Any:
    """The decoded JSON body of ``request``.

    :raise UnsupportedMediaType: not ``application/json`` (or ``application/fhir+json``), or not UTF-8.
    :raise PayloadTooLarge: larger than the configured limit (chunked bodies included).
    :raise InvalidJson: empty, malformed, or with duplicate envelope keys.
    """
    if request.mimetype not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType()
    charset = request.mimetype_params.get("charset")
    if charset is not None and charset.lower().replace("-", "") != "utf8":
        raise UnsupportedMediaType("The request body must be UTF-8 encoded JSON.")
    try:
        raw = _read_all(request)
    except RequestEntityTooLarge:
        raise PayloadTooLarge() from None
    if not raw.strip():
        raise InvalidJson("The request body is empty.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidJson() from None
    if _has_duplicate_envelope_keys(raw):
        raise InvalidJson("The request body repeats a key in the same object.")
    return body


def _read_all(request: Request) -> bytes:
    limit = request.max_content_length
    if limit is None:
        return request.get_data(cache=False)
    # A chunked body has no Content-Length to refuse up front; its stream stops at the limit and
    # raises RequestEntityTooLarge on the next read if the client sent more.
    raw = request.stream.read(limit)
    if len(raw) == limit and request.stream.read(1):
        raise RequestEntityTooLarge()
    return raw


def _has_duplicate_envelope_keys(raw: bytes) -> bool:
    # Cheap scan first: a key occurring once in the whole document cannot be duplicated. Only when
    # one occurs more than once (legitimately, e.g. "context" inside a resource) do we pay for an
    # exact parse that sees every object's pairs.
    counts = Counter(_ENVELOPE_KEY.findall(raw))
    if all(count == 1 for count in counts.values()):
        return False
    try:
        json.loads(raw, object_pairs_hook=_reject_duplicates)
    except _DuplicateKey:
        return True
    except RecursionError:
        raise InvalidJson("The request body is nested too deeply.") from None
    return False


class _DuplicateKey(Exception):
    pass


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result
