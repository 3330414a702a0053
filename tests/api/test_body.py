"""The byte scan behind the body checks agrees with the parsed JSON, whatever the strings hold."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from cds_server.api.body import structure_of

# Strings made of the characters the scan has to see through: quotes, brackets, backslashes.
TRICKY = st.text(alphabet='"\\[]{}:,ab /\n', max_size=8)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TRICKY,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TRICKY, inner, max_size=4),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_the_depth_read_off_the_bytes_is_the_depth_of_the_value(value: Any) -> None:
    assert structure_of(orjson.dumps(value)).depth == depth(value)
    assert structure_of(orjson.dumps(value, option=orjson.OPT_INDENT_2)).depth == depth(value)


@settings(max_examples=200, deadline=None)
@given(prefetch=JSON, context=st.dictionaries(TRICKY, JSON, max_size=3))
def test_a_repeated_envelope_key_is_found_and_the_prefetch_is_never_looked_into(
    prefetch: Any, context: dict[str, Any]
) -> None:
    body = {"hook": "patient-view", "context": context, "prefetch": {"p": prefetch, "hook": 1}}
    raw = orjson.dumps(body)
    assert not structure_of(raw).duplicate_envelope_keys
    # the same key twice in the envelope, however the prefetch looks
    repeated = raw[:-1] + b', "hook": "order-sign"}'
    assert structure_of(repeated).duplicate_envelope_keys
