"""Run one module's tests against each of its mutants, in forked children, N at a time.

The parent imports pytest, the heavy third-party packages and what the test files import
once; each child (a fork, so no interpreter start-up) drops from ``sys.modules`` the mutated
module and every module that holds one of its objects (to a fixpoint, so nothing keeps the
original), puts an import hook in front of ``sys.meta_path`` that serves the mutant (Python
source compiled from memory, or a C extension built into a scratch directory), then runs
``pytest -x`` on the target's own test files with its output discarded. The work tree is
never written: Python mutants live in memory, C mutants and their builds in a scratch
directory removed afterwards.

A child's fate: exit 0 = the mutant survived; tests failed, collection failed, crash or
timeout = killed; ``BUILD_FAILED`` = the C mutant did not compile (not counted).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest
from hypothesis import settings

__all__ = ["BUILD_FAILED", "CBuild", "Job", "Outcome", "preload", "run_jobs"]

#: exit status of a child whose C mutant did not compile
BUILD_FAILED = 90
# packages every target's tests import: loaded once in the parent, shared by every fork
_PRELOAD = (
    "pytest",
    "_pytest.assertion.rewrite",
    "pytest_asyncio",
    "hypothesis",
    "hypothesis.strategies",
    "hypothesis.extra.pytestplugin",
    "msgspec",
    "cryptography.hazmat.primitives.asymmetric.ec",
    "cryptography.hazmat.primitives.asymmetric.ed25519",
    "cryptography.hazmat.primitives.asymmetric.rsa",
    "cryptography.hazmat.primitives.serialization",
    "embit.transaction",
    "embit.script",
)


def preload(modules: Sequence[str] = ()) -> None:
    """Import the shared third-party packages and ``modules`` in the parent, once."""
    for name in (*_PRELOAD, *modules):
        # a target whose tests need a missing one fails its baseline run, which says so
        with contextlib.suppress(Exception):
            importlib.import_module(name)


def _ours(name: str) -> bool:
    return name.split(".", 1)[0] in ("whalewire", "tests")


def _holds(module: ModuleType, gone: set[str], gone_objects: set[int]) -> bool:
    for key, value in list(vars(module).items()):
        if isinstance(value, ModuleType) and value.__name__ == f"{module.__name__}.{key}":
            continue  # a package's submodule attribute: re-importing the submodule resets it
        if id(value) in gone_objects:
            return True
        owner = getattr(value, "__module__", None) or type(value).__module__
        if owner in gone:
            return True
    return False


def _purge(targets: set[str]) -> None:
    """Forget ``targets`` and every loaded module of ours that holds one of their objects."""
    gone = {t for t in targets if t in sys.modules}
    while True:
        objects = {id(sys.modules[g]) for g in gone}
        more = {
            name
            for name, mod in list(sys.modules.items())
            if name not in gone and _ours(name) and mod is not None and _holds(mod, gone, objects)
        }
        if not more:
            break
        gone |= more
    for name in gone:
        module = sys.modules.pop(name)
        parent, _, attr = name.rpartition(".")
        # `from package import attr` reads the package's attribute before importing
        if parent in sys.modules and getattr(sys.modules[parent], attr, None) is module:
            delattr(sys.modules[parent], attr)


@dataclass(frozen=True)
class CBuild:
    """How to build one C extension module from a (mutated) source file."""

    module: str  #: e.g. ``whalewire.mempool._scan``
    source_dir: Path  #: the original file's directory (its quoted #includes)
    include_dirs: tuple[Path, ...] = ()
    libraries: tuple[str, ...] = ()
    flags: tuple[str, ...] = ("-O2",)
    #: other C files linked into the same extension, unmutated (``_scan`` + ``_watchset.c``)
    extra_sources: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Job:
    """One test run: ``python`` = {module: source} served from memory; ``c`` = a C source
    built into ``scratch`` and served in place of the extension (None: run unchanged)."""

    key: str
    tests: tuple[str, ...]
    timeout: float
    python: dict[str, tuple[str, str]] = field(default_factory=dict)  #: module -> (path, src)
    c: tuple[CBuild, str] | None = None  #: (build, mutated C source)


@dataclass(frozen=True)
class Outcome:
    """What happened to one job."""

    key: str
    status: str  #: "survived", "killed", "timeout", "crashed", "invalid"
    seconds: float


class _MemoryLoader(importlib.abc.Loader):
    def __init__(self, path: str, source: str) -> None:
        self.path, self.source = path, source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        module.__file__ = self.path
        exec(compile(self.source, self.path, "exec"), module.__dict__)


class _Override(importlib.abc.MetaPathFinder):
    """Serve the mutant's modules before any other finder can."""

    def __init__(self, sources: dict[str, tuple[str, str]], extensions: dict[str, str]) -> None:
        self.sources, self.extensions = sources, extensions

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname in self.sources:
            origin, source = self.sources[fullname]
            return importlib.util.spec_from_loader(
                fullname, _MemoryLoader(origin, source), origin=origin
            )
        if fullname in self.extensions:
            so = self.extensions[fullname]
            loader = importlib.machinery.ExtensionFileLoader(fullname, so)
            return importlib.util.spec_from_file_location(fullname, so, loader=loader)
        return None


def _build(build: CBuild, source: str, into: Path) -> str | None:
    """Compile ``source`` as ``build.module`` into ``into``; return the .so path or None."""
    into.mkdir(parents=True, exist_ok=True)
    stem = build.module.rsplit(".", 1)[1]
    c_file = into / f"{stem}.c"
    c_file.write_text(source)
    so = into / f"{stem}{sysconfig.get_config_var('EXT_SUFFIX')}"
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    cmd = [
        *cc,
        "-shared",
        "-fPIC",
        "-w",
        *build.flags,
        f"-I{sysconfig.get_paths()['include']}",
        f"-I{build.source_dir}",
        *(f"-I{d}" for d in build.include_dirs),
        str(c_file),
        *(str(extra) for extra in build.extra_sources),
        "-o",
        str(so),
        *(f"-l{lib}" for lib in build.libraries),
    ]
    done = subprocess.run(cmd, capture_output=True, check=False, timeout=120)
    return str(so) if done.returncode == 0 else None


def _child(job: Job, scratch: Path) -> NoReturn:
    code = 3
    try:
        os.setpgid(0, 0)  # its own group: a timeout kills whatever the tests started too
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        extensions: dict[str, str] = {}
        if job.c is not None:
            build, source = job.c
            so = _build(build, source, scratch / job.key.replace("/", "_"))
            if so is None:
                os._exit(BUILD_FAILED)
            extensions[build.module] = so
        _purge({*job.python, *extensions})
        sys.meta_path.insert(0, _Override(dict(job.python), extensions))
        # the same examples for every mutant, and no database written into the work tree
        settings.register_profile("mutation", database=None, derandomize=True, deadline=None)
        settings.load_profile("mutation")
        args = [*job.tests, "-x", "-q", "-p", "no:cacheprovider", "--no-header"]
        code = int(pytest.main(args))
    except BaseException:
        code = 3
    os._exit(code)


def run_jobs(
    jobs: Sequence[Job],
    workers: int,
    scratch: Path,
    on_done: Callable[[Outcome], None] | None = None,
) -> list[Outcome]:
    """Run ``jobs`` in up to ``workers`` forked children; return their outcomes in order."""
    running: dict[int, tuple[Job, float]] = {}
    try:
        return _run(jobs, running, workers=workers, scratch=scratch, on_done=on_done)
    finally:
        for pid in running:  # interrupted: leave no child (nor what it started) behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _run(
    jobs: Sequence[Job],
    running: dict[int, tuple[Job, float]],
    *,
    workers: int,
    scratch: Path,
    on_done: Callable[[Outcome], None] | None,
) -> list[Outcome]:
    pending = list(reversed(jobs))
    outcomes: dict[str, Outcome] = {}
    while pending or running:
        while pending and len(running) < workers:
            job = pending.pop()
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                _child(job, scratch)
            running[pid] = (job, time.monotonic())
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for cpid, (job, started) in list(running.items()):
                if now - started > job.timeout:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(cpid, signal.SIGKILL)
                    os.waitpid(cpid, 0)
                    del running[cpid]
                    out = Outcome(job.key, "timeout", now - started)
                    outcomes[job.key] = out
                    if on_done is not None:
                        on_done(out)
            time.sleep(0.01)
            continue
        if pid not in running:
            continue
        job, started = running.pop(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # anything the tests left behind
        shutil.rmtree(scratch / job.key.replace("/", "_"), ignore_errors=True)
        out = Outcome(job.key, _status(status), time.monotonic() - started)
        outcomes[job.key] = out
        if on_done is not None:
            on_done(out)
    return [outcomes[job.key] for job in jobs]


def _status(wait_status: int) -> str:
    if os.WIFSIGNALED(wait_status):
        return "crashed"
    code = os.WEXITSTATUS(wait_status)
    if code == 0:
        return "survived"
    if code == BUILD_FAILED:
        return "invalid"
    # any failure counts, a conftest that cannot import the mutant (4) included: the
    # unmutated baseline passed with the same arguments
    return "killed"
