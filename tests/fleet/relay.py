"""A delaying TCP relay standing in for the distance between regions (this kernel has no netem).

Listens on a loopback (or namespace-local) address and forwards each accepted connection to
one target, holding every chunk for ``delay_s`` in each direction before writing it on, in
order. Bounded: at most ``max_connections`` at once and ``max_buffer`` bytes queued per
direction (reading pauses above it). ``cut()`` stands in for a partition: every connection
is dropped and new ones are refused until ``heal()``. Loopback and addresses this test
created only: it never forwards off the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

_LOCAL_PREFIXES = ("127.", "10.77.")


class DelayRelay:
    """Forward ``listen`` → ``target`` with ``delay_s`` added each way."""

    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        delay_s: float = 0.0,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        max_connections: int = 64,
        max_buffer: int = 4 << 20,
    ) -> None:
        for host in (target_host, listen_host):
            if not host.startswith(_LOCAL_PREFIXES):
                raise ValueError(f"relay addresses stay on this machine, not {host}")
        self.target = (target_host, target_port)
        self.delay_s = delay_s
        self.listen_host = listen_host
        self.listen_port = listen_port
        self.max_connections = max_connections
        self.max_buffer = max_buffer
        self.cut_off = False
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """``nats://host:port`` of the relay's listening side."""
        return f"nats://{self.listen_host}:{self.listen_port}"

    async def start(self) -> None:
        """Start listening."""
        self._server = await asyncio.start_server(self._accept, self.listen_host, self.listen_port)
        self.listen_port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
        self._drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    def cut(self) -> None:
        """Partition: drop every connection and refuse new ones until ``heal``."""
        self.cut_off = True
        self._drop_all()

    def heal(self) -> None:
        """End the partition."""
        self.cut_off = False

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut_off or self.connections >= self.max_connections:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._writers |= {writer, up_writer}
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            for w in (writer, up_writer):
                w.transport.abort()
                self._writers.discard(w)
            self._tasks.difference_update(pumps)
            self.connections -= 1

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        queue: deque[tuple[float, bytes]] = deque()
        queued = 0
        arrived = asyncio.Event()

        async def deliver() -> None:
            nonlocal queued
            while True:
                while not queue:
                    arrived.clear()
                    await arrived.wait()
                due, chunk = queue[0]
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                queue.popleft()
                queued -= len(chunk)
                if not chunk:
                    return
                writer.write(chunk)
                await writer.drain()

        sender = asyncio.create_task(deliver())
        try:
            while True:
                while queued > self.max_buffer:
                    await asyncio.sleep(0.001)
                chunk = await reader.read(65536)
                queue.append((time.monotonic() + self.delay_s, chunk))
                queued += len(chunk)
                arrived.set()
                if not chunk:
                    break
            await sender
        finally:
            sender.cancel()
