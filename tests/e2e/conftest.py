"""The browser tests' server: `paminn serve --demo-if-empty` with the simulator on, as a user runs it."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.e2e.browser import CHROMIUM, start_server


@pytest.fixture
def server(tmp_path):
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; .ci/run installs Debian's chromium")
        pytest.skip("the browser test needs Debian's chromium (apt-get install chromium)")
    port = free_port()
    proc = start_server(tmp_path, port)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)
