#!/usr/bin/env bash
# The dashboard in a real browser: Debian's chromium and chromium-driver (pinned), driven over
# WebDriver by Selenium (pinned, in a virtualenv of its own), against a running almanac (the
# demo). Every page loads with no console error and no failed request, its charts draw (a canvas
# with pixels that are not background), the explorer answers a change of range, a page's URL
# gives the same page when opened again, an unknown location says so. One screenshot per page
# goes to $SCREENSHOTS (default docs/screenshots).
#
#   .ci/browser.sh http://127.0.0.1:8080
set -euo pipefail
base_url="${1:?usage: .ci/browser.sh BASE_URL (the running demo)}"
root="$(cd "$(dirname "$0")/.." && pwd)"
shots="${SCREENSHOTS:-$root/docs/screenshots}"
mkdir -p "$shots"

chromium_version="156.0.8078.114-1~deb12u1"
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "chromium=$chromium_version" "chromium-driver=$chromium_version" >/dev/null ||
    { echo "chromium $chromium_version is no longer in the archive: installing the current one" >&2;
      apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null; }
fi
chromium --version 2>/dev/null

pins=(selenium==4.51.0)
venv="${BROWSER_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/almanac/browser-selenium-4.51.0}"
if ! "$venv/bin/python" - "${pins[@]}" 2>/dev/null <<'PY'; then
import sys
from importlib.metadata import version
sys.exit(any(version(name) != wanted for name, wanted in (p.split("==") for p in sys.argv[1:])))
PY
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
fi

"$venv/bin/python" - "$base_url" "$shots" <<'PY'
import datetime, sys, time
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

base, shots = sys.argv[1], sys.argv[2]
options = webdriver.ChromeOptions()
for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
    options.add_argument(arg)
options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
problems = []

def settle():
    """Waits until the page says it is done (aria-busy false) and every request has ended."""
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "const p = document.getElementById('page'); return p && p.dataset.page && p.getAttribute('aria-busy') === 'false';"))
    time.sleep(0.3)

def failed_requests():
    # responseStatus: Chromium's Resource Timing, 0 for a request that got no answer.
    return driver.execute_script("""
        return performance.getEntriesByType('resource')
          .filter(e => e.responseStatus === 0 || e.responseStatus >= 400)
          .map(e => e.name + ' ' + e.responseStatus);""")

def console_errors():
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]

def drawn_canvases():
    """Charts whose canvas has pixels that are not background."""
    return driver.execute_script("""
        return [...document.querySelectorAll('.uplot canvas')].filter(c => {
          const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
          for (let i = 3; i < data.length; i += 4 * 7) if (data[i] !== 0) return true;
          return false;
        }).length;""")

def check(name, url, charts, text=None):
    driver.get(base + url)
    settle()
    errors = console_errors()
    if errors:
        problems.append(f"{name}: console errors {errors}")
    bad = failed_requests()
    if bad:
        problems.append(f"{name}: failed requests {bad}")
    alert = driver.find_elements(By.CSS_SELECTOR, "[role=alert]")
    if alert:
        problems.append(f"{name}: the page shows an error: {alert[0].text}")
    drawn = drawn_canvases()
    if drawn < charts:
        problems.append(f"{name}: {drawn} charts drawn, {charts} expected")
    if text and text not in driver.find_element(By.ID, "page").text:
        problems.append(f"{name}: `{text}` not on the page")
    driver.save_screenshot(f"{shots}/{name}.png")
    print(f"{name}: {drawn} charts, {len(driver.find_element(By.ID, 'page').text)} characters of text")

today = datetime.date.today()
last_month = (today.replace(day=1) - datetime.timedelta(days=1))
check("overview", "/ui#/overview", 0, "Freshness")
check("explorer", f"/ui#/explorer?location=madrid&dataset=weather&start={last_month.replace(day=1)}&end={last_month}&resolution=hour", 1)
check("coverage", "/ui#/coverage?location=madrid&dataset=traffic", 0, "days complete")
check("network", "/ui#/network", 3)
check("forecasts", "/ui#/forecasts?model=es_spot", 1, "Versions")

# The explorer answers a change of range: a week instead of a month, through its form.
driver.get(base + f"/ui#/explorer?location=madrid&dataset=weather&start={last_month.replace(day=1)}&end={last_month}&variables=temperature")
settle()
before = driver.find_element(By.CSS_SELECTOR, "#charts p.muted").text
start = driver.find_element(By.NAME, "start")
driver.execute_script("arguments[0].value = arguments[1]", start, (last_month - datetime.timedelta(days=6)).isoformat())
driver.find_element(By.CSS_SELECTOR, "#explore button").click()
WebDriverWait(driver, 30).until(lambda d: "start=" + (last_month - datetime.timedelta(days=6)).isoformat() in d.current_url)
settle()
after = driver.find_element(By.CSS_SELECTOR, "#charts p.muted").text
steps = lambda text: int(text.split(" ")[0])
if not (160 <= steps(after) <= 170 and steps(before) >= 24 * 28):
    problems.append(f"explorer: a change of range did not change the chart ({before!r} → {after!r})")

# The URL round-trips: opened afresh, it shows the same range.
url = driver.current_url
driver.get("about:blank")
driver.get(url)
settle()
again = driver.find_element(By.CSS_SELECTOR, "#charts p.muted").text
if again != after:
    problems.append(f"explorer: its URL opened again shows {again!r}, not {after!r}")

# An unknown location says so (the API's own error), and nothing else breaks.
driver.get(base + "/ui#/explorer?location=atlantis&dataset=weather")
settle()
alert = driver.find_elements(By.CSS_SELECTOR, "[role=alert]")
if not alert or "unknown_location" not in alert[0].text:
    problems.append(f"explorer: an unknown location is not said: {[a.text for a in alert]}")
driver.get_log("browser")  # the 404 is expected here

# The API page: an operation opened, "Try it out", "Execute": this server answers it.
driver.get(base + "/docs")
WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock-summary"))
operation = driver.find_element(By.CSS_SELECTOR, '.opblock-summary-path[data-path="/api/v1/external/cities"]')
driver.execute_script("arguments[0].scrollIntoView()", operation)
operation.click()
WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock.is-open .try-out__btn"))
driver.find_element(By.CSS_SELECTOR, ".opblock.is-open .try-out__btn").click()
WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock.is-open .execute"))
driver.find_element(By.CSS_SELECTOR, ".opblock.is-open .execute").click()
WebDriverWait(driver, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, ".opblock.is-open .live-responses-table tbody .response-col_status"))
status = driver.find_element(By.CSS_SELECTOR, ".opblock.is-open .live-responses-table tbody .response-col_status").text.strip()
answer = driver.find_element(By.CSS_SELECTOR, ".opblock.is-open .live-responses-table tbody .response-col_description").text
if status != "200" or "madrid" not in answer:
    problems.append(f"docs: a request sent from the API page got {status!r}: {answer[:200]!r}")
errors = console_errors()
if errors:
    problems.append(f"docs: console errors {errors}")
driver.save_screenshot(f"{shots}/docs.png")
print(f"docs: a request sent from the page answered {status}")

# Keyboard: every navigation link is reachable with Tab.
driver.get(base + "/ui#/overview")
settle()
focused = set()
body = driver.find_element(By.TAG_NAME, "body")
for _ in range(12):
    body.send_keys("\ue004")  # Tab
    focused.add(driver.execute_script("return document.activeElement.textContent"))
missing = {"Overview", "Series", "Coverage", "Network", "Forecasts"} - focused
if missing:
    problems.append(f"keyboard: not reachable with Tab: {missing}")

# A phone's width: no page is wider than the screen (tables scroll in their own box).
driver.set_window_size(390, 844)
for name in ("overview", "explorer", "coverage", "network", "forecasts"):
    driver.get(base + f"/ui#/{name}")
    settle()
    wide = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    if wide > 1:
        problems.append(f"{name}: {wide} px wider than a 390 px screen")
driver.save_screenshot(f"{shots}/forecasts-phone.png")

driver.quit()
if problems:
    print("\n".join(problems))
    sys.exit(1)
print("dashboard: every page loads, draws and round-trips in chromium")
PY
