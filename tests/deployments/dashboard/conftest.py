"""The dashboard as a real server (``verdictflow dashboard`` in a subprocess) and a browser.

One server on a filled SQLite database and one on an empty database, per module; Debian's
Chromium driven by Playwright (as tests/deployments/test_served.py drives the Prefect UI).
"""

from __future__ import annotations

import os
import re
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from deployments.server import stop_process_group
from tests.deployments.dashboard import data
from tests.deployments.servers import REPO, free_port


@contextmanager
def dashboard_server(home: Path, url: str, log: Path, timeout_s: float = 120) -> Iterator[str]:
    """``verdictflow dashboard`` on a free port over ``url``; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "VERDICTFLOW_HOME": str(home),
        "VERDICTFLOW_DATABASE_URL": url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PYTHONPATH": str(REPO),
    }
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [str(REPO / ".venv" / "bin" / "verdictflow"), "dashboard", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"dashboard did not start (exit {process.poll()}):\n"
                    + log.read_text(errors="replace")[-3000:]
                )
            time.sleep(0.3)
        yield base
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The test database (``data.build``) and a dashboard serving it."""
    tmp = tmp_path_factory.mktemp("dashboard")
    home = tmp / "home"
    home.mkdir()
    url = f"sqlite:///{home / 'verdictflow.db'}"
    data.build(url, home / "lancedb")
    with dashboard_server(home, url, tmp / "dashboard.log") as base:
        yield {"base": base, "db": home / "verdictflow.db", "tmp": tmp}


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A dashboard over a database that holds nothing yet."""
    tmp = tmp_path_factory.mktemp("dashboard-empty")
    home = tmp / "home"
    home.mkdir()
    with dashboard_server(home, f"sqlite:///{home / 'empty.db'}", tmp / "dashboard.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium under Playwright (never a downloaded browser)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=60_000)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser) -> Iterator:
    """A fresh tab, tall enough that a whole page shows in a screenshot."""
    tab = browser.new_page(viewport={"width": 1500, "height": 2400})
    tab.set_default_timeout(60_000)
    try:
        yield tab
    finally:
        tab.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go (VERDICTFLOW_TEST_SCREENSHOTS, else a temporary folder)."""
    folder = Path(
        os.environ.get("VERDICTFLOW_TEST_SCREENSHOTS") or tmp_path_factory.mktemp("shots")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def metric(page, label: str):
    """The value element of the st.metric labelled exactly ``label``."""
    name = page.locator("[data-testid=stMetricLabel]", has_text=re.compile(f"^{re.escape(label)}$"))
    return (
        page.locator("[data-testid=stMetric]")
        .filter(has=name)
        .locator("[data-testid=stMetricValue]")
    )


def settle(page) -> None:
    """Wait until the app's script run is over and every element has drawn (screenshots)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')"
        " && !document.querySelector('[data-testid=stSkeleton]')"
    )


def table_cells(page, key_text: str) -> list[str]:
    """The cell texts of the first data grid holding ``key_text`` (its accessible table)."""
    grid = page.locator("[data-testid=stDataFrame]").filter(has_text=key_text).first
    return [c.strip() for c in grid.locator("table td").all_inner_texts()]


def fully_visible(locator) -> bool:
    """Whether both ends of the element are what the page shows at their place: not
    clipped by a scrolling or hidden-overflow parent, not covered by anything else."""
    return locator.evaluate(
        """el => {
            const r = el.getBoundingClientRect();
            if (!r.width || !r.height) return false;
            const y = r.top + r.height / 2;
            return [r.left + 2, r.right - 2].every(x => {
                const hit = document.elementFromPoint(x, y);
                return hit !== null && (hit === el || el.contains(hit));
            });
        }"""
    )


def click_row(page, grid, row: int) -> None:
    """Select data row ``row`` of a st.dataframe (its row-marker column; rows are 35 px)."""
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 16, box["y"] + 35 * (row + 1) + 17)
