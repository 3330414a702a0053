"""Reading request bodies: content type, size, strict JSON.

orjson is strict where the stdlib is lenient: it rejects NaN/Infinity, numbers that overflow a
double (``1e999999``, 5,000-digit integers), lone surrogates, invalid UTF-8, a BOM and nesting
deeper than 1,024 — each a 400 here, never a 500. Nesting deeper than ``CDS_JSON_MAX_DEPTH``
(default 64; FHIR documents are about 12 deep) is refused too, before any recursive code sees it.
Duplicate keys are the one thing orjson lets through (last wins), so the envelope keys that decide
routing, identity and where we connect (``hook``, ``fhirServer``, ``context.patientId``, ...) are
checked for duplicates explicitly.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from cds_server.errors import InvalidJson
from cds_server.errors import PayloadTooLarge
from cds_server.errors import UnsupportedMediaType
from cds_server.state import get_state

JSON_MEDIA_TYPES = frozenset({"application/json", "application/fhir+json"})

_ENVELOPE_KEY = re.compile(
    rb'"(hook|hookInstance|fhirServer|fhirAuthorization|context|prefetch|patientId|userId|encounterId'
    rb'|access_token|feedback|card|outcome)"\s*:'
)


def read_json_body(request: Request, *, max_depth: int | None = None) -> Any:
    """The decoded JSON body of ``request``, nested at most ``max_depth`` deep (``CDS_JSON_MAX_DEPTH``).

    :raise UnsupportedMediaType: not ``application/json`` (or ``application/fhir+json``), or not UTF-8.
    :raise PayloadTooLarge: larger than the configured limit (chunked bodies included).
    :raise InvalidJson: empty, malformed, nested too deeply, or with duplicate envelope keys.
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
    limit = get_state().settings.json_max_depth if max_depth is None else max_depth
    structure = structure_of(raw)
    if structure.depth > limit:
        raise InvalidJson("The request body is nested too deeply.")
    if structure.duplicate_envelope_keys:
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


# The structure is read off the bytes, not the parsed objects: walking ~4,000 containers of a 190 KB
# prefetch in Python costs ~1 ms, this ~0.7 ms for depth and duplicate keys together. Escapes are
# blanked first with same-length filler (so an escaped quote cannot end a string and offsets stay
# true). Only quotes and brackets matter (~15 % of the bytes), so the running sums go over those
# alone: a bracket counts only outside strings (an even number of quotes before it), and the depth
# after each of them is the running sum of +1 (open) and -1 (close).
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_PREFETCH_KEY = re.compile(rb'"prefetch"\s*:\s*')
_QUOTE, _OPEN_OBJECT, _OPEN_ARRAY, _CLOSE_OBJECT, _CLOSE_ARRAY = (ord(c) for c in '"{[}]')


@dataclass(frozen=True)
class Structure:
    depth: int
    duplicate_envelope_keys: bool


@dataclass(frozen=True)
class _Marks:
    """The offsets of the quotes and brackets of a body, and the nesting depth at each."""

    offsets: npt.NDArray[np.intp]
    depths: npt.NDArray[np.int32]

    def depth_at(self, offset: int) -> int:
        """Depth at a quote or bracket ``offset``."""
        return int(self.depths[np.searchsorted(self.offsets, offset)])

    def back_to_envelope(self, offset: int) -> int:
        """The first quote or bracket at or after ``offset`` where the depth is 1 or less again."""
        start = int(np.searchsorted(self.offsets, offset))
        return int(self.offsets[start + int(np.argmax(self.depths[start:] <= 1))])


def structure_of(raw: bytes) -> Structure:
    """Nesting depth of ``raw`` (valid JSON) and whether an envelope key repeats in its object.

    Duplicates are looked for outside the top-level ``prefetch`` object, where routing, identity and
    the server contacted are decided (the envelope, ``context``, ``fhirAuthorization``); inside the
    FHIR resources of the prefetch the last value wins, as in every mainstream parser.
    """
    neutral = _ESCAPE.sub(b"__", raw) if b"\\" in raw else raw
    codes = np.frombuffer(neutral, dtype=np.uint8)
    quotes = codes == _QUOTE
    opens = (codes == _OPEN_OBJECT) | (codes == _OPEN_ARRAY)
    closes = (codes == _CLOSE_OBJECT) | (codes == _CLOSE_ARRAY)
    offsets = np.flatnonzero(quotes | opens | closes)
    if offsets.size == 0:
        return Structure(0, duplicate_envelope_keys=False)
    outside = 1 - (np.cumsum(quotes[offsets], dtype=np.int32) & 1)
    steps = opens[offsets].view(np.int8).astype(np.int32) - closes[offsets].view(np.int8)
    marks = _Marks(offsets, np.cumsum(steps * outside, dtype=np.int32))
    envelope = _without_prefetch(raw, marks)
    return Structure(int(marks.depths.max()), _repeats_envelope_key(envelope))


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest in ``raw`` (valid JSON): ``{}`` is 1, ``{"a": []}`` is 2."""
    return structure_of(raw).depth


def _without_prefetch(raw: bytes, marks: _Marks) -> bytes:
    at = raw.find(b'"prefetch"')
    while at != -1:
        key = _PREFETCH_KEY.match(raw, at)
        if key is not None and marks.depth_at(at) == 1 and raw[key.end() : key.end() + 1] == b"{":
            # the prefetch object ends where the depth falls back to the envelope's: keep it empty
            end = marks.back_to_envelope(key.end())
            return raw[: key.end()] + b"{" + raw[end:]
        at = raw.find(b'"prefetch"', at + 1)
    return raw


def _repeats_envelope_key(envelope: bytes) -> bool:
    # Cheap scan first: a key occurring once cannot be duplicated. Only when one occurs twice (it may
    # legitimately, in two different objects) do we pay for an exact parse of every object's pairs.
    counts = Counter(_ENVELOPE_KEY.findall(envelope))
    if all(count == 1 for count in counts.values()):
        return False
    try:
        json.loads(envelope, object_pairs_hook=_reject_duplicates)
    except _DuplicateKey:
        return True
    except RecursionError:
        raise InvalidJson("The request body is nested too deeply.") from None
    except ValueError:  # the envelope without its prefetch must parse; if not, the body is not JSON
        raise InvalidJson() from None
    return False


class _DuplicateKey(Exception):
    pass


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _DuplicateKey
    return result
