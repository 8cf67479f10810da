"""``python -m mutation``: mutation-test the money paths and gate on the kill rate.

Reads ``targets.toml`` (which module, which tests) and ``equivalent.toml`` (mutants accepted
as equivalent, each with its reason), makes the mutants, runs each target's own tests against
them (``runner``) and prints per target: mutants, equivalent, killed, survived, kill rate of
the non-equivalent ones, and every survivor with its line. Exit status 1 when a target's kill
rate is under ``--threshold`` (95 %), 2 when a baseline (the unmutated code) fails its tests.

Run from the repository root: ``.venv/bin/python -m mutation [TARGET...]`` runs every mutant;
``--ci`` runs the enabled targets with each one's seeded ``ci_sample``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mutation.cops import CMutant, cmutants, mutated_csource
from mutation.pyops import Mutant, mutants, mutated_source
from mutation.runner import CBuild, Job, Outcome, preload, run_jobs

__all__ = ["main"]

HERE = Path(__file__).parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Target:
    """One module under test, as ``targets.toml`` describes it."""

    name: str
    kind: str
    module: str
    path: Path
    tests: tuple[str, ...]
    ci_sample: int
    enabled: bool
    scopes: list[str] | None
    build: CBuild | None
    #: this target's gate, when it differs from --threshold (say why in targets.toml)
    threshold: float | None

    @classmethod
    def load(cls, name: str, raw: dict[str, Any]) -> Target:
        path = ROOT / raw["path"]
        build = None
        if raw["kind"] == "c":
            build = CBuild(
                module=raw["module"],
                source_dir=path.parent,
                include_dirs=tuple(ROOT / d for d in raw.get("include_dirs", [])),
                libraries=tuple(raw.get("libraries", [])),
                extra_sources=tuple(ROOT / f for f in raw.get("extra_sources", [])),
            )
        return cls(
            name=name,
            kind=raw["kind"],
            module=raw["module"],
            path=path,
            tests=tuple(raw["tests"]),
            ci_sample=int(raw.get("ci_sample", 0)),
            enabled=bool(raw.get("enabled", True)),
            scopes=raw.get("scopes", raw.get("functions")),
            build=build,
            threshold=float(raw["threshold"]) if "threshold" in raw else None,
        )

    def mutants(self) -> list[Mutant | CMutant]:
        source = self.path.read_text()
        if self.kind == "c":
            return list(cmutants(self.name, source, self.scopes))
        return list(mutants(self.name, source, self.scopes))

    def job(self, key: str, mutant: Mutant | CMutant | None, timeout: float) -> Job:
        source = self.path.read_text()
        if self.build is not None:
            code = source if mutant is None else mutated_csource(source, mutant)  # type: ignore[arg-type]
            return Job(key, self.tests, timeout, c=(self.build, code))
        if mutant is None:
            return Job(key, self.tests, timeout)
        code = mutated_source(source, mutant)  # type: ignore[arg-type]
        return Job(key, self.tests, timeout, python={self.module: (str(self.path), code)})


@dataclass
class Tally:
    """One target's result."""

    name: str
    generated: int = 0
    run: int = 0
    equivalent: int = 0
    killed: int = 0
    invalid: int = 0
    survivors: list[Mutant | CMutant] | None = None
    seconds: float = 0.0
    threshold: float = 95.0

    @property
    def counted(self) -> int:
        return self.killed + len(self.survivors or [])

    @property
    def rate(self) -> float:
        return 100.0 * self.killed / self.counted if self.counted else 100.0


def _load_targets() -> dict[str, Target]:
    raw = tomllib.loads((HERE / "targets.toml").read_text())
    return {name: Target.load(name, body) for name, body in raw.items()}


def _load_equivalents() -> dict[str, dict[str, str]]:
    raw = tomllib.loads((HERE / "equivalent.toml").read_text())
    return {name: dict(body) for name, body in raw.items()}


def _imported_by(test_files: list[str]) -> list[str]:
    """The project modules the test files import (the parent loads them once for all)."""
    found: list[str] = []
    for path in test_files:
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found += [n for n in names if n.split(".")[0] in ("whalewire", "tests")]
    return list(dict.fromkeys(found))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m mutation", description=__doc__.split("\n")[0])
    p.add_argument("targets", nargs="*", help="targets.toml names (default: the enabled ones)")
    p.add_argument("--ci", action="store_true", help="each target's seeded ci_sample, gated")
    p.add_argument("--sample", type=int, help="run this many mutants per target (seeded)")
    p.add_argument("--seed", type=int, default=23, help="sampling seed (default 23)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    p.add_argument(
        "--threshold",
        type=float,
        default=95.0,
        help="kill rate %% to pass (targets.toml may set its own)",
    )
    p.add_argument("--list", action="store_true", help="print the mutants, run nothing")
    p.add_argument("--show", metavar="IDENT", help="print the mutated source of one mutant")
    p.add_argument("--json", type=Path, help="write the results here")
    p.add_argument(
        "--rerun",
        type=Path,
        metavar="JSON",
        help="run only the survivors a previous --json recorded (after adding tests)",
    )
    return p.parse_args(argv)


def _pick(
    target: Target, all_mutants: list[Mutant | CMutant], count: int | None, seed: int
) -> list[Mutant | CMutant]:
    if not count or count >= len(all_mutants):
        return all_mutants
    rng = random.Random(f"{seed}:{target.name}")
    chosen = set(rng.sample(range(len(all_mutants)), count))
    return [m for i, m in enumerate(all_mutants) if i in chosen]


def _baseline(target: Target, workers: int, scratch: Path) -> float:
    """Run the unmutated code's tests; return their time (exit 2 if they fail)."""
    started = time.monotonic()
    (out,) = run_jobs([target.job(f"{target.name}-baseline", None, 600.0)], workers, scratch)
    if out.status != "survived":
        print(f"{target.name}: the unmutated code fails its own tests ({out.status})")
        raise SystemExit(2)
    return time.monotonic() - started


def _run_target(
    target: Target, args: argparse.Namespace, equivalents: dict[str, str], scratch: Path
) -> Tally:
    started = time.monotonic()
    every = target.mutants()
    gate = target.threshold if target.threshold is not None else args.threshold
    tally = Tally(target.name, generated=len(every), survivors=[], threshold=gate)
    idents = {m.ident for m in every}
    for stale in sorted(set(equivalents) - idents):
        print(f"  warning: equivalent.toml [{target.name}] names no mutant: {stale}")
    candidates = [m for m in every if m.ident not in equivalents]
    tally.equivalent = len(every) - len(candidates)
    count = args.sample if args.sample is not None else (target.ci_sample if args.ci else 0)
    if args.rerun is not None:
        before = json.loads(args.rerun.read_text()).get(target.name, {}).get("survived", [])
        candidates = [m for m in candidates if m.ident in set(before)]
    chosen = _pick(target, candidates, count, args.seed)
    base = _baseline(target, args.jobs, scratch)
    timeout = max(30.0, 5 * base + 10)
    jobs = [target.job(f"{target.name}-{i}", m, timeout) for i, m in enumerate(chosen)]
    by_key = {job.key: m for job, m in zip(jobs, chosen, strict=True)}
    done = 0

    def progress(out: Outcome) -> None:
        nonlocal done
        done += 1
        if sys.stdout.isatty():
            print(f"\r  {target.name}: {done}/{len(jobs)}", end="", flush=True)

    outcomes = run_jobs(jobs, args.jobs, scratch, progress)
    if sys.stdout.isatty():
        print("\r", end="")
    for out in outcomes:
        mutant = by_key[out.key]
        if out.status == "survived":
            assert tally.survivors is not None
            tally.survivors.append(mutant)
        elif out.status == "invalid":
            tally.invalid += 1
        else:
            tally.killed += 1
    tally.run = len(jobs)
    tally.seconds = time.monotonic() - started
    return tally


def _report(tally: Tally) -> None:
    threshold = tally.threshold
    verdict = "ok" if tally.rate >= threshold else f"BELOW {threshold:.0f} %"
    print(
        f"{tally.name:10} mutants {tally.generated:4}  equivalent {tally.equivalent:3}  "
        f"run {tally.run:4}  killed {tally.killed:4}  survived {len(tally.survivors or []):3}  "
        f"not built {tally.invalid:3}  kill rate {tally.rate:5.1f} %  "
        f"{tally.seconds:5.0f} s  {verdict}"
    )
    for m in sorted(tally.survivors or [], key=lambda m: m.line):
        print(f"    survived  line {m.line}: {m.ident}")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parse(argv)
    os.chdir(ROOT)
    targets = _load_targets()
    names = args.targets or [n for n, t in targets.items() if t.enabled]
    unknown = [n for n in names if n not in targets]
    if unknown:
        print(f"unknown targets: {', '.join(unknown)} (see mutation/targets.toml)")
        return 2
    equivalents = _load_equivalents()
    if args.list or args.show:
        for name in names:
            for m in targets[name].mutants():
                if args.show is None:
                    mark = "  (equivalent)" if m.ident in equivalents.get(name, {}) else ""
                    print(f"{name}  line {m.line}: {m.ident}{mark}")
                elif m.ident == args.show:
                    source = targets[name].path.read_text()
                    if isinstance(m, CMutant):
                        print(mutated_csource(source, m))
                    else:
                        print(mutated_source(source, m))
        return 0
    # SIGTERM (a CI timeout) unwinds like Ctrl-C: the children are killed, scratch removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    preload(_imported_by([t for name in names for t in targets[name].tests]))
    scratch = Path(tempfile.mkdtemp(prefix="whalewire-mutation-"))
    started = time.monotonic()
    tallies = []
    try:
        for name in names:
            tally = _run_target(targets[name], args, equivalents.get(name, {}), scratch)
            _report(tally)
            tallies.append(tally)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    wall = time.monotonic() - started
    print(f"total {wall:.0f} s on {args.jobs} workers")
    if args.json is not None:
        args.json.write_text(
            json.dumps(
                {
                    t.name: {
                        "mutants": t.generated,
                        "equivalent": t.equivalent,
                        "run": t.run,
                        "killed": t.killed,
                        "survived": [m.ident for m in t.survivors or []],
                        "kill_rate": round(t.rate, 1),
                        "seconds": round(t.seconds, 1),
                    }
                    for t in tallies
                },
                indent=2,
            )
        )
    failed = [
        f"{t.name} ({t.rate:.1f} < {t.threshold:.0f})" for t in tallies if t.rate < t.threshold
    ]
    if failed:
        print(f"kill rate under the gate: {', '.join(failed)}")
        return 1
    return 0
