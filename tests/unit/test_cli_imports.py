"""``cds-server`` imports nothing heavy before a command runs.

Besides start-up time, it matters for ``serve``: gunicorn forks its workers from the master, and
onnxruntime imported there before the fork makes every worker abort at exit (``std::system_error``);
prometheus_client imported there before the metrics directory is set would count per worker.
"""

from __future__ import annotations

import subprocess
import sys

from tests.support.paths import REPO_ROOT


def test_the_command_line_module_loads_no_model_runtime_and_no_metrics_library() -> None:
    heavy = ("onnxruntime", "prometheus_client", "numpy", "sqlalchemy")
    probe = f"import sys, cds_server.cli; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
