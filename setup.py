"""Build the optional C accelerator; the pure-Python fallback keeps working without it.

Set WHALEWIRE_NO_SPEEDUPS=1 to skip the build. The build is `optional`, so a machine with no
C compiler still installs; `whalewire.ws.mask.SPEEDUPS` says which path is live.
"""

import os
import sys

from setuptools import Extension, setup

# Headers shared by the extensions (src/whalewire/_c: the mask-key pool, masking, UTF-8, the
# frame header, CPython helpers, the watch set's interface): one copy of each rule, included
# by every extension that needs it, never one .c file including another. Listed in each
# extension's depends, so an edit rebuilds it and the sdist carries them.
C_DIR = "src/whalewire/_c"
MASKPOOL = f"{C_DIR}/maskpool.h"
WSFRAME = [f"{C_DIR}/{h}" for h in ("wsframe.h", "wsmask.h")]
WSCORE = [*WSFRAME, f"{C_DIR}/utf8dfa.h", f"{C_DIR}/pyview.h"]


def optional_ext(
    name: str, source: str | list[str], depends: list[str], opt: str, **kw: list[str]
) -> Extension:
    """An extension the install survives without (the Python fallback takes over)."""
    return Extension(
        name,
        sources=[source] if isinstance(source, str) else source,
        include_dirs=[C_DIR],
        depends=depends,
        extra_compile_args=[opt],
        optional=True,
        **kw,
    )


ext_modules = []
if os.environ.get("WHALEWIRE_NO_SPEEDUPS") != "1":
    # ws: masking, UTF-8, frame building and scanning; pure computation, no I/O
    ext_modules.append(
        optional_ext("whalewire.ws._speedups", "src/whalewire/ws/_speedups.c", WSCORE, "-O3")
    )
    # venues: a book side's level loop (venues.books falls back to Python without it)
    ext_modules.append(
        optional_ext("whalewire.venues._books", "src/whalewire/venues/_books.c", [], "-O2")
    )
    # net: the transport's socket-facing objects (write_frame, PlainReader, DirectSender)
    ext_modules.append(
        optional_ext("whalewire.net._io", "src/whalewire/net/_io.c", [MASKPOOL, *WSCORE], "-O3")
    )
    if sys.platform == "linux":
        # the order hot path (venues.templates falls back to Python without it)
        ext_modules.append(
            optional_ext(
                "whalewire.venues._hotpath",
                "src/whalewire/venues/_hotpath.c",
                [MASKPOOL, *WSFRAME, f"{C_DIR}/tlssend.h"],
                "-O2",
                libraries=["crypto"],
            )
        )
        # TLS by OpenSSL on the socket's fd (whalewire.net.nativetls falls back to asyncio's ssl)
        ext_modules.append(
            optional_ext(
                "whalewire.net._tls",
                "src/whalewire/net/_tls.c",
                [f"{C_DIR}/tlssend.h"],
                "-O2",
                libraries=["ssl", "crypto"],
            )
        )
        # the io_uring send backend (whalewire.net.uring falls back to sockets without it)
        ext_modules.append(
            optional_ext("whalewire.net._uring", "src/whalewire/net/_uring.c", [], "-O2")
        )
        # whale detection's scan, txid, input keys and the compact watch set (Python fallback)
        ext_modules.append(
            optional_ext(
                "whalewire.mempool._scan",
                ["src/whalewire/mempool/_scan.c", "src/whalewire/mempool/_watchset.c"],
                [f"{C_DIR}/watchset.h", f"{C_DIR}/txread.h"],
                "-O2",
                libraries=["crypto"],
            )
        )

        # the address learner's block walk (whalewire.addresses.walk falls back to Python)
        ext_modules.append(
            optional_ext(
                "whalewire.addresses._ingest",
                "src/whalewire/addresses/_ingest.c",
                [f"{C_DIR}/txread.h"],
                "-O2",
                libraries=["crypto"],
            )
        )

setup(ext_modules=ext_modules)
