"""A headless Chromium from the distribution's packages, driven by Selenium, for report tests.

Nothing is downloaded: the browser is /usr/bin/chromium (or chromium-browser) and the driver
/usr/bin/chromedriver, both given to Selenium explicitly (so Selenium Manager never runs).
``.ci/run`` installs them with apt-get; elsewhere the tests skip and say why.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

BROWSERS = ("chromium", "chromium-browser")
DRIVER = "chromedriver"


def _missing() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[test]')"
    if not any(shutil.which(b) for b in BROWSERS):
        return "no Chromium installed (apt-get install chromium chromium-driver)"
    if shutil.which(DRIVER) is None:
        return "no chromedriver installed (apt-get install chromium-driver)"
    return None


MISSING = _missing()
needs_browser = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


def start():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = next(shutil.which(b) for b in BROWSERS if shutil.which(b))
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
        # No background traffic of the browser's own (updates, field trials, ...).
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which(DRIVER)), options=options)


def open_page(driver, path: Path) -> None:
    driver.get(path.resolve().as_uri())
    assert driver.execute_script("return document.body.dataset.ready") == "true"
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def requests(driver) -> list[str]:
    """Every URL the page requested since the log was last read (Chrome's performance log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def matrix(driver) -> dict[tuple[str, str], dict[str, str]]:
    """(cluster, placement) -> the drawn cell's state, title (reason) and label."""
    cells = driver.execute_script(
        """return [...document.querySelectorAll('#matrix-body .row[data-cluster]')].flatMap(
            (row) => [...row.querySelectorAll('.cell')].map((c) => [row.dataset.cluster,
            c.dataset.placement, c.dataset.state, c.title, c.getAttribute('aria-label'),
            c.textContent]))"""
    )
    return {
        (c, p): {"state": s, "title": t, "label": label, "text": text}
        for c, p, s, t, label, text in cells
    }


def rows(driver) -> list[str]:
    """The drawn rows, top to bottom: cluster names, and group headings as '# heading'."""
    return driver.execute_script(
        """return [...document.querySelectorAll('#matrix-body .row')]
            .sort((a, b) => parseFloat(a.style.top) - parseFloat(b.style.top))
            .map((r) => r.dataset.cluster || '# ' + r.textContent)"""
    )


def select_option(driver, select_id: str, value: str, by_text: bool = False) -> None:
    """Choose an option of a <select> as a person would (the change event fires)."""
    from selenium.webdriver.support.ui import Select

    menu = Select(driver.find_element("id", select_id))
    if by_text:
        menu.select_by_visible_text(value)
    else:
        menu.select_by_value(value)
