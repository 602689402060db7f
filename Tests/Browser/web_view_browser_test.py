"""The web view in a real browser: headless Chromium driven by Selenium, against real newsd
processes on loopback. Started and stopped by this script (and by `WebBrowserTests`, which runs it).

    python3 Tests/Browser/web_view_browser_test.py --bin .build/debug --out /tmp/web-shots

Signs in, searches "Ha Noi", opens an article, edits it on disk and sees the new version, reads the
word diff (Vietnamese text, <ins>/<del>), restores the old version (file on disk, new log entry),
resolves a conflict made by two sites, checks a viewer cannot restore and a POST without the CSRF
token is refused. A screenshot of each page goes to --out. Prints one line per check and ends with
'N passed, N failed'; exits 1 on any failure.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

results = []


def check(name, ok, detail=""):
    results.append(ok)
    print(("ok     " if ok else "FAILED ") + name + ("" if ok or not detail else f": {detail}"), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what, condition, timeout=20.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if condition():
                return True
        except Exception:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"timed out waiting for {what}")


class Site:
    def __init__(self, root, name, bin_dir):
        self.bin = bin_dir
        self.watch = os.path.join(root, name, "watch")
        self.data = os.path.join(root, name, "data")
        os.makedirs(self.watch)
        self.port = free_port()
        out = subprocess.run([f"{bin_dir}/newsd", "init", "--data", self.data], capture_output=True, text=True, check=True)
        self.id = out.stdout.strip().splitlines()[-1]
        self.proc = None
        self.log_path = os.path.join(root, name + ".log")

    def start(self, peers=(), web=None):
        args = [f"{self.bin}/newsd", "--watch", self.watch, "--data", self.data, "--listen", f"127.0.0.1:{self.port}",
                "--log-level", "debug", "--rejoin-timeout", "0"]
        for peer in peers:
            args += ["--peer", f"{peer.id}@127.0.0.1:{peer.port}"]
        if web:
            args += ["--web", f"127.0.0.1:{web}"]
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        wait_until("newsd ready", lambda: json.loads(self.ctl("status", "--json"))["ready"])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def ctl(self, *args, stdin=None):
        return subprocess.run([f"{self.bin}/newsctl", *args, "--data", self.data], capture_output=True, text=True,
                              input=stdin, timeout=60).stdout

    def read(self, name):
        with open(os.path.join(self.watch, name), encoding="utf-8") as f:
            return f.read()

    def write(self, name, text):
        path = os.path.join(self.watch, name)
        with open(path + ".tmp~", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp~", path)

    def log_text(self):
        with open(self.log_path, encoding="utf-8") as f:
            return f.read()


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000", "--lang=vi-VN"]:
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": "vi-VN,vi,en"})
    service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
    return webdriver.Chrome(options=options, service=service)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    root = tempfile.mkdtemp(prefix="newsd-browser-")
    a = Site(root, "hanoi", args.bin)
    b = Site(root, "danang", args.bin)
    driver = None
    try:
        seeds = os.path.join(os.path.dirname(__file__), "..", "..", "seeds")
        for name in sorted(os.listdir(seeds))[:3]:
            shutil.copy(os.path.join(seeds, name), a.watch)
        a.write("ha-noi.txt", "Tin Hà Nội\n\nĐường phố Hà Nội sáng nay đông đúc, người đi làm ùn ứ ở các ngã tư.\n")
        web = free_port()
        a.start(peers=[b], web=web)
        b.start(peers=[a])
        base = f"http://127.0.0.1:{web}"
        link = re.search(r"(http://\S+/signin\?token=[0-9a-f]{64})", a.log_text())
        check("the first run prints a one-time sign-in link", link is not None)
        a.ctl("web-user", "add", "an", "--role", "editor", "--password-stdin", stdin="mat-khau-bien-tap\n")
        a.ctl("web-user", "add", "binh", "--role", "viewer", "--password-stdin", stdin="mat-khau-nguoi-xem\n")

        driver = browser()
        shot = lambda name: driver.save_screenshot(os.path.join(args.out, name + ".png"))

        # Sign in.
        driver.get(base + "/articles")
        check("a stranger is sent to the sign-in page", "/signin" in driver.current_url)
        shot("01-signin")
        driver.find_element(By.NAME, "name").send_keys("an")
        driver.find_element(By.NAME, "password").send_keys("mat-khau-bien-tap")
        driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
        wait_until("the article list", lambda: "/articles" in driver.current_url)
        check("the page is in Vietnamese for a Vietnamese browser", "Bài viết" in driver.page_source)

        # Search "Ha Noi" without marks.
        box = driver.find_element(By.NAME, "q")
        box.send_keys("Ha Noi")
        box.submit()
        wait_until("search results", lambda: "ha-noi.txt" in driver.page_source)
        rows = driver.find_elements(By.CSS_SELECTOR, "table.articles tbody tr")
        check("'Ha Noi' finds the article titled 'Tin Hà Nội' and nothing else", len(rows) == 1 and "Tin Hà Nội" in rows[0].text,
              f"{len(rows)} rows")
        shot("02-articles-search")

        # Open it; edit it on disk; the new version appears.
        driver.find_element(By.LINK_TEXT, "ha-noi.txt").click()
        wait_until("the article page", lambda: "/article?" in driver.current_url)
        a.write("ha-noi.txt", "Tin Hà Nội\n\nĐường phố Hà Nội chiều nay vắng vẻ, người đi làm về sớm.\n")
        wait_until("the new version on the page", lambda: (driver.refresh() or True) and "chiều nay vắng vẻ" in driver.page_source)
        versions = driver.find_elements(By.CSS_SELECTOR, "section.timeline tbody tr")
        check("the edit made on disk is a new version on the page", len(versions) == 2, f"{len(versions)} versions")
        shot("03-article")

        # The word diff.
        driver.find_element(By.CSS_SELECTOR, "section.timeline a[href*='/diff?']").click()
        wait_until("the diff", lambda: "/diff?" in driver.current_url)
        deleted = " ".join(e.text for e in driver.find_elements(By.TAG_NAME, "del"))
        inserted = " ".join(e.text for e in driver.find_elements(By.TAG_NAME, "ins"))
        check("the diff deletes 'sáng' and 'đông đúc' in <del>", "sáng" in deleted and "đông đúc" in deleted, deleted)
        check("the diff inserts 'chiều' and 'vắng vẻ' in <ins>", "chiều" in inserted and "vắng vẻ" in inserted, inserted)
        check("Vietnamese letters keep their marks", "Đường phố Hà Nội" in driver.find_element(By.CSS_SELECTOR, "div.diff").text)
        shot("04-diff")

        # Restore the first version.
        driver.back()
        wait_until("the article page again", lambda: "/article?" in driver.current_url)
        driver.find_element(By.CSS_SELECTOR, "a.button[href*='/restore?']").click()
        wait_until("the confirmation", lambda: "/restore?" in driver.current_url)
        check("the confirmation shows the diff from the current text", len(driver.find_elements(By.TAG_NAME, "ins")) > 0)
        shot("05-restore-confirm")
        before = len(json.loads(a.ctl("log", "ha-noi.txt", "--json")))
        driver.find_element(By.CSS_SELECTOR, "button.primary").click()
        wait_until("back on the article", lambda: "done=restored" in driver.current_url)
        wait_until("the old text on disk", lambda: "sáng nay đông đúc" in a.read("ha-noi.txt"))
        check("restore wrote the old version back to the file", "sáng nay đông đúc" in a.read("ha-noi.txt"))
        check("restore recorded a new log entry", len(json.loads(a.ctl("log", "ha-noi.txt", "--json"))) == before + 1)
        check("the account is in newsd's log", "restore asked by web account an" in a.log_text())

        # A conflict made by two sites: both edit while apart.
        wait_until("the article at Da Nang", lambda: "sáng nay đông đúc" in b.read("ha-noi.txt"))
        b.stop()
        a.write("ha-noi.txt", "Tin Hà Nội\n\nBản sửa của Hà Nội.\n")
        wait_until("A's edit logged", lambda: "Bản sửa của Hà Nội" in a.ctl("show", "ha-noi.txt"))
        b.write("ha-noi.txt", "Tin Hà Nội\n\nBản sửa của Đà Nẵng.\n")
        b.start(peers=[a])
        wait_until("the conflict at Hanoi", lambda: len(json.loads(a.ctl("conflicts", "--json"))) == 1, timeout=30)
        driver.get(base + "/conflicts")
        heads = driver.find_elements(By.CSS_SELECTOR, "div.head")
        check("the conflict shows both versions side by side", len(heads) == 2 and any("Đà Nẵng" in h.text for h in heads), f"{len(heads)}")
        shot("06-conflicts")
        keep = next(h for h in heads if "Bản sửa của Đà Nẵng" in h.text)
        keep.find_element(By.TAG_NAME, "button").click()
        wait_until("resolved", lambda: "done=resolved" in driver.current_url)
        wait_until("no conflict left at either site", lambda: json.loads(a.ctl("conflicts", "--json")) == []
                   and json.loads(b.ctl("conflicts", "--json")) == [], timeout=30)
        check("'keep this one' resolved it at both sites with Da Nang's text",
              "Bản sửa của Đà Nẵng" in a.read("ha-noi.txt") and "Bản sửa của Đà Nẵng" in b.read("ha-noi.txt"))

        driver.get(base + "/sites")
        check("the sites page shows the peer connected", "đã kết nối" in driver.page_source)
        shot("07-sites")
        driver.get(base + "/status")
        shot("08-status")

        # A viewer cannot restore; a POST without the CSRF token is refused.
        cookie = driver.get_cookie("newsd_session")["value"]
        request = urllib.request.Request(base + "/restore", data=b"path=ha-noi.txt&v=~2", method="POST",
                                         headers={"Cookie": "newsd_session=" + cookie,
                                                  "Content-Type": "application/x-www-form-urlencoded"})
        try:
            urllib.request.urlopen(request)
            status = 200
        except urllib.error.HTTPError as error:
            status = error.code
        check("a POST without the CSRF token is refused", status == 403, str(status))
        driver.find_element(By.CSS_SELECTOR, "nav form button").click()
        wait_until("signed out", lambda: "/signin" in driver.current_url)
        driver.find_element(By.NAME, "name").send_keys("binh")
        driver.find_element(By.NAME, "password").send_keys("mat-khau-nguoi-xem")
        driver.find_element(By.CSS_SELECTOR, "form.signin button").click()
        wait_until("signed in as a viewer", lambda: "/articles" in driver.current_url)
        driver.get(base + "/article?path=ha-noi.txt")
        check("a viewer sees no Restore button", driver.find_elements(By.CSS_SELECTOR, "a.button[href*='/restore?']") == [])
        driver.get(base + "/restore?path=ha-noi.txt&v=~1")
        driver.find_element(By.CSS_SELECTOR, "button.primary").click()
        try:
            wait_until("the refusal", lambda: "chỉ được xem" in driver.page_source, timeout=10)
        except TimeoutError:
            pass
        shot("09-viewer-refused")
        check("a viewer's restore is refused", "chỉ được xem" in driver.page_source, driver.page_source[-600:])
    except Exception as error:  # a step that could not run is a failure, with what it was
        check("the run went through", False, repr(error))
    finally:
        if driver:
            driver.quit()
        a.stop()
        b.stop()
        shutil.rmtree(root, ignore_errors=True)
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
