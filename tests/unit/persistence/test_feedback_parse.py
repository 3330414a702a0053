"""The feedback body parser (cds_server.hooks.feedback): spec shape, Epic's variants, cds-fb-1..3."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any

import pytest

from cds_server.errors import InvalidFeedback
from cds_server.errors import PayloadTooLarge
from cds_server.hooks.feedback import EPIC_REASON_SYSTEM
from cds_server.hooks.feedback import FeedbackLimits
from cds_server.hooks.feedback import OverrideReason
from cds_server.hooks.feedback import parse_feedback
from cds_server.hooks.feedback import parse_instant

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LIMITS = FeedbackLimits(max_items=5, max_comment_chars=50)
CARD = "9368d37b-283f-44a0-93ea-547cebab93ed"
SUGGESTION = "e56e1945-20b3-4393-8503-a1a20fd73152"


def parse(*items: Any, limits: FeedbackLimits = LIMITS) -> Any:
    return parse_feedback({"feedback": list(items)}, now=NOW, limits=limits)


def issues_of(body: Any) -> list[str]:
    with pytest.raises(InvalidFeedback) as raised:
        parse_feedback(body, now=NOW, limits=LIMITS)
    return list(raised.value.issues) or [raised.value.message]


def test_spec_accepted_example() -> None:
    (item,) = parse(
        {
            "card": CARD,
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": SUGGESTION}],
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        }
    )
    assert item.card == CARD
    assert item.outcome == "accepted"
    assert item.accepted_suggestions == (SUGGESTION,)
    assert item.outcome_timestamp == datetime(2020, 12, 11, tzinfo=UTC)
    assert item.override_reason is None


def test_spec_overridden_with_reason_and_comment() -> None:
    (item,) = parse(
        {
            "card": CARD,
            "outcome": "overridden",
            "overrideReason": {
                "reason": {"code": "d7d8f8a3", "system": "https://example.com", "display": "Not relevant"},
                "userComment": "Patient declined",
            },
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        }
    )
    assert item.override_reason == OverrideReason(
        "https://example.com", "d7d8f8a3", "Not relevant", "Patient declined"
    )


def test_overridden_without_reason_is_a_plain_dismissal() -> None:
    (item,) = parse({"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"})
    assert item.override_reason is None


def test_epic_plural_key_reason_and_non_uuid_ids() -> None:
    (item,) = parse(
        {
            "card": "123456",
            "outcome": "overridden",
            "outcomeTimestamp": "2022-05-19T19:44:04Z",
            "overrideReasons": {
                "reason": {
                    "code": "contraindicated",
                    "display": "bad",
                    "system": "http: //example.org/cds-services/fhir/CodeSystem/override-reasons",
                },
                "userComment": "User Entered Free Text",
            },
        }
    )
    assert item.card == "123456"
    assert item.override_reason is not None
    assert item.override_reason.code == "contraindicated"
    assert item.override_reason.user_comment == "User Entered Free Text"


def test_epic_built_reason_arrives_as_extension() -> None:
    (item,) = parse(
        {
            "card": "123456",
            "outcome": "overridden",
            "outcomeTimestamp": "2022-05-19T19:44:04Z",
            "overrideReasons": {
                "extension": {
                    "com.epic.cdshooks.feedback.overrideReason.reasonCategory": "45",
                    "com.epic.cdshooks.feedback.overrideReason.reasonDisplay": "Does not meet criteria",
                    "com.epic.cdshooks.feedback.overrideReason.reasonTitle": "Does not meet criteria (title)",
                },
                "userComment": "User Entered Free Text",
            },
        }
    )
    assert item.override_reason == OverrideReason(
        EPIC_REASON_SYSTEM, "45", "Does not meet criteria", "User Entered Free Text"
    )


def test_epic_accepted_example_with_a_non_uuid_suggestion() -> None:
    (item,) = parse(
        {
            "acceptedSuggestions": [{"id": "replaceWithGUID"}],
            "card": "123456",
            "outcome": "accepted",
            "outcomeTimestamp": "2022-05-19T19:48:34Z",
        }
    )
    assert item.accepted_suggestions == ("replaceWithGUID",)


def test_a_list_of_override_reasons_keeps_the_first() -> None:
    (item,) = parse(
        {
            "card": CARD,
            "outcome": "overridden",
            "outcomeTimestamp": "2022-05-19T19:44:04Z",
            "overrideReasons": [
                {"reason": {"system": "urn:a", "code": "one"}},
                {"reason": {"system": "urn:a", "code": "two"}},
            ],
        }
    )
    assert item.override_reason is not None
    assert item.override_reason.code == "one"


def test_lenient_where_the_spec_is_silent() -> None:
    accepted, overridden = parse(
        {
            "card": CARD,
            "outcome": "accepted",
            "acceptedSuggestions": [{"id": SUGGESTION}, {"id": SUGGESTION}],
            "overrideReason": {"userComment": "ignored on accepted feedback"},
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
            "somethingNew": True,
        },
        {
            "card": CARD,
            "outcome": "overridden",
            "acceptedSuggestions": [{"id": SUGGESTION}],
            "outcomeTimestamp": "2020-12-11T00:00:00Z",
        },
    )
    assert accepted.accepted_suggestions == (SUGGESTION,)
    assert accepted.override_reason is None
    assert overridden.accepted_suggestions == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1985-04-12T23:20:50.52Z", datetime(1985, 4, 12, 23, 20, 50, 520000, tzinfo=UTC)),
        ("1996-12-19T16:39:57-08:00", datetime(1996, 12, 20, 0, 39, 57, tzinfo=UTC)),
        ("1990-12-31t23:59:60z", datetime(1990, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2020-01-01T00:00:00.123456789+01:00", datetime(2019, 12, 31, 23, 0, 0, 123456, tzinfo=UTC)),
    ],
)
def test_rfc3339_instants(text: str, expected: datetime) -> None:
    assert parse_instant(text) == expected


@pytest.mark.parametrize(
    "text", ["2020-12-11", "2020-12-11T00:00:00", "2020-13-01T00:00:00Z", "2020-12-11 00:00:00Z", "yesterday"]
)
def test_not_rfc3339(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is deliberately generic
        parse_instant(text)


def test_two_spellings_of_one_instant_are_one_key() -> None:
    first, second = parse(
        {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "1985-04-12T23:20:50.52Z"},
        {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "1985-04-13T01:20:50.520+02:00"},
    )
    assert first.key == second.key


@pytest.mark.parametrize(
    ("item", "where"),
    [
        ({"outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}, "feedback[0].card"),
        (
            {"card": 7, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"},
            "feedback[0].card",
        ),
        (
            {"card": CARD, "outcome": "ignored", "outcomeTimestamp": "2020-12-11T00:00:00Z"},
            "feedback[0].outcome",
        ),
        ({"card": CARD, "outcome": "accepted", "outcomeTimestamp": "2020-12-11T00:00:00Z"}, "cds-fb-2"),
        (
            {
                "card": CARD,
                "outcome": "accepted",
                "acceptedSuggestions": [],
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
            "feedback[0].acceptedSuggestions",
        ),
        (
            {
                "card": CARD,
                "outcome": "accepted",
                "acceptedSuggestions": [{"uuid": SUGGESTION}],
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
            "feedback[0].acceptedSuggestions[0].id",
        ),
        (
            {
                "card": CARD,
                "outcome": "overridden",
                "overrideReason": {},
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
            "cds-fb-3",
        ),
        (
            {
                "card": CARD,
                "outcome": "overridden",
                "overrideReason": {"reason": {"system": "urn:x"}},
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
            "feedback[0].overrideReason.reason.code",
        ),
        ({"card": CARD, "outcome": "overridden"}, "feedback[0].outcomeTimestamp"),
        (
            {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2020-12-11"},
            "feedback[0].outcomeTimestamp",
        ),
        ("not an object", "feedback[0]"),
    ],
)
def test_each_problem_names_index_and_field(item: Any, where: str) -> None:
    issues = issues_of({"feedback": [item]})
    assert any(where in issue for issue in issues), issues


def test_every_bad_item_is_reported_with_its_index() -> None:
    good = {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}
    issues = issues_of({"feedback": [good, {**good, "outcome": "x"}, good, {**good, "card": ""}]})
    assert [issue.split(":")[0] for issue in issues] == ["feedback[1].outcome", "feedback[3].card"]


def test_a_future_timestamp_beyond_the_skew_is_refused() -> None:
    near = (NOW + timedelta(minutes=4)).isoformat().replace("+00:00", "Z")
    far = (NOW + timedelta(minutes=6)).isoformat().replace("+00:00", "Z")
    assert parse({"card": CARD, "outcome": "overridden", "outcomeTimestamp": near})
    issues = issues_of({"feedback": [{"card": CARD, "outcome": "overridden", "outcomeTimestamp": far}]})
    assert issues == ["feedback[0].outcomeTimestamp: is in the future"]


def test_a_comment_over_the_limit_is_refused_without_echo() -> None:
    comment = "ZZCANARY " * 10
    item = {
        "card": CARD,
        "outcome": "overridden",
        "overrideReason": {"userComment": comment},
        "outcomeTimestamp": "2020-12-11T00:00:00Z",
    }
    issues = issues_of({"feedback": [item]})
    assert issues == ["feedback[0].overrideReason.userComment: must be at most 50 characters"]


@pytest.mark.parametrize(
    "body", [None, [], {"feedback": None}, {"feedback": {}}, {"cards": []}, {"feedback": []}]
)
def test_body_shape(body: Any) -> None:
    with pytest.raises(InvalidFeedback):
        parse_feedback(body, now=NOW, limits=LIMITS)


def test_more_items_than_the_limit_is_413() -> None:
    item = {"card": CARD, "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"}
    assert len(parse(*[item] * 5)) == 5
    with pytest.raises(PayloadTooLarge):
        parse(*[item] * 6)


def test_issue_list_is_capped() -> None:
    limits = FeedbackLimits(max_items=500)
    with pytest.raises(InvalidFeedback) as raised:
        parse_feedback({"feedback": ["x"] * 100}, now=NOW, limits=limits)
    assert len(raised.value.issues) == 21
    assert raised.value.issues[-1] == "... and 80 more problems"


def test_messages_never_repeat_values() -> None:
    canary = "ZZCANARY-7F3A"
    body = {
        "feedback": [
            {"card": canary * 30, "outcome": canary, "outcomeTimestamp": canary},
            {
                "card": CARD,
                "outcome": "overridden",
                "overrideReason": {"reason": {"system": canary, "code": canary * 100}},
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
            },
        ]
    }
    issues = issues_of(body)
    assert issues
    assert not any(canary in issue for issue in issues)
