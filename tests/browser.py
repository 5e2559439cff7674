"""Debian's chromium, headless, driven by selenium through Debian's chromium-driver; every process it starts is
ended and checked gone; full-page screenshots at phone and desktop widths."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

ARTIFACTS = Path(__file__).parent / "artifacts" / "hub"
WIDTHS = (1280, 390)
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def descendants(pid: int) -> set[int]:
    """Every live process under `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def chromium() -> Iterator[object]:
    """A headless chromium (as root: --no-sandbox); quits it and asserts no browser process is left."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("chromium and chromium-driver are not installed (scripts/setup.sh installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="dy-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", f"--user-data-dir={profile}", "--no-first-run",
                "--disable-extensions", "--hide-scrollbars", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    service = Service(CHROMEDRIVER)
    driver = webdriver.Chrome(service=service, options=options)
    driver_pid = service.process.pid
    started = descendants(driver_pid) | {driver_pid}
    try:
        yield driver
    finally:
        driver.quit()
        deadline = time.time() + 15
        while time.time() < deadline and any(alive(p) for p in started):
            time.sleep(0.1)
        left = [p for p in started if alive(p)]
        shutil.rmtree(profile, ignore_errors=True)
        assert not left, f"browser processes left behind: {left}"


def screenshot(driver, name: str) -> list[Path]:
    """The whole page at every width in WIDTHS, as tests/artifacts/hub/<name>-<width>.png (paths printed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    saved = []
    for width in WIDTHS:
        driver.set_window_size(width, 900)
        height = driver.execute_script("return Math.max(document.documentElement.scrollHeight, 600)")
        driver.set_window_size(width, min(int(height) + 200, 6000))
        driver.execute_script("window.scrollTo(0, 0)")
        path = ARTIFACTS / f"{name}-{width}.png"
        driver.save_screenshot(str(path))
        saved.append(path)
        print(f"screenshot: {path}")
    driver.set_window_size(1280, 900)
    return saved
