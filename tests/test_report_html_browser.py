"""The HTML report in a real browser: Debian's headless Chromium driven by selenium through Debian's chromedriver.

Nothing is downloaded: the driver and browser paths are given, so selenium-manager never runs. Without them
every test here FAILS with one line saying how to install them. Screenshots (and the pages they show) go to
reports/test-artifacts/browser/ (kept after the run; reports/ is not tracked).
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_report_html import go_data, nogo_data

from harness.tell.report_html import STATUS_COLOURS, render_html, status_class

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[1] / "reports" / "test-artifacts" / "browser"
VIEWPORTS = ((1280, 800), (390, 844))
FLAGS = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-default-apps", "--mute-audio")


def missing_browser(chromium: Path = CHROMIUM, driver: Path = CHROMEDRIVER) -> str | None:
    absent = [str(p) for p in (chromium, driver) if not p.exists()]
    if absent:
        return (f"headless browser missing ({', '.join(absent)}): run `make browser` "
                "(or apt-get install chromium chromium-driver)")
    return None


def rgb(colour: str) -> str:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


@pytest.fixture(scope="module")
def browser():
    """A Chromium session, or the one line that says why there is none (the tests then fail with it)."""
    problem = missing_browser()
    if problem:
        yield problem
        return
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pages")
    out = {}
    for name, data in (("go", go_data()), ("nogo", nogo_data())):
        out[name] = root / f"{name}.html"
        out[name].write_text(render_html(data), encoding="utf-8")
    return out


def open_page(driver, page: Path, width: int, height: int) -> dict:
    driver.set_window_size(width, height)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})
    driver.get_log("browser")                   # drop what an earlier page logged
    driver.get(page.as_uri())
    return driver.execute_script("""
        const strip = [...document.querySelectorAll('#step-strip a')].map(a => ({
            id: a.getAttribute('href'), status: a.dataset.status, bg: getComputedStyle(a).backgroundColor}));
        const box = document.getElementById('failures');
        const first = box ? box.querySelector('li') : null;
        return {ready: document.readyState, innerWidth: window.innerWidth, innerHeight: window.innerHeight,
                scrollWidth: document.documentElement.scrollWidth, strip: strip,
                boxTop: box ? box.getBoundingClientRect().top : null,
                firstTop: first ? first.getBoundingClientRect().top : null,
                charts: [...document.querySelectorAll('figure.chart svg')].map(s => ({
                    svg: s.getBoundingClientRect().width, box: s.parentElement.getBoundingClientRect().right}))};
    """)


def shoot(driver, name: str, page: Path) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(page, ARTIFACTS / page.name)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


@pytest.mark.parametrize("width,height", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
@pytest.mark.parametrize("name", ["go", "nogo"])
def test_report_page_in_chromium(browser, pages, name: str, width: int, height: int) -> None:
    if isinstance(browser, str):
        pytest.fail(browser, pytrace=False)
    state = open_page(browser, pages[name], width, height)
    shot = shoot(browser, f"{name}-{width}x{height}", pages[name])
    severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert not severe, f"console errors: {severe}"
    assert state["ready"] == "complete" and state["innerWidth"] == width, state
    assert state["scrollWidth"] <= state["innerWidth"], f"horizontal scroll: {state['scrollWidth']} > {width} ({shot})"
    assert len(state["strip"]) == 11
    for cell in state["strip"]:
        assert cell["bg"] == rgb(STATUS_COLOURS[status_class(cell["status"])]), cell
    if name == "go":
        assert len(state["charts"]) == 3 and all(c["svg"] >= 300 and c["box"] <= width for c in state["charts"]), \
            state["charts"]       # drawn, and a narrow screen scrolls the chart inside its box, not the page
    else:
        assert {c["status"] for c in state["strip"]} == {"passed", "partial", "failed", "blocked", "not_run"}
        assert state["boxTop"] is not None and 0 <= state["boxTop"] < state["innerHeight"], (state, shot)
        assert state["firstTop"] < state["innerHeight"], f"first failure below the fold ({shot})"


def test_copy_button_works_without_errors(browser, pages) -> None:
    if isinstance(browser, str):
        pytest.fail(browser, pytrace=False)
    open_page(browser, pages["go"], 1280, 800)
    button = browser.find_element("css selector", "#step-2A button.copy")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 10).until(lambda d: button.get_attribute("data-copied"))   # the clipboard is async
    assert button.get_attribute("data-copied") in ("yes", "no")
    assert not [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def test_a_missing_browser_is_one_line_saying_how_to_install_it(tmp_path: Path) -> None:
    line = missing_browser(tmp_path / "chromium", CHROMEDRIVER)
    assert line and "\n" not in line and "make browser" in line and "apt-get install chromium chromium-driver" in line
