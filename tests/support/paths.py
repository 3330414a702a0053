"""Where the repository and the shared test data are."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = Path(os.environ.get("CDS_SHARED_DIR", REPO_ROOT.parent / "shared"))
SYNTHEA_DIR = SHARED_DIR / "data" / "synthea-r4"
DATA_DIR = REPO_ROOT / "tests" / "data"
