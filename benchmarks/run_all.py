"""Run every benchmark (each in its own process) and write ``benchmarks/RESULTS.md``.

Each script runs with ``--json``; this gathers their reports into one Markdown file: the machine, the date,
every target (met, missed, or not measured) with its numbers, then each benchmark's tables, notes and
profiles. ``nox -s bench`` runs this in a fresh environment.

Usage::

    python benchmarks/run_all.py [--only preprocess ctc_decode ...] [--setup-pyctcdecode] [--profile]
                                 [--output benchmarks/RESULTS.md]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import common
from common import Report, Table

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("preprocess", "ctc_decode", "inference", "training_step", "cold_start", "throughput")

INTRO = """# Benchmarks

Written by `python benchmarks/run_all.py` (or `nox -s bench`); every script in this folder also runs on its
own and prints its part (`python benchmarks/<name>.py`, `--json` for machine-readable output, `--rounds N` for
more repetitions). Every figure is a ratio to a baseline measured in the same run on the same machine, or an
absolute figure set against a target. Timed cases run in turn, round after round, and medians are reported.
Times are CPU time of the benchmark process (user + system, all its threads) unless a table says wall time:
on a shared machine another process taking turns on the same core stretches wall time at random, but not the
CPU time the work takes (`--clock wall` measures wall time instead). Inference and training run every
framework on the same number of threads (1 by default, `--threads`).
"""


def run(name: str, extra: list[str]) -> Report:
    """Run ``benchmarks/<name>.py --json`` and read its report."""
    common.log(f"=== {name} ===")
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(HERE / f"{name}.py"), "--json", *extra], stdout=subprocess.PIPE, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmarks/{name}.py failed (exit status {done.returncode})")
    start_of_json = done.stdout.find("\n{") + 1 if not done.stdout.startswith("{") else 0
    report = Report.from_json(json.loads(done.stdout[start_of_json:]))
    common.log(f"=== {name}: {time.monotonic() - start:.0f} s ===")
    return report


def results(reports: list[Report]) -> str:
    """The Markdown of ``RESULTS.md``."""
    machine = reports[0].machine
    parts = [INTRO]
    parts.append(f"**Machine:** {machine['description']}.  \n**Date:** {reports[0].date}.\n")
    if machine.get("other_processes"):
        parts.append(
            "Other processes using the CPU when the run started (share of one core): "
            + "; ".join(f"`{p}`" for p in machine["other_processes"])
            + ".\n"
        )
    summary = Table("All targets", ["benchmark", "target", "goal", "measured", "verdict"])
    for r in reports:
        summary.rows += [[r.name, t.name, t.goal, t.value, f"**{t.verdict}**"] for t in r.targets]
    parts.append(summary.markdown())
    parts += [r.markdown(level=2) for r in reports]
    return "\n".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    p.add_argument("--setup-pyctcdecode", action="store_true", help="create pyctcdecode's environment first")
    p.add_argument("--profile", action="store_true", help="profile lipread's cases in every benchmark")
    p.add_argument("--output", type=Path, default=HERE / "RESULTS.md", help="where to write (default: RESULTS.md here)")
    args = p.parse_args()
    reports = []
    for name in args.only or BENCHMARKS:
        extra = ["--profile"] if args.profile else []
        if name == "ctc_decode" and args.setup_pyctcdecode:
            extra.append("--setup-pyctcdecode")
        reports.append(run(name, extra))
    args.output.write_text(results(reports))
    print(args.output)


if __name__ == "__main__":
    main()
