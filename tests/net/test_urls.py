"""WebSocket URLs, RFC 6455 §3: ws/wss schemes, default ports, request target, no fragment."""

from __future__ import annotations

import pytest

from whalewire.net.urls import WebSocketURL, parse_url


@pytest.mark.parametrize(
    ("url", "expected", "host_header"),
    [
        ("ws://example.com", WebSocketURL(False, "example.com", 80, "/"), "example.com"),
        ("wss://example.com/", WebSocketURL(True, "example.com", 443, "/"), "example.com"),
        (
            "ws://127.0.0.1:9001/runCase?case=1&agent=w",
            WebSocketURL(False, "127.0.0.1", 9001, "/runCase?case=1&agent=w"),
            "127.0.0.1:9001",
        ),
        ("WS://[::1]:8080/x", WebSocketURL(False, "::1", 8080, "/x"), "[::1]:8080"),
        ("wss://h:443/a", WebSocketURL(True, "h", 443, "/a"), "h"),
    ],
)
def test_parse_url(url: str, expected: WebSocketURL, host_header: str) -> None:
    parsed = parse_url(url)
    assert parsed == expected
    assert parsed.host_header == host_header


@pytest.mark.parametrize(
    "url", ["http://h/", "ws://h/#frag", "ws://user:pw@h/", "ws:///path", "h:80"]
)
def test_parse_url_rejects(url: str) -> None:
    with pytest.raises(ValueError):
        parse_url(url)
