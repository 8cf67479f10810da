"""Build the optional C accelerator; the pure-Python fallback keeps working without it.

Set WHALEWIRE_NO_SPEEDUPS=1 to skip the build. The build is `optional`, so a machine with no
C compiler still installs; `whalewire.ws.mask.SPEEDUPS` says which path is live.
"""

import os
import sys

from setuptools import Extension, setup

ext_modules = []
if os.environ.get("WHALEWIRE_NO_SPEEDUPS") != "1":
    ext_modules.append(
        Extension(
            "whalewire.ws._speedups",
            sources=["src/whalewire/ws/_speedups.c"],
            extra_compile_args=["-O3"],
            optional=True,
        )
    )
    if sys.platform == "linux":
        # the io_uring send backend (whalewire.net.uring falls back to sockets without it)
        ext_modules.append(
            Extension(
                "whalewire.net._uring",
                sources=["src/whalewire/net/_uring.c"],
                extra_compile_args=["-O2"],
                optional=True,
            )
        )

setup(ext_modules=ext_modules)
