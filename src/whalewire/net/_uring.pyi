"""Types of the io_uring send ring (``_uring.c``); built on Linux only, and optional."""

from collections.abc import Sequence

Buffer = bytes | bytearray | memoryview

DEFAULT_MSG_FLAGS: int
MSG_NOSIGNAL: int
MSG_WAITALL: int

class Ring:
    def __init__(
        self,
        entries: int = 64,
        sqpoll: bool = False,
        sqpoll_idle_ms: int = 1000,
        sqpoll_cpu: int = -1,
    ) -> None: ...
    @property
    def in_flight(self) -> int: ...
    @property
    def sqpoll(self) -> bool: ...
    @property
    def closed(self) -> bool: ...
    @property
    def entries(self) -> int: ...
    @property
    def capacity(self) -> int: ...
    @property
    def features(self) -> int: ...
    @property
    def sq_need_wakeup(self) -> bool: ...
    def send(
        self, fd: int, buffer: Buffer, flags: int | None = None, ordered: bool = False, /
    ) -> int: ...
    def queue(
        self,
        fd: int,
        buffer: Buffer,
        flags: int | None = None,
        link: bool = False,
        ordered: bool = False,
    ) -> int: ...
    def submit(self, wait_nr: int = 0) -> int: ...
    def submit_batch(
        self,
        fd: int,
        buffers: Sequence[Buffer],
        flags: int | None = None,
        link: bool = True,
        ordered: bool = False,
    ) -> list[int]: ...
    def reap(self) -> list[tuple[int, int]]: ...
    def ready(self) -> int: ...
    def register_eventfd(self, fd: int, /) -> None: ...
    def close(self) -> None: ...
    def fileno(self) -> int: ...
