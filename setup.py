"""Build the optional C accelerator; the pure-Python fallback keeps working without it.

Set WHALEWIRE_NO_SPEEDUPS=1 to skip the build. The build is `optional`, so a machine with no
C compiler still installs; `whalewire.ws.mask.SPEEDUPS` says which path is live.
"""

import os
import sys

from setuptools import Extension, setup

# Headers shared by the extensions (e.g. _c/maskpool.h, the mask-key pool) or by the files of
# one (ws/_speedups.h). Listed in each extension's depends, so an edit rebuilds it and the
# sdist carries them.
C_DIR = "src/whalewire/_c"
MASKPOOL = f"{C_DIR}/maskpool.h"

ext_modules = []
if os.environ.get("WHALEWIRE_NO_SPEEDUPS") != "1":
    ext_modules.append(
        Extension(
            "whalewire.ws._speedups",
            sources=["src/whalewire/ws/_speedups.c", "src/whalewire/ws/_speedups_io.c"],
            include_dirs=[C_DIR],
            depends=[MASKPOOL, "src/whalewire/ws/_speedups.h"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    )
    if sys.platform == "linux":
        # the Binance order hot path (venues.templates falls back to Python without it)
        ext_modules.append(
            Extension(
                "whalewire.venues._hotpath",
                sources=["src/whalewire/venues/_hotpath.c"],
                include_dirs=[C_DIR],
                depends=[MASKPOOL],
                libraries=["crypto"],
                extra_compile_args=["-O2"],
                optional=True,
            )
        )
        # the io_uring send backend (whalewire.net.uring falls back to sockets without it)
        ext_modules.append(
            Extension(
                "whalewire.net._uring",
                sources=["src/whalewire/net/_uring.c"],
                extra_compile_args=["-O2"],
                optional=True,
            )
        )
        # whale detection's scan, txid and input keys (mempool.whales falls back to Python)
        ext_modules.append(
            Extension(
                "whalewire.mempool._scan",
                sources=["src/whalewire/mempool/_scan.c", "src/whalewire/mempool/_watchset.c"],
                depends=["src/whalewire/mempool/_watchset.h"],
                libraries=["crypto"],
                extra_compile_args=["-O2"],
                optional=True,
            )
        )

setup(ext_modules=ext_modules)
