"""End-to-end check of the web app in headless Chromium (Debian's chromium and chromedriver,
driven by selenium): a family member signs in, records a day and sees it on the timeline;
a counselor signs in and opens the family's progress report; a guessed URL is a 404.

Usage: e2e_check.py BASE_URL OWN_KEY OTHER_KEY PASSWORD SCREENSHOT_DIR
Exits non-zero with the reason when a check fails.
"""

import datetime
import os
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

base, own, other, password, shots = sys.argv[1:6]
os.makedirs(shots, exist_ok=True)

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--window-size=1100,1600"]:
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def check(condition, why):
    if not condition:
        raise SystemExit(f"e2e: {why} (at {driver.current_url})")


def wait_for(condition, why):
    """Waits up to 15 s for a navigation or page to reach `condition` (a click does not
    wait for the page it leads to)."""
    try:
        WebDriverWait(driver, 15).until(lambda d: condition())
    except Exception:
        raise SystemExit(f"e2e: {why} (at {driver.current_url})")


def body():
    return driver.find_element(By.TAG_NAME, "body").text


def sign_in(username):
    driver.get(base + "/login")
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_for(lambda: driver.current_url.endswith("/journeys"), f"{username} lands on the journeys page")


def sign_out():
    driver.find_element(By.CSS_SELECTOR, "header form button").click()
    wait_for(lambda: driver.current_url.endswith("/login"), "sign-out leads to the sign-in page")


try:
    # A family member records today: no use, a reward, a note.
    sign_in("fam")
    driver.find_element(By.LINK_TEXT, own).click()
    wait_for(lambda: driver.current_url.endswith("/journeys/" + own), "the timeline opens")
    today = driver.find_element(By.NAME, "on").get_attribute("value")
    check(today == datetime.date.today().isoformat(), f"the day defaults to today, not {today}")
    driver.find_element(By.CSS_SELECTOR, "input[name=saw][value=no_use]").click()
    driver.find_element(By.NAME, "reward_given").click()
    driver.find_element(By.NAME, "note").send_keys("e2e: a calm evening together")
    driver.save_screenshot(os.path.join(shots, "1-family-quick-entry.png"))
    driver.find_element(By.CSS_SELECTOR, "#quick-entry button[type=submit]").click()
    wait_for(lambda: "saved=3" in driver.current_url, "the quick entry is saved")
    check("Saved 3 entries" in body(), "the entry is confirmed")
    rows = driver.find_elements(By.CSS_SELECTOR, "#entries tbody tr")
    first = " ".join(r.text for r in rows[:3])
    check(today in first, "today's entries come first")
    check("e2e: a calm evening together" in first, "the note is on the timeline")
    check("Rewarded a day without use" in first, "the reward is on the timeline")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#calendar svg")) == 1, "the calendar chart")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#weekly svg")) == 1, "the weekly chart")
    driver.execute_script("document.getElementById('entries').scrollIntoView()")
    driver.save_screenshot(os.path.join(shots, "2-family-timeline.png"))
    # Guessing another family's journey shows nothing of it.
    driver.get(base + "/journeys/" + other)
    check("404" in body() and other not in driver.page_source.replace(driver.current_url, ""),
          "another journey is a 404")
    driver.get(base + "/journeys")
    sign_out()

    # The counselor opens the family's progress report.
    sign_in("coun")
    text = body()
    check(own in text and other not in text, "the counselor sees only assigned families")
    check("Coverage" in text, "the family list shows coverage")
    driver.save_screenshot(os.path.join(shots, "3-counselor-families.png"))
    driver.find_element(By.LINK_TEXT, "Progress report").click()
    wait_for(lambda: driver.current_url.endswith(f"/journeys/{own}/report"), "the report opens")
    check(len(driver.find_elements(By.TAG_NAME, "svg")) >= 4, "the report's charts")
    check("e2e: a calm evening together" not in driver.page_source, "no private note in the report")
    driver.save_screenshot(os.path.join(shots, "4-counselor-report.png"))
    driver.get(base + "/journeys/" + own)
    check(driver.current_url.endswith("/report"), "a counselor's way into a family is the report")
    print("e2e: all checks passed; screenshots in", shots)
finally:
    driver.quit()
