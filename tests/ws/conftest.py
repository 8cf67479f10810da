"""Fixtures for the ws tests: run each test over the C accelerator and over pure Python.

``impl`` switches ``ws.mask``, ``ws.utf8``, ``ws.frames`` and the frame scanner of
``ws.protocol`` to one path for the test's duration. The C
case is skipped when the extension was not built; with ``WHALEWIRE_REQUIRE_SPEEDUPS=1``
(CI) a test in ``test_mask.py`` fails instead.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from whalewire.ws import frames, mask, protocol, utf8

HAVE_C = mask._HAVE_C


@pytest.fixture(params=["c", "python"])
def impl(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test with the C accelerator, then with pure Python."""
    name: str = request.param
    if name == "c" and not HAVE_C:
        pytest.skip("whalewire.ws._speedups is not built")
    old_mask = mask.use_speedups(name == "c")
    old_utf8 = utf8.use_speedups(name == "c")
    old_scan = protocol.use_speedups(name == "c")
    old_frames = frames.use_speedups(name == "c")
    try:
        yield name
    finally:
        mask.use_speedups(old_mask)
        utf8.use_speedups(old_utf8)
        protocol.use_speedups(old_scan)
        frames.use_speedups(old_frames)
