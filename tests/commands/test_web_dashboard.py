"""The web dashboard in a real headless browser (Chromium through Selenium).

A real engine runs (``whalewire run`` on the embedded emulator, the replay looping); the
browser opens its page with the token, sees snapshots arrive over the WebSocket, and its
kill button halts the engine. Without the token the page, the socket and the POSTs are
refused. Skipped, with the reason, where no browser is installed (``scripts/dev`` installs
Debian's ``chromium`` and ``chromium-driver``).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _get(url: str, method: str = "GET") -> int:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running engine: its control URL and token."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "c.toml").write_text(
        f'[engine]\njournal = "j.db"\n[control]\nport = {port}\nkill_file = "stop"\n'
        '[[feeds]]\ntype = "replay"\nspeed = 5.0\nloop = true\n'
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "whalewire", "run", "--config", "c.toml", "--no-dashboard"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    token_file = tmp_path / "j.db.token"
    deadline = time.monotonic() + 60
    while not token_file.exists():
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    try:
        yield f"http://127.0.0.1:{port}", token_file.read_text().strip()
    finally:
        proc.terminate()
        proc.wait(30)


def test_requests_without_the_token_are_refused(engine: tuple[str, str]) -> None:
    url, token = engine
    assert _get(url + "/") == 401
    assert _get(url + "/?token=wrong") == 401
    assert _get(url + "/kill", "POST") == 401
    assert _get(url + "/resume", "POST") == 401
    assert _get(f"{url}/?token={token}") == 200
    # the page's WebSocket is on whalewire's own server, at the port the page names
    with urllib.request.urlopen(f"{url}/?token={token}", timeout=10) as response:
        page = response.read().decode()
    ws_port = re.search(r"ws://\" \+ location\.hostname \+ \":(\d+)/ws", page)
    assert ws_port is not None, "the page names its WebSocket port"
    ws_url = f"http://127.0.0.1:{ws_port.group(1)}/ws"
    upgrade = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}  # fmt: skip
    for target in (ws_url, ws_url + "?token=wrong"):
        request = urllib.request.Request(target, headers=upgrade)
        try:
            urllib.request.urlopen(request, timeout=10)
            raise AssertionError("upgrade without the token accepted")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
    with urllib.request.urlopen(url + "/status", timeout=10) as response:
        assert json.loads(response.read())["trading_state"] == "ACTIVE"


@pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="no chromium/chromedriver: scripts/dev setup installs them (apt-get)",
)
def test_the_page_updates_live_and_its_kill_button_halts_the_engine(
    engine: tuple[str, str],
) -> None:
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, token = engine
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    try:
        browser.get(f"{url}/?token={token}")
        wait = WebDriverWait(browser, 30)
        wait.until(lambda b: b.find_element(By.ID, "updated").text != "never")
        first = browser.find_element(By.ID, "updated").text
        wait.until(lambda b: b.find_element(By.ID, "updated").text != first)  # pushed again
        assert browser.find_element(By.ID, "state").text == "ACTIVE"
        assert "binance" in browser.find_element(By.ID, "venues").text
        browser.find_element(By.ID, "kill").click()
        wait.until(lambda b: b.find_element(By.ID, "state").text == "HALTED")
        assert "200" in browser.find_element(By.ID, "answer").text
        # the event log's halt reached the page over the socket
        wait.until(lambda b: "trading HALTED by http (web)" in b.find_element(By.ID, "events").text)
    finally:
        browser.quit()
    with urllib.request.urlopen(url + "/status", timeout=10) as response:
        status = json.loads(response.read())
    assert status["trading_state"] == "HALTED"
    assert "http (web)" in status["state_reason"]
