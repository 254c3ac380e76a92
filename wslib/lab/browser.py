"""A headless Chromium driven through Selenium, for the notebooks and tests that need a browser.

``start_chromium()`` returns a Selenium ``webdriver.Chrome`` with the series' flags
(:data:`wslib.lab.tools.CHROMIUM_FLAGS`: no sandbox, no GPU, nothing that reaches the network on
its own); call ``.quit()`` when done, or use ``with chromium_driver() as driver:``. Selenium
Manager is told never to download anything: the browser and its driver come from the system
(Debian: ``chromium``, ``chromium-driver``).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

from . import tools

__all__ = ["BrowserUnavailable", "chromium_driver", "start_chromium", "wait_until"]


class BrowserUnavailable(RuntimeError):
    """Chromium or chromedriver is missing: the message says how to install them."""


def start_chromium(*, page_load_timeout: float = 30, script_timeout: float = 30) -> Any:
    """Start a headless Chromium; raises :class:`BrowserUnavailable` without one."""
    browser, driver = tools.chromium(), tools.chromedriver()
    if not browser:
        raise BrowserUnavailable(f"Chromium is not installed: {browser.advice}")
    if not driver:
        raise BrowserUnavailable(f"chromedriver is not installed: {driver.advice}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser.detail
    for flag in tools.CHROMIUM_FLAGS:
        options.add_argument(flag)
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
    chrome = webdriver.Chrome(options=options, service=Service(driver.detail))
    chrome.set_page_load_timeout(page_load_timeout)
    chrome.set_script_timeout(script_timeout)
    return chrome


@contextlib.contextmanager
def chromium_driver(**options: float) -> Iterator[Any]:
    """``with chromium_driver() as driver:`` :func:`start_chromium`, always quit at the end."""
    chrome = start_chromium(**options)
    try:
        yield chrome
    finally:
        chrome.quit()


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll ``condition()`` (a page's state, say) until it is true; return its value, or raise
    :class:`TimeoutError` saying ``what`` did not happen within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {timeout:g} s")
        time.sleep(0.05)
