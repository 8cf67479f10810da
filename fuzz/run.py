"""Fuzz every harness for a bounded time; exit 1 on any finding (crash, timeout, or OOM).

    python -m fuzz.run                      # every harness, ~4.5 min on 2 cores
    python -m fuzz.run --seconds 600 ws_protocol
    python -m fuzz.run --write-seeds        # (re)write each corpus's seed files from seeds()
    python -m fuzz.run --merge              # then keep what added coverage in the corpora
    python -m fuzz.run --check-pending      # which open findings (fuzz/pending/) are fixed now

Each harness runs in its own process (``python -m fuzz.<name>``, libFuzzer's flags), reading
its committed corpus ``fuzz/corpus/<name>/`` and writing what it discovers to a scratch
folder, so a run never changes the repository. A finding is saved under ``--findings``
(default ``fuzz/findings/``) as ``<harness>-crash-<sha1>``; replay it with
``python -m fuzz.<harness> <file>``. Add it to the corpus only once the defect is fixed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fuzz import HARNESSES

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
#: findings whose defect is not fixed yet, by harness: not replayed by the tests
PENDING = HERE / "pending"
#: the longest one input may run before libFuzzer calls it a finding (a stall), in seconds
INPUT_TIMEOUT_S = 10


def _environment() -> dict[str, str]:
    """Let libFuzzer's children (-merge, -fork) run a harness as a script: they execute the
    harness file itself, whose ``#!/usr/bin/env python3`` must find this interpreter, and
    whose ``from fuzz...`` imports must find the repository."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = f"{HERE.parent}{os.pathsep}{env.get('PYTHONPATH', '')}"
    return env


def write_seeds(names: list[str]) -> int:
    """Write each harness's ``seeds()`` that pass into its corpus; report those that fail.

    A seed that fails is a finding (often a known open defect): it joins the corpus only
    once the defect is fixed, so that every test run's replay stays green meanwhile.
    """
    failing = 0
    for name in names:
        module = importlib.import_module(f"fuzz.{name}")
        folder = CORPUS / name
        folder.mkdir(parents=True, exist_ok=True)
        seeds = module.seeds()
        for seed, data in seeds.items():
            try:
                module.test_one_input(data)
            except Exception as exc:
                failing += 1
                print(f"FINDING {name} seed {seed}: {exc!r:.300}\n    input: {data.hex()}")
                continue
            (folder / f"seed-{seed}").write_bytes(data)
        print(f"{name}: {len(seeds)} seeds")
    return failing


def check_pending() -> int:
    """Replay each open finding; move the fixed ones into their corpus. Return how many fail."""
    failing = 0
    for path in sorted(PENDING.glob("*/*")):
        name = path.parent.name
        module = importlib.import_module(f"fuzz.{name}")
        try:
            module.test_one_input(path.read_bytes())
        except Exception as exc:  # a finding still open: reported
            failing += 1
            print(f"open   {name}/{path.name}: {exc!r:.200}")
            continue
        path.rename(CORPUS / name / path.name)
        print(f"fixed  {name}/{path.name}: moved into fuzz/corpus/{name}/")
    return failing


def fuzz_one(name: str, seconds: int, findings: Path, scratch: Path) -> tuple[str, int, str]:
    """Fuzz one harness; return (name, exit status, libFuzzer's last status line)."""
    work = scratch / name
    work.mkdir(parents=True, exist_ok=True)
    command = [
        sys.executable,
        "-m",
        f"fuzz.{name}",
        f"-max_total_time={seconds}",
        f"-timeout={INPUT_TIMEOUT_S}",
        "-rss_limit_mb=2048",
        "-max_len=8192",
        f"-artifact_prefix={findings}/{name}-",
    ]
    tokens = HERE / "dict" / f"{name}.dict"
    if tokens.exists():  # the format's keywords, which random mutation rarely spells
        command.append(f"-dict={tokens}")
    command += [str(work), str(CORPUS / name)]
    log = scratch / f"{name}.log"
    with log.open("wb") as out:
        status = subprocess.call(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=HERE.parent, env=_environment()
        )
    lines = log.read_text(errors="replace").splitlines()
    done = [line for line in lines if line.startswith(("Done ", "#"))]
    summary = done[-1] if done else ""
    if status != 0:
        tail = "\n    ".join(lines[-25:])
        summary = f"{summary}\n    {tail}"
    return name, status, summary


def merge(name: str, scratch: Path) -> None:
    """Add the inputs of a run that reach new coverage to the committed corpus (-merge=1)."""
    command = [sys.executable, "-m", f"fuzz.{name}", "-merge=1", str(CORPUS / name)]
    subprocess.call(
        [*command, str(scratch / name)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=HERE.parent,
        env=_environment(),
    )


def main(argv: list[str] | None = None) -> int:
    """Run the harnesses named (default: all) and report; return 1 on any finding."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("harnesses", nargs="*", help=f"default: all of {', '.join(HARNESSES)}")
    parser.add_argument("--seconds", type=int, default=50, help="per harness (default 50)")
    parser.add_argument("--jobs", type=int, default=2, help="harnesses at once (default 2)")
    parser.add_argument("--findings", type=Path, default=HERE / "findings")
    parser.add_argument("--write-seeds", action="store_true")
    parser.add_argument(
        "--check-pending", action="store_true", help="replay fuzz/pending/, keep the fixed ones"
    )
    parser.add_argument(
        "--merge", action="store_true", help="add inputs that reach new coverage to the corpora"
    )
    args = parser.parse_args(argv)
    names = list(args.harnesses) or list(HARNESSES)
    unknown = set(names) - set(HARNESSES)
    if unknown:
        parser.error(f"no such harness: {', '.join(sorted(unknown))}")
    if args.write_seeds:
        return 1 if write_seeds(names) else 0
    if args.check_pending:
        return 1 if check_pending() else 0
    args.findings.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="whalewire-fuzz-") as tmp,
        ThreadPoolExecutor(args.jobs) as pool,
    ):
        results = list(
            pool.map(lambda n: fuzz_one(n, args.seconds, args.findings.resolve(), Path(tmp)), names)
        )
        if args.merge:
            for name, status, _ in results:
                if status == 0:
                    merge(name, Path(tmp))
    failed = [name for name, status, _ in results if status != 0]
    for name, status, summary in results:
        print(f"{'FINDING' if status else 'ok':8} {name}: {summary}")
    print(f"fuzz: {args.seconds} s per harness, {time.monotonic() - started:.0f} s in all")
    if failed:
        print(f"fuzz: findings in {args.findings}: {', '.join(failed)}")
    # the plain closing line a CI reader counts ("N passed, N failed")
    print(f"fuzz: {len(names) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
