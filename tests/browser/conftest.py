"""Real headless Chromium (Debian's ``chromium`` and ``chromium-driver``) driven by selenium.

Nothing here downloads a browser: the driver and the browser are the system's, found at fixed paths
(``.ci/run`` installs them). A missing browser fails the tests; it never skips them.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

from tests.support.paths import REPO_ROOT
from tests.support.served import ServedApp

ARTIFACTS = REPO_ROOT / "test-artifacts"
ADMIN_TOKEN = "browser-admin-token-0123456789abcdef"
#: as root, in a container, without the network: the flags shared/reference/real-clients-and-data.md
#: §1.6 found necessary (no sandbox, no background connections that the closed network refuses)
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)


def system_binary(name: str, fallback: str) -> str:
    found = shutil.which(name) or (fallback if Path(fallback).exists() else None)
    if found is None:
        pytest.fail(f"{name} is not installed: apt-get install -y chromium chromium-driver (see .ci/run)")
    return found


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedApp]:
    """``cds-server serve`` from a fresh working directory, as ``make run`` starts it (no job worker),
    with a shadow version of the ASCVD model deployed so the dashboard has a comparison to draw."""
    models = tmp_path_factory.mktemp("models") / "model_artifacts"
    shutil.copytree(REPO_ROOT / "model_artifacts", models)
    shadow = models / "ascvd-pce" / "1.1.0"
    shutil.copytree(models / "ascvd-pce" / "1.0.0", shadow)
    card = yaml.safe_load((shadow / "model-card.yaml").read_text())
    card["version"] = "1.1.0"
    (shadow / "model-card.yaml").write_text(yaml.safe_dump(card, sort_keys=False))
    settings = {
        "CDS_EMBEDDED_WORKER": "false",
        "CDS_ADMIN_TOKEN": ADMIN_TOKEN,
        "CDS_MODELS_DIR": str(models),
        "CDS_MODEL_DEPLOYMENTS": '{"ascvd-pce": {"active": "1.0.0", "shadow": ["1.1.0"]}}',
    }
    app = ServedApp(tmp_path_factory.mktemp("served"), settings, workers=2)
    try:
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = system_binary("chromium", "/usr/bin/chromium")
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(
        service=Service(system_binary("chromedriver", "/usr/bin/chromedriver")), options=options
    )
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def full_page_screenshot(driver: webdriver.Chrome, name: str) -> Path:
    """The whole page, not just the window, as ``test-artifacts/<name>.png``."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, max(1000, int(height) + 40))
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    return path
