"""Trends over a Synthea patient's visits with the real ASCVD model: one batch, an honest driver."""

from __future__ import annotations

from datetime import UTC
from datetime import datetime
from datetime import timedelta

import numpy as np
import pytest

from cds_server.features import load_mappings
from cds_server.inference import ModelRegistry
from cds_server.jobs.history import as_of
from cds_server.jobs.scoring import layout_prefetch
from cds_server.jobs.trajectory import time_points
from cds_server.jobs.trend import compute_trend
from tests.support.charts import synthea_chart
from tests.support.paths import REPO_ROOT
from tests.support.synthea import patient_id

NOW = datetime(2021, 6, 1, tzinfo=UTC)
LABELS = {"systolic_bp": "Systolic blood pressure", "age_years": "Age"}


@pytest.fixture(scope="module")
def models() -> ModelRegistry:
    return ModelRegistry.load(REPO_ROOT / "model_artifacts", providers=["CPUExecutionProvider"], overrides={})


def test_dirk_kuhlmans_risk_rose_and_the_driver_explains_the_most(models: ModelRegistry) -> None:
    mapping = load_mappings(REPO_ROOT / "fhir_mappings").get("ascvd_pce")
    chart = synthea_chart("Dirk_Kuhlman")
    pid = patient_id("Dirk_Kuhlman")
    moments = time_points(chart, NOW, timedelta(days=3653), 60)
    assert moments[-1] == NOW
    assert moments == sorted(moments)
    points = [
        (m, mapping.extract(layout_prefetch(mapping, pid, as_of(chart, m)), now=m, patient_id=pid))
        for m in moments
    ]
    trend = compute_trend(
        models, "ascvd-pce", "risk_10y", points, patient_ref=f"Patient/{pid}", labels=LABELS
    )
    summary = trend.summary
    assert summary["direction"] == "rose"
    assert summary["last"]["value"] > summary["first"]["value"]
    assert len(trend.rows) == len(moments)
    contributions = summary["contributions"]
    driver = summary["driver"]
    assert driver["input"] == max(contributions, key=contributions.get)
    # recompute the driver's row by hand: the last point with that input put back to its first value
    first = next(i for i, row in enumerate(trend.rows) if row.status == "scored")
    last = max(i for i, row in enumerate(trend.rows) if row.status == "scored")
    names = list(models.card("ascvd-pce").input_names)
    column = names.index(driver["input"])
    swapped = points[last][1].values.copy()
    swapped[column] = points[first][1].values[column]
    alone = models.predict("ascvd-pce", swapped.astype(np.float32), with_shadow=False).outputs["risk_10y"]
    assert summary["last"]["value"] - alone == pytest.approx(driver["contribution"], abs=1e-9)


def test_too_few_scorable_points_is_no_trend(models: ModelRegistry) -> None:
    mapping = load_mappings(REPO_ROOT / "fhir_mappings").get("ascvd_pce")
    chart = synthea_chart("Liz_Conn")  # born 1986: under 40, the equations do not apply
    pid = patient_id("Liz_Conn")
    moments = time_points(chart, NOW, timedelta(days=3653), 10)
    points = [
        (m, mapping.extract(layout_prefetch(mapping, pid, as_of(chart, m)), now=m, patient_id=pid))
        for m in moments
    ]
    trend = compute_trend(models, "ascvd-pce", "risk_10y", points, patient_ref=f"Patient/{pid}", labels={})
    assert trend.summary["direction"] == "insufficient"
    assert all(row.status == "not-scored" and "age_years" in (row.reason or "") for row in trend.rows)
