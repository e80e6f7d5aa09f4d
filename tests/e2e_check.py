"""End-to-end check of the web app in headless Chromium (Debian's chromium and chromedriver,
driven by selenium), as a person sees it:
- on a phone (390 x 844) a family member records a typical day in at most 4 taps after the
  page opens, records a return to use the day after detox and finds the care text, and
  records a WHO-5 check-in and sees it charted;
- a counselor who has no second factor yet is sent to set one up (a QR code, and the key to
  type in), turns it on with a code from "their app" (pyotp) and keeps the recovery codes
  shown once; a researcher and an admin enrolled by `journey user totp` sign in in two
  steps, password then code;
- a counselor opens the family's progress report, chooses a period of four weeks and
  downloads its PDF (pypdf reads its Letter pages, the period and the charts' titles), and
  opens the cohort report; a guessed URL is a 404; a researcher previews the export at a
  chosen k and exports it (a zip with its Frictionless data package);
- every page, at 390 px and at 1366 px: no sideways scroll, chart text at least 9 px tall
  on screen, and axe-core (tests/e2e/node_modules/axe-core) finds no violation of impact
  moderate or worse.

Usage: e2e_check.py BASE_URL OWN_KEY OTHER_KEY PASSWORD SCREENSHOT_DIR AXE_JS
The environment's E2E_TOTP_SECRETS is a JSON object: username -> base-32 TOTP secret of the
accounts enrolled from the command line.
Exits non-zero with the reason when a check fails. Screenshots (full pages) are kept.
"""

import base64
import datetime
import io
import json
import os
import sys
import urllib.parse
import urllib.request
import zipfile

import pyotp
from pypdf import PdfReader
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

base, own, other, password, shots, axe_path = sys.argv[1:7]
os.makedirs(shots, exist_ok=True)
AXE = open(axe_path, encoding="utf-8").read()
PHONE, DESKTOP = (390, 844), (1366, 900)
SECRETS = json.loads(os.environ.get("E2E_TOTP_SECRETS", "{}"))

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--hide-scrollbars", f"--window-size={PHONE[0]},{PHONE[1]}"]:
    options.add_argument(arg)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
driver.set_script_timeout(60)
problems = []
taps = 0


def check(condition, why):
    if not condition:
        raise SystemExit(f"e2e: {why} (at {driver.current_url})")


def wait_for(condition, why):
    """Waits up to 15 s for a navigation or page to reach `condition`."""
    try:
        # The URL changes when the next page starts; its text is whole once it has loaded.
        WebDriverWait(driver, 15).until(
            lambda d: d.execute_script("return document.readyState") == "complete" and condition())
    except Exception:
        text = body()[:600]
        raise SystemExit(f"e2e: {why} (at {driver.current_url}); the page says: {text}")


def find(by, value):
    """The element `value` finds, waiting up to 15 s for it (a click that navigates returns
    before the next page is loaded)."""
    try:
        return WebDriverWait(driver, 15).until(lambda d: d.find_element(by, value))
    except Exception:
        raise SystemExit(f"e2e: no {value!r} (at {driver.current_url}); the page says: {body()[:600]}")


def tap(css):
    """One tap of a person: a click on what `css` finds (scrolled into view first)."""
    global taps
    element = find(By.CSS_SELECTOR, css)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()
    taps += 1


def body():
    """The page's text (read in one script call: an element found before a navigation
    would go stale while a wait polls)."""
    try:
        return driver.execute_script("return document.body ? document.body.innerText : ''")
    except Exception:
        return ""


def size(width_height):
    driver.set_window_size(*width_height)
    # The viewport is the window in headless mode; make sure of it.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width_height[0], "height": width_height[1], "deviceScaleFactor": 1,
        "mobile": width_height[0] < 600})


def screenshot(name):
    height = driver.execute_script("return document.documentElement.scrollHeight")
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "captureBeyondViewport": True, "fromSurface": True,
        "clip": {"x": 0, "y": 0, "width": driver.execute_script("return window.innerWidth"),
                 "height": min(height, 16000), "scale": 1}})
    with open(os.path.join(shots, name + ".png"), "wb") as f:
        f.write(base64.b64decode(data["data"]))


def inspect(name):
    """The checks every page passes at both widths; a full-page screenshot of each."""
    for label, dims in (("390", PHONE), ("1366", DESKTOP)):
        size(dims)
        wide = driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]")
        if wide[0] > wide[1]:
            problems.append(f"{name} at {label} px scrolls sideways: {wide[0]} > {wide[1]}")
        small = driver.execute_script("""
            const out = [];
            for (const svg of document.querySelectorAll('svg')) {
              const box = svg.getBoundingClientRect();
              const drawn = svg.width.baseVal.value || box.width;
              const scale = drawn ? box.width / drawn : 1;
              for (const t of svg.querySelectorAll('text')) {
                if (!t.textContent.trim()) continue;
                const px = parseFloat(getComputedStyle(t).fontSize) * scale;
                if (px < 9) out.push([t.textContent.trim().slice(0, 30), Math.round(px * 10) / 10]);
              }
            }
            return out;""")
        if small:
            problems.append(f"{name} at {label} px: chart text under 9 px: {small[:5]}")
        driver.execute_script(AXE)
        violations = driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(
              v => ({id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))));""")
        bad = [v for v in violations if v["impact"] in ("moderate", "serious", "critical")]
        if bad:
            problems.append(f"{name} at {label} px: axe: {json.dumps(bad)}")
        screenshot(f"{name}-{label}")
    size(PHONE)


def sign_in(username, shot=None):
    driver.get(base + "/login")
    find(By.NAME, "username").send_keys(username)
    find(By.NAME, "password").send_keys(password)
    find(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    if username in SECRETS:
        wait_for(lambda: driver.current_url.endswith("/login/code"),
                 f"{username}, enrolled in a second factor, is asked for a code")
        if shot:
            inspect(shot)
        find(By.NAME, "code").send_keys(pyotp.TOTP(SECRETS[username]).now())
        find(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_for(lambda: driver.current_url.endswith("/journeys") or "/admin" in driver.current_url
             or "/research" in driver.current_url, f"{username} is signed in")


def sign_in_to_enrol(username):
    """Signs in an account that must set up a second factor, and sets it up as a person
    would: the key from the page into an app (pyotp here), the app's code into the form."""
    driver.get(base + "/login")
    find(By.NAME, "username").send_keys(username)
    find(By.NAME, "password").send_keys(password)
    find(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_for(lambda: driver.current_url.endswith("/account/second-factor"),
             f"{username}, without a second factor, is sent to set one up")
    check(len(driver.find_elements(By.CSS_SELECTOR, "figure.qr svg")) == 1, "a QR code to scan")
    driver.get(base + "/journeys")
    wait_for(lambda: driver.current_url.endswith("/account/second-factor"),
             "no journey data before the second factor is set up")
    inspect("10-counselor-second-factor")
    secret = driver.execute_script("return document.querySelector('code.secret').textContent")
    find(By.NAME, "code").send_keys("000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    find(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_for(lambda: "not the code the app shows" in body(), "a wrong code is refused, in words")
    find(By.NAME, "code").send_keys(pyotp.TOTP(secret).now())
    find(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    wait_for(lambda: "recovery codes" in body(), "the recovery codes are shown")
    codes = driver.find_elements(By.CSS_SELECTOR, "ul.codes code")
    check(len(codes) == 10, f"10 recovery codes, not {len(codes)}")
    inspect("10-counselor-recovery-codes")
    find(By.LINK_TEXT, "I have kept them: go on").click()
    wait_for(lambda: driver.current_url.endswith("/journeys"), f"{username} goes on to the families")


def sign_out():
    find(By.CSS_SELECTOR, "header form button").click()
    wait_for(lambda: driver.current_url.endswith("/login"), "sign-out leads to the sign-in page")


try:
    size(PHONE)
    driver.get(base + "/login")
    inspect("01-sign-in")
    sign_in("fam")
    inspect("02-family-journeys")
    find(By.LINK_TEXT, own).click()
    wait_for(lambda: driver.current_url.endswith("/journeys/" + own), "the timeline opens")

    # A typical day on a phone, counted from the open page: no use, a reward, a positive
    # message, Save.
    taps = 0
    tap("input[name=saw][value=no_use]")
    tap("input[name=reward_given]")
    tap("input[name=positive_communication]")
    screenshot("03-family-quick-entry-390")
    tap("#quick-entry button.save")
    check(taps <= 4, f"a typical day took {taps} taps")
    wait_for(lambda: "saved=3" in driver.current_url, "the day is saved")
    today = datetime.date.today().isoformat()
    check(f"Here is {today} as your family recorded it" in body(), "the day's recap")
    check("Rewarded a day without use" in body() and "Positive message" in body(), "the recap lists the day")
    inspect("04-family-saved-day")

    # A return to use the day after detox: entered detox four days ago, left yesterday.
    def record(fields, picked=None):
        if picked:
            driver.execute_script("document.querySelector('input[name=on]').value = arguments[0]", picked)
        for css in fields:
            element = find(By.CSS_SELECTOR, css)
            driver.execute_script("arguments[0].closest('details') && (arguments[0].closest('details').open = true)", element)
            if element.tag_name == "select":
                continue
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
            element.click()
        find(By.CSS_SELECTOR, "#quick-entry button.save").click()
        wait_for(lambda: "saved=" in driver.current_url or "Nothing was saved" in body(), "the form answers")
        check("saved=" in driver.current_url, f"saved: {body()[:400]}")

    def choose(name, value):
        driver.execute_script(
            "const s = document.querySelector(`select[name=${arguments[0]}]`); s.closest('details').open = true; s.value = arguments[1];",
            name, value)

    entered = (datetime.date.today() - datetime.timedelta(days=4)).isoformat()
    left = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    choose("modality", "detox")
    record(["input[name=treatment][value=entered]"], entered)
    choose("exit_reason", "completed")
    record(["input[name=treatment][value=exited]"], left)
    record(["input[name=saw][value=use]"])
    text = body()
    for words in ["A return to use is not square one", "right after detox", "overdose",
                  "naloxone", "local emergency number", "days without use"]:
        check(words in text, f"the care text says {words!r}")
    inspect("05-family-return-to-use")

    # A form that cannot be saved keeps what was typed and says why, next to the field.
    find(By.CSS_SELECTOR, "input[name=saw][value=no_use]").click()
    driver.execute_script("document.querySelector('input[name=minutes]').closest('details').open = true")
    find(By.NAME, "minutes").send_keys("5000")
    find(By.NAME, "note").send_keys("e2e: a calm evening together")
    find(By.CSS_SELECTOR, "#quick-entry button.save").click()
    wait_for(lambda: "Nothing was saved" in body(), "the problem is shown")
    check(find(By.NAME, "note").get_attribute("value") == "e2e: a calm evening together",
          "the note is kept as typed")
    check("Minutes are a whole number" in body(), "the problem in plain words")
    inspect("06-family-form-problem")

    # Entered by mistake: asks first, saying what will change.
    driver.get(base + "/journeys/" + own)
    find(By.PARTIAL_LINK_TEXT, "Entered by mistake").click()
    wait_for(lambda: "will be marked as entered by mistake" in body(), "the retraction asks first")
    inspect("07-family-retract-confirm")

    # The member's own wellbeing check-in, charted with the earlier one.
    driver.get(base + "/journeys/" + own + "/wellbeing")
    for item, answer in zip(range(1, 6), [2, 3, 2, 1, 2]):
        radio = find(By.CSS_SELECTOR, f"input[name=q{item}][value='{answer}']")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", radio)
        radio.click()
        check(radio.is_selected(), f"answer {answer} to statement {item} is chosen")
    find(By.CSS_SELECTOR, "#who5 button.save").click()
    wait_for(lambda: "Your latest check-in: 40 of 100" in body(), "the check-in is saved")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#latest svg")) == 1, "the check-ins are charted")
    check("low wellbeing" in body() and "not a diagnosis" in body(), "the WHO-5 guidance words")
    inspect("08-family-wellbeing")
    driver.get(base + "/devices")
    check("No device is remembered" in body(), "the member's remembered devices")
    inspect("08-family-devices")

    # Guessing another family's journey shows nothing of it.
    driver.get(base + "/journeys/" + other)
    check("404" in body() and other not in driver.page_source.replace(driver.current_url, ""),
          "another journey is a 404")
    inspect("09-not-found")
    driver.get(base + "/journeys")
    sign_out()

    # The counselor has no second factor yet: the first page is its set-up.
    sign_in_to_enrol("coun")
    text = body()
    check(own in text and other not in text, "the counselor sees only assigned families")
    check("Who needs attention" in text and "Use after leaving detox or residential care" in text,
          "the family with a fresh use after rehab shows its reason")
    first = find(By.CSS_SELECTOR, "table.attention tbody tr")
    check(own in first.text and "Use after leaving detox or residential care" in first.text,
          f"the family with a fresh use after rehab is at the top with its reason: {first.text!r}")
    inspect("10-counselor-families")
    find(By.LINK_TEXT, "Progress report").click()
    wait_for(lambda: driver.current_url.endswith(f"/journeys/{own}/report"), "the report opens")
    check(len(driver.find_elements(By.TAG_NAME, "svg")) >= 4, "the report's charts")
    check("e2e: a calm evening together" not in driver.page_source, "no private note in the report")
    check("Family wellbeing: the mean WHO-5 score" in body(), "the report shows the family's weekly wellbeing")
    inspect("11-counselor-report")
    # The last four weeks: the period form (no script needed), then its PDF.
    start = (datetime.date.today() - datetime.timedelta(days=27)).isoformat()
    driver.execute_script("document.getElementById('from').value = arguments[0]", start)
    find(By.CSS_SELECTOR, "form.period button").click()
    wait_for(lambda: f"from={start}" in driver.current_url, "the report of a period opens")
    check(f"This report shows {start} to" in body(), "the report says which period it shows")
    inspect("11-counselor-report-period")
    link = find(By.LINK_TEXT, "Letter").get_attribute("href")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    with urllib.request.urlopen(urllib.request.Request(link, headers={"Cookie": cookie})) as reply:
        kind, pdf = reply.headers["Content-Type"], reply.read()
    check(kind == "application/pdf" and pdf.startswith(b"%PDF-"), f"the PDF downloads ({kind})")
    reader = PdfReader(io.BytesIO(pdf))
    text = "".join(page.extract_text() for page in reader.pages)
    check(len(reader.pages) >= 2 and all(float(p.mediabox.width) == 612 for p in reader.pages),
          "the PDF has pages of Letter size")
    check(f"This report shows {start} to" in text and "Days without use per week" in text
          and "Day by day: what was seen" in text, "the PDF holds the period's report and its charts")
    with open(os.path.join(shots, "11-counselor-report-period.pdf"), "wb") as f:
        f.write(pdf)
    driver.get(base + "/cohort/report")
    inspect("12-counselor-cohort")
    driver.get(base + "/journeys/" + own)
    check(driver.current_url.endswith("/report"), "a counselor's way into a family is the report")
    driver.get(base + "/account")
    check("(this one)" in body() and "Change your password" in body(),
          "the account page lists this session and offers a password change")
    inspect("12-counselor-account")
    driver.get(base + "/account/password")
    inspect("12-counselor-password")
    driver.get(base + "/journeys")
    sign_out()

    sign_in("res", shot="13-sign-in-code")
    field = find(By.NAME, "project")
    field.send_keys("my study")
    check(driver.execute_script("return arguments[0].validity.patternMismatch", field),
          "the browser checks the project name (its pattern is a valid regular expression)")
    field.clear()
    field.send_keys("my-study.2026")
    check(driver.execute_script("return arguments[0].validity.valid", field),
          "a project name the server accepts is accepted")
    inspect("13-researcher")
    # The preview at another k, then the export (the form's POST, with the page's session).
    k = find(By.CSS_SELECTOR, "#preview input[name=k]")
    k.clear()
    k.send_keys("1")
    find(By.CSS_SELECTOR, "#preview button").click()
    wait_for(lambda: "k=1" in driver.current_url, "the preview at k = 1 opens")
    check("At k = 1, the export holds" in body(), "the preview says what the export would hold")
    csrf = find(By.CSS_SELECTOR, "form.card input[name=csrf]").get_attribute("value")
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())
    form = urllib.parse.urlencode({"csrf": csrf, "project": "my-study.2026", "min_cell": "1"}).encode()
    request = urllib.request.Request(base + "/research/export", data=form, headers={
        "Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request) as reply:
        kind, data = reply.headers["Content-Type"], reply.read()
    package = json.loads(zipfile.ZipFile(io.BytesIO(data)).read("datapackage.json"))
    check(kind == "application/zip" and package["$schema"].endswith("/2.0/datapackage.json"),
          f"the export downloads as a zip with its data package ({kind})")
    sign_out()
    sign_in("adm")
    inspect("14-admin")

    if problems:
        raise SystemExit("e2e:\n" + "\n".join(problems))
    print(f"e2e: all checks passed; a typical day took {taps} taps; screenshots in", shots)
finally:
    driver.quit()
