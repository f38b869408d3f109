"""The page at GET / in headless Chromium: type a review, click, see the label and highlights.

Needs the Debian packages `chromium` and `chromium-driver` and the Python package selenium;
skipped, saying which is missing, where they are not installed. Loopback only.
"""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("fastapi", reason="the service needs the serve extra (fastapi, uvicorn)")
selenium = pytest.importorskip("selenium", reason="pip install selenium (the serve extra)")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

import sentibench  # noqa: E402
from sentibench.inference.server import running_server  # noqa: E402
from sentibench.inference.service import create_app  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


@pytest.fixture
def browser(tmp_path):
    if CHROMIUM is None or CHROMEDRIVER is None:
        missing = " and ".join(
            name
            for name, found in (("chromium", CHROMIUM), ("chromium-driver", CHROMEDRIVER))
            if found is None
        )
        pytest.skip(f"headless page test needs the Debian package(s) {missing} (apt-get install)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager (which may download drivers) never runs.
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_page_classifies_a_typed_review(keyword_run, browser):
    app = create_app(sentibench.load_run(keyword_run))
    review = "An excellent cast and a great script, only the ending was bad."
    with running_server(app) as url:
        browser.get(url + "/")
        browser.find_element(By.ID, "review").send_keys(review)
        browser.find_element(By.ID, "classify").click()
        wait = WebDriverWait(browser, 20)
        wait.until(lambda b: b.find_element(By.ID, "label").text)
        assert browser.find_element(By.ID, "label").text == "positive"
        probability = float(browser.find_element(By.ID, "probability").text)
        assert 0.5 <= probability <= 1
        # the explanation arrives second: one coloured span per word, the text unchanged
        wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#words span")) == 12)
        assert browser.find_element(By.ID, "words").text == review
        great = next(
            s for s in browser.find_elements(By.CSS_SELECTOR, "#words span") if s.text == "great"
        )
        assert great.get_attribute("title").startswith("+")
        assert "keyword" in browser.find_element(By.ID, "model").text
        assert browser.find_element(By.ID, "error").is_displayed() is False
