"""Headless Chromium for tests: find it and dump a page's rendered DOM, no network."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def chromium() -> str:
    """Path of a Chromium binary (`$CHROMIUM` first); skips the test if there is none."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (apt-get install chromium, or set CHROMIUM=/path)")


def dump_dom(page: Path, budget_ms: int = 10000) -> str:
    """The DOM of `page` after its scripts ran, with every host name unresolvable."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--no-default-browser-check",
            "--host-resolver-rules=MAP * ~NOTFOUND",  # a CDN could not help
            f"--user-data-dir={profile}", f"--virtual-time-budget={budget_ms}",
            "--dump-dom", page.as_uri(),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, f"chromium failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return proc.stdout


def class_present(dom: str, cls: str) -> bool:
    """Whether an element with CSS class `cls` is in the DOM."""
    return re.search(r'class="[^"]*\b' + re.escape(cls) + r'\b[^"]*"', dom) is not None
