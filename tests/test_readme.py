"""The README stays true: its configuration table is the settings, its commands exist."""

from __future__ import annotations

import re

from cds_server.config import Settings
from tests.support.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_configuration_table_lists_exactly_the_settings() -> None:
    documented = re.findall(r"^\| `(CDS_[A-Z0-9_]+)` \|", README, flags=re.MULTILINE)
    assert documented == list(Settings.docs())


def test_configuration_table_defaults_and_meanings_match_the_code() -> None:
    rows = dict(re.findall(r"^\| `(CDS_[A-Z0-9_]+)` \| (.*) \|$", README, flags=re.MULTILINE))
    for name, (doc, default) in Settings.docs().items():
        shown = ",".join(default) if isinstance(default, tuple) else str(default)
        expected = f"{f'`{shown}`' if shown else '(empty)'} | {doc}"
        assert rows[name] == expected, name


def test_the_two_commands_exist() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "```bash\nmake run\n```" in README
    assert "```bash\nmake test\n```" in README
    assert re.search(r"^run: ", makefile, flags=re.MULTILINE)
    assert re.search(r"^test: ", makefile, flags=re.MULTILINE)
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text()
