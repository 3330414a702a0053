"""The cards of an asynchronous (trend) service: "running", the trend itself, or why there is none.

Pure: a job's state and stored summary in, a :class:`~cds_server.hooks.cards.Card` out. The trend card
carries the latest number under ``extension["cds_server.prediction"]`` like every model card, and the
trend under ``extension["cds_server.trend"]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from cds_server.hooks.cards import Card
from cds_server.hooks.cards import Coding
from cds_server.hooks.cards import Link
from cds_server.hooks.cards import Source
from cds_server.services.explain import format_number
from cds_server.services.policy import CARD_TYPE_SYSTEM
from cds_server.services.policy import PREDICTION_EXTENSION
from cds_server.services.policy import CompiledPolicy
from cds_server.services.policy import band_of

TREND_EXTENSION = "cds_server.trend"
JOB_EXTENSION = "cds_server.job"
DIRECTION_WORDS = {"rose": "rose", "fell": "fell", "stable": "stayed level"}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")


def _mid_sentence(title: str) -> str:
    """``title`` inside a sentence: "Diabetes risk" becomes "diabetes risk", acronyms (ASCVD) stay."""
    first = title.split(" ", 1)[0]
    if len(first) > 1 and first[1:].islower():
        return title[0].lower() + title[1:]
    return title


def running_card(policy: CompiledPolicy, *, job_id: str, status: str, link: str, look_back: str) -> Card:
    card = policy.card
    return Card(
        summary=f"{policy.declaration.title}: analysis running"[:139],
        detail=(
            f"The {_mid_sentence(card.title)} is being recomputed as of each visit of the last "
            f"{_duration_words(look_back)} from the full record. The result replaces this card the next "
            f"time the chart is opened, and is on the [result page]({link}) as soon as it is ready."
        ),
        indicator="info",
        source=_source(policy),
        links=(Link(label="Risk trend (result page)", url=link, type="absolute"),),
        extension={JOB_EXTENSION: {"id": job_id, "status": status}},
    )


def failed_card(policy: CompiledPolicy, *, job_id: str, error_code: str | None, link: str) -> Card:
    return Card(
        summary=f"{policy.declaration.title}: not available"[:139],
        detail=f"The trend could not be computed ({error_code or 'failed'}); it is tried again later.",
        indicator="info",
        source=_source(policy),
        links=(Link(label="Job details (result page)", url=link, type="absolute"),),
        extension={JOB_EXTENSION: {"id": job_id, "status": "FAILED", "error": error_code}},
    )


def trend_card(policy: CompiledPolicy, summary: Mapping[str, Any], *, job_id: str, link: str) -> Card:
    card = policy.card
    last = summary.get("last")
    if summary.get("direction") == "insufficient" or not isinstance(last, dict):
        text = (
            f"{card.title}: {_format(policy, last['value'])} (too few scorable visits for a trend)"
            if isinstance(last, dict)
            else f"{card.title}: no visit could be scored"
        )
        return Card(
            summary=text[:139],
            detail=_points_table(policy, summary),
            indicator="info",
            source=_source(policy),
            links=(Link(label="Risk trend (result page)", url=link, type="absolute"),),
            extension={JOB_EXTENSION: {"id": job_id, "status": "SUCCEEDED"}},
        )
    first = summary["first"]
    driver = summary.get("driver") or None
    names = {
        "title": card.title,
        "direction": DIRECTION_WORDS.get(str(summary.get("direction")), str(summary.get("direction"))),
        "first": _format(policy, first["value"]),
        "last": _format(policy, last["value"]),
        "span": _span(float(summary.get("spanYears", 0.0))),
        "driver": driver["label"] if driver else "none identified",
    }
    text = _PLACEHOLDER.sub(lambda m: names.get(m.group(1), m.group(0)), card.summary)
    _, indicator, meaning = band_of(policy, {card.output: float(last["value"])})
    return Card(
        summary=text[:139],
        detail=_detail(policy, summary, meaning),
        indicator=indicator,
        source=_source(policy),
        links=(
            Link(label="Risk trend with plot (result page)", url=link, type="absolute"),
            Link(label="Model card and source attributes", url=policy.model_page_url, type="absolute"),
        ),
        extension={
            PREDICTION_EXTENSION: {
                "model": summary.get("model", policy.model.id),
                "version": summary.get("version", policy.model.version),
                "outputs": {card.output: float(last["value"])},
            },
            TREND_EXTENSION: {
                "first": first,
                "last": last,
                "change": summary.get("change"),
                "spanYears": summary.get("spanYears"),
                "direction": summary.get("direction"),
                "driver": driver,
            },
            JOB_EXTENSION: {"id": job_id, "status": "SUCCEEDED"},
        },
    )


def allowed_placeholders() -> frozenset[str]:
    return frozenset({"title", "direction", "first", "last", "span", "driver"})


def _detail(policy: CompiledPolicy, summary: Mapping[str, Any], meaning: str | None) -> str:
    lines = []
    if meaning:
        lines.append(f"Latest: {meaning}")
    driver = summary.get("driver")
    if driver:
        unit_value = f"{format_number(driver['from'])} → {format_number(driver['to'])}"
        effect = _signed(policy, -float(driver["contribution"]))
        lines.append(
            f"Main driver: **{driver['label']}** ({unit_value}); putting it back to its first value "
            f"changes the latest {policy.card.title.lower()} by {effect}."
        )
    lines.append(_points_table(policy, summary))
    history = str(summary.get("history", ""))
    source = (
        "the full record read from the FHIR server" if history == "server" else "the data sent with the hook"
    )
    lines.append(f"Computed from {source}; model `{summary.get('model')}` {summary.get('version')}.")
    return "\n\n".join(lines)


def _points_table(policy: CompiledPolicy, summary: Mapping[str, Any]) -> str:
    rows = ["| Visit | " + policy.card.title + " |", "|---|---|"]
    for point in summary.get("points") or ():
        value = point.get("value")
        rows.append(
            f"| {str(point['asOf'])[:10]} | {_format(policy, value) if value is not None else 'not scored'} |"
        )
    return "\n".join(rows)


def _format(policy: CompiledPolicy, value: float) -> str:
    if policy.card.format == "percent":
        return f"{value * 100:.1f} %"
    return format_number(value)


def _signed(policy: CompiledPolicy, value: float) -> str:
    if policy.card.format == "percent":
        return f"{value * 100:+.1f} percentage points"
    return f"{value:+.2g}"


def _span(years: float) -> str:
    if years >= 1.5:
        return f"{years:.0f} years"
    months = max(1, round(years * 12))
    return f"{months} month{'s' if months != 1 else ''}"


def _duration_words(duration: str) -> str:
    match = re.fullmatch(r"P(\d+)([YMWD])", duration)
    if not match:
        return duration
    count, unit = int(match.group(1)), {"Y": "year", "M": "month", "W": "week", "D": "day"}[match.group(2)]
    return f"{count} {unit}{'s' if count != 1 else ''}"


def _source(policy: CompiledPolicy) -> Source:
    card = policy.card
    return Source(
        label=policy.declaration.title,
        url=policy.model_page_url,
        topic=Coding(system=CARD_TYPE_SYSTEM, code=card.type, display=card.title),
    )


def fresh(finished_at: datetime | None, now: datetime, fresh_for_s: float) -> bool:
    return finished_at is not None and (now - finished_at).total_seconds() <= fresh_for_s
