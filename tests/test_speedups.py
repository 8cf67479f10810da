"""One speedups switch (``whalewire.speedups``): read from the environment once, honoured by all.

Each case starts a fresh interpreter, because the environment is read at import: with
``WHALEWIRE_NO_SPEEDUPS=1`` every accelerated module must run its pure-Python reference
(docs/topics/conformance.md), without it every built extension must be live; a WebSocket round trip
over loopback (client and server, masking, UTF-8, frames, the transport's reader and sender)
must work either way. ``WHALEWIRE_REQUIRE_SPEEDUPS=1`` turns a missing extension into a loud
import error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from whalewire import speedups

#: every module with a C path, and the extension it runs on
ACCELERATED = {
    "whalewire.ws.mask": "whalewire.ws._speedups",
    "whalewire.ws.utf8": "whalewire.ws._speedups",
    "whalewire.ws.frames": "whalewire.ws._speedups",
    "whalewire.ws.protocol": "whalewire.ws._speedups",
    "whalewire.ws.assembly": "whalewire.ws._speedups",
    "whalewire.net._protocol": "whalewire.net._io",
    "whalewire.net.nativetls": "whalewire.net._tls",
    "whalewire.venues.templates": "whalewire.venues._hotpath",
    "whalewire.venues.books": "whalewire.venues._books",
    "whalewire.mempool.tx": "whalewire.mempool._scan",
    "whalewire.mempool.whales": "whalewire.mempool._scan",
    "whalewire.addresses.walk": "whalewire.addresses._ingest",
}

# Run in the child: import every accelerated module, echo one text and one binary message
# through a real server and client on loopback, and report which path each module runs and
# which objects did the work.
PROBE = """
import asyncio, importlib, json
from whalewire import speedups
from whalewire.net import connect, echo_on_message, serve
from whalewire.ws import frames, mask, utf8

MODULES = %r
for name in MODULES:
    importlib.import_module(name)

async def round_trip():
    server = await serve(None, "127.0.0.1", 0, on_message=echo_on_message, deflate=False)
    async with server, asyncio.timeout(10):
        got = []
        done = asyncio.get_running_loop().create_future()
        def on_message(ws, message):
            got.append(message)
            if len(got) == 2:
                done.set_result(None)
        ws = await connect(f"ws://127.0.0.1:{server.port}/", deflate=False, on_message=on_message)
        ws.send("h\\u00e9llo \\u2603")
        ws.send(bytes(range(256)) * 3)
        await done
        c_sender = type(ws.send).__name__ == "DirectSender"
        c_reader = ws._proto._reader is not None
        await ws.close()
        return got, c_sender, c_reader

got, c_sender, c_reader = asyncio.run(round_trip())
print(json.dumps({
    "active": speedups.active(),
    "enabled": speedups.enabled(),
    "mask_is_python": mask.apply_mask is mask.py_apply_mask,
    "utf8_is_python": utf8.new_validator is utf8.PyUtf8Validator,
    "frames_is_python": frames.pack_frame is frames.py_pack_frame,
    "echo_ok": got == ["h\\u00e9llo \\u2603", bytes(range(256)) * 3],
    "c_sender": c_sender,
    "c_reader": c_reader,
}))
"""


def probe(**env: str) -> dict[str, object]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("WHALEWIRE_")}
    child_env.update(env)
    out = subprocess.run(
        [sys.executable, "-c", PROBE % (list(ACCELERATED),)],
        env=child_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def built(extension: str) -> bool:
    try:
        __import__(extension)
    except ImportError:
        return False
    return True


def test_no_speedups_runs_every_module_on_its_python_path() -> None:
    result = probe(WHALEWIRE_NO_SPEEDUPS="1")
    assert result["enabled"] is False
    assert result["active"] == dict.fromkeys(ACCELERATED, False)
    assert result["mask_is_python"] is True
    assert result["utf8_is_python"] is True
    assert result["frames_is_python"] is True
    assert result["c_sender"] is False and result["c_reader"] is False
    assert result["echo_ok"] is True


def test_default_runs_every_built_extension() -> None:
    if not built("whalewire.ws._speedups"):
        pytest.skip("the C extensions are not built")
    result = probe()
    assert result["enabled"] is True
    assert result["active"] == {m: built(ext) for m, ext in ACCELERATED.items()}
    assert result["mask_is_python"] is False
    assert result["utf8_is_python"] is False
    assert result["frames_is_python"] is False
    assert result["c_sender"] is True and result["c_reader"] is True
    assert result["echo_ok"] is True


def test_require_speedups_fails_loudly_on_a_missing_extension() -> None:
    code = "from whalewire import speedups; speedups.load('whalewire.ws._not_built')"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHALEWIRE_")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "WHALEWIRE_REQUIRE_SPEEDUPS": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode != 0
    assert "WHALEWIRE_REQUIRE_SPEEDUPS=1 but the C extension whalewire.ws._not_built" in out.stderr


def test_use_moves_every_registered_module_and_gives_back_the_old_setting() -> None:
    from whalewire.ws import frames, mask, protocol, utf8

    old = speedups.use(False)
    try:
        assert not any(speedups.active().values())
        assert not (mask.SPEEDUPS or utf8.SPEEDUPS or frames.SPEEDUPS or protocol.SPEEDUPS)
        assert speedups.use(True) is False
        for name in ("whalewire.ws.mask", "whalewire.ws.protocol"):
            assert speedups.active()[name] is built("whalewire.ws._speedups")
    finally:
        speedups.use(old)
