"""CDS Hooks feedback bodies: the spec's shape and Epic's, parsed into :class:`FeedbackItem` values.

Accepted shapes (CDS Hooks 2.0 §Feedback, and Epic's CDS Hooks guide):

* ``{"feedback": [{card, outcome, acceptedSuggestions, overrideReason, outcomeTimestamp}, ...]}``;
* ``overrideReasons`` (Epic's plural key) for ``overrideReason``, as an object or a list (the first
  reason is kept);
* Epic-built reasons as ``overrideReason(s).extension`` with the keys
  ``com.epic.cdshooks.feedback.overrideReason.reasonCategory`` / ``…reasonDisplay`` / ``…reasonTitle``
  instead of ``reason``: kept as the coding ``(EPIC_REASON_SYSTEM, category, display or title)``;
* card and suggestion ids that are not UUIDs (Epic's examples use ``"123456"``); batches.

Rules: cds-fb-1 (``outcome`` is ``accepted`` or ``overridden``), cds-fb-2 (``accepted`` needs
``acceptedSuggestions``), cds-fb-3 (an ``overrideReason`` has a ``reason`` or a ``userComment``);
``outcomeTimestamp`` is an RFC 3339 date-time with an offset, not in the future beyond a small clock
skew. Lenient where the spec is silent: an ``overrideReason`` on accepted feedback and
``acceptedSuggestions`` on overridden feedback are ignored, unknown keys are ignored.

The whole batch is checked before anything is stored; errors name the item index and the field and
never repeat a value (comments are PHI).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any
from typing import Literal

from cds_server.errors import InvalidFeedback
from cds_server.errors import PayloadTooLarge

Outcome = Literal["accepted", "overridden"]
OUTCOMES: tuple[Outcome, ...] = ("accepted", "overridden")

EPIC_EXTENSION_PREFIX = "com.epic.cdshooks.feedback.overrideReason."
#: the code system under which Epic-built override reasons (their category ids) are stored
EPIC_REASON_SYSTEM = EPIC_EXTENSION_PREFIX + "reasonCategory"
#: client clocks run a little ahead; feedback further in the future than this is refused
CLOCK_SKEW = timedelta(minutes=5)
MAX_ID_CHARS = 255
MAX_CODING_CHARS = 1024
#: issues listed in one 400 answer; a batch of 500 bad items should not produce a 500-issue body
MAX_ISSUES = 20

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)


@dataclass(frozen=True)
class OverrideReason:
    system: str | None = None
    code: str | None = None
    display: str | None = None
    #: free text typed by a clinician: PHI, never logged
    user_comment: str | None = None


@dataclass(frozen=True)
class FeedbackItem:
    card: str
    outcome: Outcome
    #: UTC, microsecond precision: two spellings of one instant are one key
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...] = ()
    override_reason: OverrideReason | None = None

    @property
    def key(self) -> tuple[str, str, datetime]:
        """What makes two reports the same report (the spec says clients may repeat them)."""
        return (self.card, self.outcome, self.outcome_timestamp)


@dataclass(frozen=True)
class FeedbackLimits:
    max_items: int = 500
    max_comment_chars: int = 4000
    clock_skew: timedelta = CLOCK_SKEW


def parse_instant(text: str) -> datetime:
    """An RFC 3339 §5.6 date-time with ``Z`` or a numeric offset, as an aware UTC datetime.

    Fractions beyond microseconds are truncated; a leap second ``:60`` becomes ``:59.999999``.

    :raise ValueError: not such a date-time (no offset, impossible date, ...).
    """
    match = _RFC3339.match(text)
    if match is None:
        raise ValueError("not an RFC 3339 date-time with an offset")
    year, month, day, hour, minute, second = (int(group) for group in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    micro = int((fraction[1:] + "000000")[:6]) if fraction else 0
    if second == 60:
        second, micro = 59, 999_999
    zone = UTC
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("offset out of range")
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=zone).astimezone(UTC)


def parse_feedback(body: Any, *, now: datetime, limits: FeedbackLimits) -> tuple[FeedbackItem, ...]:
    """The feedback items of a request body, in order (repeats included; storage de-duplicates).

    :raise PayloadTooLarge: more than ``limits.max_items`` items (413).
    :raise InvalidFeedback: anything else wrong, every problem one issue naming index and field (400).
    """
    if not isinstance(body, Mapping) or "feedback" not in body:
        raise InvalidFeedback("The body must be an object with a 'feedback' array.")
    entries = body["feedback"]
    if not isinstance(entries, list):
        raise InvalidFeedback("'feedback' must be an array.")
    if not entries:
        raise InvalidFeedback("'feedback' must contain at least one item.")
    if len(entries) > limits.max_items:
        raise PayloadTooLarge(f"A feedback request may carry at most {limits.max_items} items.")
    parser = _Parser(now=now, limits=limits)
    items = [parser.item(index, entry) for index, entry in enumerate(entries)]
    if parser.issues:
        shown = parser.issues[:MAX_ISSUES]
        if len(parser.issues) > MAX_ISSUES:
            shown.append(f"... and {len(parser.issues) - MAX_ISSUES} more problems")
        raise InvalidFeedback(issues=shown)
    return tuple(item for item in items if item is not None)


class _Parser:
    def __init__(self, *, now: datetime, limits: FeedbackLimits) -> None:
        self.now, self.limits = now, limits
        self.issues: list[str] = []

    def problem(self, where: str, text: str) -> None:
        self.issues.append(f"{where}: {text}")

    def item(self, index: int, entry: Any) -> FeedbackItem | None:
        where = f"feedback[{index}]"
        if not isinstance(entry, Mapping):
            self.problem(where, "must be an object")
            return None
        before = len(self.issues)
        card = self.identifier(entry.get("card"), f"{where}.card")
        outcome = entry.get("outcome")
        if outcome not in OUTCOMES:
            self.problem(f"{where}.outcome", "must be 'accepted' or 'overridden' (cds-fb-1)")
        timestamp = self.timestamp(entry.get("outcomeTimestamp"), f"{where}.outcomeTimestamp")
        suggestions: tuple[str, ...] = ()
        reason: OverrideReason | None = None
        if outcome == "accepted":
            suggestions = self.accepted_suggestions(entry.get("acceptedSuggestions"), where)
        elif outcome == "overridden":
            key = "overrideReason" if "overrideReason" in entry else "overrideReasons"
            if entry.get(key) is not None:
                reason = self.override_reason(entry[key], f"{where}.{key}")
        if len(self.issues) > before or card is None or timestamp is None:
            return None
        checked: Outcome = "accepted" if outcome == "accepted" else "overridden"
        return FeedbackItem(card, checked, timestamp, suggestions, reason)

    def identifier(self, value: Any, where: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(where, "is required and must be a non-empty string")
            return None
        if len(value) > MAX_ID_CHARS or not value.isprintable():
            self.problem(where, f"must be at most {MAX_ID_CHARS} printable characters")
            return None
        return value

    def timestamp(self, value: Any, where: str) -> datetime | None:
        if not isinstance(value, str):
            self.problem(where, "is required and must be an RFC 3339 date-time string")
            return None
        try:
            instant = parse_instant(value)
        except ValueError:
            self.problem(where, "must be an RFC 3339 date-time with 'Z' or an offset")
            return None
        if instant > self.now + self.limits.clock_skew:
            self.problem(where, "is in the future")
            return None
        return instant

    def accepted_suggestions(self, value: Any, where: str) -> tuple[str, ...]:
        where = f"{where}.acceptedSuggestions"
        if not isinstance(value, list) or not value:
            self.problem(where, "is required for accepted feedback and must be a non-empty array (cds-fb-2)")
            return ()
        ids: list[str] = []
        for position, suggestion in enumerate(value):
            if not isinstance(suggestion, Mapping):
                self.problem(f"{where}[{position}]", "must be an object with an 'id'")
                continue
            identifier = self.identifier(suggestion.get("id"), f"{where}[{position}].id")
            if identifier is not None:
                ids.append(identifier)
        return tuple(dict.fromkeys(ids))

    def override_reason(self, value: Any, where: str) -> OverrideReason | None:
        if isinstance(value, list):
            if not value:
                return None
            # one reason per report is what the spec models; a client sending several gets the first kept
            value, where = value[0], f"{where}[0]"
        if not isinstance(value, Mapping):
            self.problem(where, "must be an object")
            return None
        before = len(self.issues)
        comment = value.get("userComment")
        if comment is not None and not isinstance(comment, str):
            self.problem(f"{where}.userComment", "must be a string")
            comment = None
        elif comment is not None and len(comment) > self.limits.max_comment_chars:
            limit = self.limits.max_comment_chars
            self.problem(f"{where}.userComment", f"must be at most {limit} characters")
            comment = None
        coding = self.coding(value.get("reason"), f"{where}.reason")
        if coding is None and value.get("reason") is None:
            coding = self.epic_reason(value.get("extension"), f"{where}.extension")
        if len(self.issues) > before:
            return None
        if coding is None and not comment:
            self.problem(where, "needs a reason or a userComment (cds-fb-3)")
            return None
        system, code, display = coding or (None, None, None)
        return OverrideReason(system, code, display, comment or None)

    def coding(self, value: Any, where: str) -> tuple[str | None, str, str | None] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            self.problem(where, "must be a Coding object")
            return None
        code = self.text(value.get("code"), f"{where}.code", required=True)
        system = self.text(value.get("system"), f"{where}.system")
        display = self.text(value.get("display"), f"{where}.display")
        return None if code is None else (system, code, display)

    def epic_reason(self, value: Any, where: str) -> tuple[str | None, str, str | None] | None:
        if not isinstance(value, Mapping):
            return None
        category = value.get(EPIC_EXTENSION_PREFIX + "reasonCategory")
        if isinstance(category, int) and not isinstance(category, bool):
            category = str(category)
        code = self.text(category, f"{where}.{EPIC_EXTENSION_PREFIX}reasonCategory")
        if code is None:
            return None
        display = value.get(EPIC_EXTENSION_PREFIX + "reasonDisplay") or value.get(
            EPIC_EXTENSION_PREFIX + "reasonTitle"
        )
        return EPIC_REASON_SYSTEM, code, self.text(display, f"{where}.reasonDisplay")

    def text(self, value: Any, where: str, *, required: bool = False) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(where, "is required")
            return None
        if not isinstance(value, str) or len(value) > MAX_CODING_CHARS:
            self.problem(where, f"must be a string of at most {MAX_CODING_CHARS} characters")
            return None
        return value
