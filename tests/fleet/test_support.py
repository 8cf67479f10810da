"""The test infrastructure itself, on real parts: NATS nodes, the cluster, the relay, netns."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time

import nats
import pytest
from tests.fleet.support import DelayRelay, Host, netns_available

from whalewire.fleet.natsserver import NatsServer


async def test_single_node_serves_core_nats_and_jetstream(nats_node: NatsServer) -> None:
    nc = await nats.connect(nats_node.url)
    try:
        js = nc.jetstream()
        await js.add_stream(name="T", subjects=["t.>"])
        ack = await js.publish("t.1", b"x", headers={"Nats-Msg-Id": "a"})
        again = await js.publish("t.1", b"x", headers={"Nats-Msg-Id": "a"})
        assert (ack.seq, again.seq, again.duplicate) == (1, 1, True)
    finally:
        await nc.close()


async def test_cluster_keeps_r3_stream_through_a_killed_node(
    nats_cluster: list[NatsServer],
) -> None:
    urls = [n.url for n in nats_cluster]
    nc = await nats.connect(urls, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    try:
        js = nc.jetstream(timeout=5)
        await js.add_stream(name="R", subjects=["r.>"], num_replicas=3)
        for i in range(5):
            await js.publish("r.x", str(i).encode())
        nats_cluster[0].kill()
        for i in range(5, 10):
            await _retry(lambda i=i: js.publish("r.x", str(i).encode()))
        nats_cluster[0].start()
        await nats_cluster[0].wait_ready_async(30)
        info = await _retry(lambda: js.stream_info("R"))
        assert info.state.messages == 10
        assert info.config.num_replicas == 3
    finally:
        await nc.close()


async def _retry(make, attempts: int = 50):  # type: ignore[no-untyped-def]
    for _ in range(attempts - 1):
        try:
            return await make()
        except Exception:
            await asyncio.sleep(0.2)
    return await make()


async def _echo_server() -> tuple[asyncio.Server, int]:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(1024):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_relay_adds_its_delay_each_way_and_keeps_order() -> None:
    server, port = await _echo_server()
    relay = DelayRelay("127.0.0.1", port, delay_s=0.05)
    await relay.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.listen_port)
        t0 = time.monotonic()
        writer.write(b"one,")
        writer.write(b"two")
        got = b""
        while len(got) < 7:
            got += await reader.read(100)
        rtt = time.monotonic() - t0
        assert got == b"one,two"
        assert 0.1 <= rtt < 0.5  # 50 ms each way
        writer.close()
    finally:
        await relay.close()
        server.close()


async def test_relay_cut_drops_connections_and_refuses_until_healed() -> None:
    server, port = await _echo_server()
    relay = DelayRelay("127.0.0.1", port)
    await relay.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", relay.listen_port)
        writer.write(b"a")
        assert await reader.read(10) == b"a"
        relay.cut()
        assert await asyncio.wait_for(reader.read(10), 2) == b""
        r2, _ = await asyncio.open_connection("127.0.0.1", relay.listen_port)
        assert await asyncio.wait_for(r2.read(10), 2) == b""
        relay.heal()
        r3, w3 = await asyncio.open_connection("127.0.0.1", relay.listen_port)
        w3.write(b"b")
        assert await asyncio.wait_for(r3.read(10), 2) == b"b"
        w3.close()
    finally:
        await relay.close()
        server.close()


def test_relay_refuses_addresses_off_this_machine() -> None:
    with pytest.raises(ValueError, match="stay on this machine"):
        DelayRelay("192.0.2.1", 4222)


def test_namespace_host_reaches_the_root_side_and_is_partitioned(
    nats_node: NatsServer, capsys: pytest.CaptureFixture[str]
) -> None:
    why = netns_available()
    if why is not None:
        with capsys.disabled():
            print(f"\n[fleet] network namespaces unavailable ({why}): loopback only")
        pytest.skip(f"network namespaces unavailable: {why}")
    host = Host(201)
    host.create()
    relay_loop = asyncio.new_event_loop()
    try:
        # a relay on the root side of the link, forwarding to the NATS node on loopback
        relay = DelayRelay("127.0.0.1", nats_node.port, listen_host=host.root_address)
        relay_loop.run_until_complete(relay.start())
        probe = (
            "import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 2);"
            "print(s.recv(4).decode())"
        )
        cmd = host.wrap([sys.executable, "-c", probe, host.root_address, str(relay.listen_port)])

        def run_probe() -> subprocess.CompletedProcess[str]:
            return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=10)

        done = relay_loop.run_until_complete(asyncio.to_thread(run_probe))
        assert done.stdout.strip() == "INFO"  # NATS greets with INFO, through veth and relay
        host.partition()
        cut = relay_loop.run_until_complete(asyncio.to_thread(run_probe))
        assert cut.returncode != 0
        relay_loop.run_until_complete(relay.close())
    finally:
        relay_loop.close()
        host.destroy()
