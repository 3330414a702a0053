"""Rewrite the README's configuration table from the code (``python scripts/update_readme_settings.py``).

The table sits between ``<!-- settings:start -->`` and ``<!-- settings:end -->``; tests/test_readme.py
fails when it and :class:`cds_server.config.Settings` disagree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def main() -> None:
    table = subprocess.run(
        [sys.executable, "-m", "cds_server.cli", "config", "--markdown"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    text = README.read_text()
    before, _, rest = text.partition(START)
    _, _, after = rest.partition(END)
    README.write_text(f"{before}{START}\n{table}{END}{after}")


if __name__ == "__main__":
    main()
